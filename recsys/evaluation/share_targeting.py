"""Share targeting against its baselines on held-out tasks (`share_splits`), and the
completion chance against the base rate.

Every method ranks **all** friends the contact rules allow for each held-out query (the
contact filter applies to every method alike), and is scored on the friends who actually
joined: Recall@5 and @10 (hits / min(k, joiners), so a joiner the rules removed still counts
against the method), NDCG@10 and MRR over the whole ranking. Baselines:

* random friend (seeded);
* tie strength: the number of the initiator's earlier groups the friend joined (ties in
  random order), or on data without groups the number of items the two share;
* item affinity only: the friend's CF score for the item.

Used by `bench/share_targeting.py` and by any report; imports the library, never training.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys.circles import CircleCatalogue
from recsys.contract import EventType
from recsys.datastore import DataDir
from recsys.errors import InvalidInputError
from recsys.evaluation.share_splits import ShareTask
from recsys.features.circle_engagement import user_circle_engagement
from recsys.idmap import IdMap
from recsys.metrics import ranking as m
from recsys.placement import CirclePlacer, HistoryFrequencyBaseline, history_counts
from recsys.placement.labels import InsufficientLabelsError
from recsys.recommenders.als import ALSRecommender
from recsys.social.completion import CompletionModel
from recsys.social.contact import pair_lookup
from recsys.social.history import ShareHistory
from recsys.social.share_features import FEATURES
from recsys.social.share_index import ShareIndex
from recsys.social.share_targeting import (
    ShareTargeter,
    ShareTargetingConfig,
    allowed_candidates,
    top_k,
)

logger = logging.getLogger(__name__)

METHODS = ("model", "random", "tie_strength", "item_affinity")


@dataclass
class ShareTargetingResult:
    """Metrics per exclusion setting and method, the completion check, and facts of the run."""

    metrics: dict[str, dict[str, dict[str, float]]]
    completion: dict[str, object] = field(default_factory=dict)
    facts: dict[str, object] = field(default_factory=dict)
    importance: dict[str, float] = field(default_factory=dict)
    targeter: ShareTargeter | None = None


def ranking_metrics(
    row: np.ndarray, friend: np.ndarray, score: np.ndarray, joined: sp.csr_matrix,
    tiebreak: np.ndarray,
) -> dict[str, float]:
    """Recall@5/@10, NDCG@10 and MRR of one scored candidate set, averaged over the queries
    with at least one joiner (whether or not the joiner is among the candidates)."""
    n_queries = joined.shape[0]
    width = max(10, int(np.bincount(row, minlength=n_queries).max(initial=0)))
    order = np.lexsort((tiebreak, -score, row))
    ids, _ = top_k(row[order], friend[order], -np.arange(len(order), dtype=np.float64),
                   n_queries, width)  # fmt: skip
    hits, n_rel = m.relevance_hits(ids, joined)
    has = n_rel > 0
    if not has.any():
        raise InvalidInputError("no held-out query has a joiner; share targeting is undefined")
    at5 = m.accuracy_per_user(hits[has], n_rel[has], 5)
    at10 = m.accuracy_per_user(hits[has], n_rel[has], 10)
    full = m.accuracy_per_user(hits[has], n_rel[has], width)
    return {
        "recall@5": float(at5["recall"].mean()),
        "recall@10": float(at10["recall"].mean()),
        "ndcg@10": float(at10["ndcg"].mean()),
        "mrr": float(full["mrr"].mean()),
        "queries": int(has.sum()),
    }


def interaction_matrix(history: ShareHistory, *, with_groups: bool) -> sp.csr_matrix:
    """(n_users, n_items) confidence for CF: item events (a purchase counts 8) and, with
    `with_groups`, group starts and joins (10 each), as the interaction log weighs them."""
    users = [history.event_user]
    items = [history.event_item]
    weights = [np.where(history.event_bought, 8.0, 1.0)]
    if with_groups:
        users += [history.group_initiator, history.join_user]
        items += [history.group_item, history.group_item[history.join_group]]
        weights += [np.full(history.n_groups, 10.0), np.full(len(history.join_user), 10.0)]
    return sp.csr_matrix(
        (np.concatenate(weights), (np.concatenate(users), np.concatenate(items))),
        shape=(history.n_users, history.n_items), dtype=np.float32,
    )


def fit_factors(matrix: sp.csr_matrix, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """ALS user and item factors of a confidence matrix (the training recipe's defaults:
    64 factors, regularisation 10, alpha 5); None for an empty matrix."""
    if not matrix.nnz:
        return None
    model = ALSRecommender(factors=64, regularization=10.0, alpha=5.0, iterations=15,
                           random_state=seed).fit(matrix, show_progress=False)  # fmt: skip
    return model.user_factors_, model.item_factors_


def evaluate_share_targeting(
    task: ShareTask,
    config: ShareTargetingConfig,
    *,
    circle_affinity: np.ndarray | None = None,
    ranker_factors: tuple[np.ndarray, np.ndarray] | None = None,
    baseline_factors: tuple[np.ndarray, np.ndarray] | None = None,
    exclusions: tuple[bool, ...] = (False, True),
    exclusion_window_days: float = 30.0,
    seed: int = 0,
) -> ShareTargetingResult:
    """Fit the targeter on `task.train` (stopped and calibrated on `task.valid`), rank every
    test query's allowed friends with it and the baselines, once per bought-before setting
    (on: friends who bought the item in the `exclusion_window_days` before are left out; the
    ranker itself learns with `config.bought_window_days`).

    `ranker_factors` feed the ranker's CF feature: they must not have seen the training
    groups' joins (their own outcome); `baseline_factors` only score test queries, so they
    may (the strongest fair item-affinity baseline).
    """
    started = time.perf_counter()
    uf, itf = ranker_factors if ranker_factors is not None else (None, None)
    index = ShareIndex(task.history, circle_affinity=circle_affinity, user_factors=uf,
                       item_factors=itf)  # fmt: skip
    targeter = ShareTargeter(config).fit(
        index, *task.train, valid_queries=task.valid[0], valid_joined=task.valid[1]
    )
    fit_s = time.perf_counter() - started
    queries, joined = task.test
    rng = np.random.default_rng(seed)
    base_uf, base_if = baseline_factors if baseline_factors is not None else (uf, itf)
    results: dict[str, dict[str, dict[str, float]]] = {}
    facts: dict[str, object] = {"fit_s": fit_s, "task": task.description}
    uncapped = config.model_copy(
        update={"max_suggestions": None, "bought_window_days": exclusion_window_days}
    )
    for exclude in exclusions:
        row, friend = allowed_candidates(index, queries, uncapped, exclude_bought=exclude)
        x = index.features(queries, row, friend)
        raw, _ = targeter.score(x)
        tiebreak = rng.random(len(row))
        has_groups = task.history.n_groups > 0
        tie = x[:, FEATURES.index("friend_joined_user_groups" if has_groups else "common_items")]
        if base_uf is not None and base_if is not None:
            affinity = np.einsum("ij,ij->i", base_uf[friend], base_if[queries.item[row]])
        else:
            affinity = x[:, FEATURES.index("friend_item_groups")]
        scores = {"model": raw, "random": rng.random(len(row)), "tie_strength": tie,
                  "item_affinity": affinity}  # fmt: skip
        key = "exclusion_on" if exclude else "exclusion_off"
        results[key] = {
            name: ranking_metrics(row, friend, s, joined, tiebreak) for name, s in scores.items()
        }
        facts[f"candidates_{key}"] = int(len(row))
        facts[f"joiners_among_candidates_{key}"] = float(
            pair_lookup(joined, row, friend).sum() / max(joined.nnz, 1)
        )
    facts |= {
        "test_queries": int(len(queries)), "test_joiners": int(joined.nnz),
        "train_queries": int(len(task.train[0])), "valid_queries": int(len(task.valid[0])),
        "rounds": targeter.best_iteration_, "seconds": time.perf_counter() - started,
    }  # fmt: skip
    gain = targeter.booster_.feature_importance("gain", iteration=targeter.best_iteration_)
    importance = dict(zip(FEATURES, (gain / max(gain.sum(), 1e-12)).round(4).tolist(),
                          strict=True))  # fmt: skip
    result = ShareTargetingResult(results, facts=facts, importance=importance, targeter=targeter)
    if task.test_groups:
        result.completion = evaluate_completion(task, index, targeter, config)
    return result


def evaluate_completion(
    task: ShareTask, index: ShareIndex, targeter: ShareTargeter, config: ShareTargetingConfig
) -> dict[str, object]:
    """Fit the completion chance on validation groups with an outcome, score it on test groups
    with one (open groups are left out), against the base-rate predictor."""
    valid_q, test_q = task.valid[0], task.test[0]
    facts_v, facts_t = task.valid_groups, task.test_groups
    known_v = np.isin(facts_v["status"], (1, 2))
    known_t = np.isin(facts_t["status"], (1, 2))
    if not (facts_v["status"] == 2).any() or not known_t.any():
        return {"skipped": "no failed groups with a known outcome (every group completed)"}
    uncapped = config.model_copy(update={"max_suggestions": None})
    expected = {}
    for name, q in (("valid", valid_q), ("test", test_q)):
        row, friend = allowed_candidates(index, q, uncapped)
        _, proba = targeter.score(index.features(q, row, friend))
        expected[name] = np.bincount(row, weights=proba, minlength=len(q))
    model = CompletionModel().fit(
        expected["valid"][known_v], facts_v["target_size"][known_v], facts_v["hours"][known_v],
        facts_v["status"][known_v] == 1,
    )
    proba = model.predict_proba(
        expected["test"][known_t], facts_t["target_size"][known_t], facts_t["hours"][known_t]
    )
    outcome = facts_t["status"][known_t] == 1
    mean_p, rate, count = reliability(proba, outcome)
    return {
        "groups": int(known_t.sum()), "completed": int(outcome.sum()),
        "brier_model": brier(proba, outcome),
        "brier_base_rate": brier(np.full(len(outcome), task.base_rate), outcome),
        "base_rate": task.base_rate,
        "reliability": {"mean_predicted": mean_p.tolist(), "observed": rate.tolist(),
                        "groups": count.tolist()},
        "model": model,
    }  # fmt: skip


def brier(proba: np.ndarray, outcome: np.ndarray) -> float:
    """Mean squared error of probabilities against 0/1 outcomes; in [0, 1], lower is better."""
    return float(np.mean((np.asarray(proba, np.float64) - np.asarray(outcome, np.float64)) ** 2))


def reliability(
    proba: np.ndarray, outcome: np.ndarray, n_bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin: mean predicted chance, observed rate, count (empty bins NaN, 0)."""
    proba = np.asarray(proba, np.float64)
    outcome = np.asarray(outcome, np.float64)
    b = np.minimum((proba * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(b, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(b, weights=proba, minlength=n_bins) / count
        rate = np.bincount(b, weights=outcome, minlength=n_bins) / count
    return mean_p, rate, count


def plot_reliability(curves: dict[str, dict[str, list]], path: str | Path, title: str) -> None:
    """Reliability diagram (predicted chance vs observed completion) of one or more runs."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    for label, c in curves.items():
        p, o, n = (np.asarray(c[k], np.float64) for k in ("mean_predicted", "observed", "groups"))
        ok = n > 0
        ax.plot(p[ok], o[ok], marker="o", label=label)
        for x, y, k in zip(p[ok], o[ok], n[ok], strict=True):
            ax.annotate(str(int(k)), (x, y), textcoords="offset points", xytext=(4, -10),
                        fontsize=7)  # fmt: skip
    ax.set_xlabel("predicted chance of completing")
    ax.set_ylabel("observed completion rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")


def circle_affinity_before(
    data: DataDir,
    users: IdMap,
    catalogue: CircleCatalogue,
    friends: sp.csr_matrix,
    user_factors: np.ndarray | None,
    cut: int,
    *,
    seed: int = 0,
) -> np.ndarray:
    """Circle affinities as circle placement would give them at time `cut` (microseconds):
    `CirclePlacer` on the engagement before it, or the history shares without enough UGC.

    The same source the feed and segments read; the cut keeps test-period joins out of it, and
    group starts and joins are left out (a training group's own joins would otherwise raise
    its joiners' affinity: a label in a feature, which test groups do not have).
    """
    before = datetime.fromtimestamp(cut / 1e6, tz=UTC)
    engagement = user_circle_engagement(
        data, users, catalogue, before=before,
        exclude_types=(EventType.GROUP_BUY_START, EventType.GROUP_BUY_JOIN),
    )  # fmt: skip
    try:
        placer = CirclePlacer(random_state=seed).fit(engagement, user_factors, friends)
        return placer.predict_proba(engagement, user_factors, friends)
    except InsufficientLabelsError:
        return HistoryFrequencyBaseline().predict_proba(history_counts(engagement))
