"""The training steps as small functions over arrays and a data directory.

`recsys.training.run` composes them in order; each returns what the next needs plus the metrics
it measured, so the manifest can record them. The content steps (item documents, encoder,
content -> factor map, cold-start report) are in `content_steps.py`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import scipy.sparse as sp

from recsys.bundle.parts.catalogue import ItemCatalogue
from recsys.candidate_lists import CandidateLists, build_candidate_lists
from recsys.circles import CircleCatalogue
from recsys.content.cold_start import choose_cold_items
from recsys.content.encoder import NoUsableTextError
from recsys.engine.base import TrainingEngine
from recsys.engine.local import LocalEngine
from recsys.errors import ContractError
from recsys.feeds.folds import user_sample
from recsys.idmap import IdMap
from recsys.index.recall import measure_recall
from recsys.index.vector_index import VectorIndex
from recsys.item_stats import users_per_item
from recsys.metrics.circles import placement_report
from recsys.metrics.ranking import ndcg_at_k, recall_at_k
from recsys.placement.baseline import HistoryFrequencyBaseline, history_counts
from recsys.placement.features import row_shares
from recsys.placement.labels import InsufficientLabelsError, ugc_labels
from recsys.placement.placer import SEGMENTS, CirclePlacer
from recsys.placement.plain_rule import (
    PLAIN_RULE_KIND,
    PLAIN_RULE_NAME,
    placement_subsets,
    plain_rule_members,
)
from recsys.recipe import TrainConfig
from recsys.recommenders.shipped import ShippedRecommender
from recsys.training.content_steps import ItemTexts, cold_start_report
from recsys.training.feed_step import tail_weight_on_validation

logger = logging.getLogger(__name__)


def candidate_lists(
    log: pd.DataFrame, items: ItemCatalogue, n_circles: int, config: TrainConfig
) -> CandidateLists:
    """Popular / trending / group-buy lists per circle from the log and the item catalogue
    (shared by training and the catalogue refresh)."""
    return build_candidate_lists(
        log,
        n_items=len(items),
        item_circle=np.asarray(items.circle_idx),
        is_group_buy=np.asarray(items.is_group_buy),
        is_listed=np.asarray(items.listed),
        n_circles=n_circles,
        head_share=config.lists.head_share,
        per_circle=config.lists.per_circle,
        trending_days=config.lists.trending_days,
    )


def fit_scorer(
    user_items: sp.csr_matrix, content: np.ndarray | None, config: TrainConfig
) -> ShippedRecommender:
    """The shipped scorer on the confidence matrix: the recipe's CF, content-mapped vectors for
    under-observed items, item-item neighbours when ``item_knn.weight > 0``."""
    return LocalEngine().fit_scorer(user_items, content, config)


def validation_fit(
    user_items: sp.csr_matrix,
    texts: ItemTexts,
    content: np.ndarray | None,
    items: ItemCatalogue,
    config: TrainConfig,
    purchases: sp.csr_matrix | None = None,
    *,
    engine: TrainingEngine | None = None,
) -> dict[str, object]:
    """One extra fit of the shipped scorer with held-out data, measuring what the final model
    cannot measure on itself.

    Hides (a) a per-user random share of interactions (`holdout_fraction`) for quick accuracy
    figures the promotion guard compares, ranked as the runtime ranks (same scorer, same
    `ExclusionRule`), and (b) every interaction of the newest share of items
    (`content.cold_item_share`) to measure how well content-mapped vectors place cold items;
    (b) is left out when the content map is skipped (`content` None). `engine` fits and ranks
    (default: this machine's, `LocalEngine`). The held-out users also pick the feed's default
    `tail_weight` (`recsys.training.feed_step`). Above `validation_max_users` users with
    pairs it runs on a seeded sample of them (`metrics.validation_users`).
    """
    engine = engine or LocalEngine()
    metrics: dict[str, object] = {}
    rows = user_sample(user_items, config.validation_max_users, config.seed + 3)
    if rows is not None:
        logger.info("validation fit on a sample of %d of %d users", len(rows), user_items.shape[0])
        user_items = sp.csr_matrix(user_items[rows])
        purchases = None if purchases is None else sp.csr_matrix(purchases[rows])
        metrics["validation_users"] = len(rows)
    item_category = items.category_codes()
    item_created = np.asarray(items.created_ts)
    rng = np.random.default_rng(config.seed)
    n_items = user_items.shape[1]
    coo = user_items.tocoo()
    hide_cells = rng.random(coo.nnz) < config.holdout_fraction
    cold = np.zeros(n_items, dtype=bool)
    if config.content.evaluate_cold_start and content is not None:
        try:
            cold[
                choose_cold_items(
                    users_per_item(user_items),
                    item_created,
                    share=config.content.cold_item_share,
                    min_users=2,
                    rng=rng,
                )
            ] = True
        except ContractError as exc:
            logger.warning("cold-start measurement skipped: %s", exc)
    cold_cells = cold[coo.col]
    keep = ~hide_cells & ~cold_cells
    train = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=coo.shape)
    model = engine.fit_scorer(train, content, config)

    if config.holdout_fraction > 0:
        test_mask = hide_cells & ~cold_cells
        test = sp.csr_matrix(
            (np.ones(test_mask.sum(), np.float32), (coo.row[test_mask], coo.col[test_mask])),
            shape=coo.shape,
        )
        users = np.flatnonzero(np.diff(test.indptr) > 0)
        if len(users) > config.holdout_max_users:
            users = np.sort(rng.choice(users, config.holdout_max_users, replace=False))
        # Training purchases are inside `train`; the full purchase record would leak held-out
        # cells, so the rule gets none. One ranking of the feed's pool serves both the holdout
        # (its top 10) and the tail weight (at 10M users each ranking of the 1M-item catalogue
        # took ~2 minutes).
        pool = min(config.feed.pool, n_items)
        ids, scores = engine.rank(
            model, users, train, max(pool, 10),
            unlisted=np.flatnonzero(~np.asarray(items.listed)),
            exclude_items=np.flatnonzero(cold),
        )  # fmt: skip
        metrics["holdout"] = {
            "ndcg@10": float(ndcg_at_k(ids[:, :10], test[users], 10)),
            "recall@10": float(recall_at_k(ids[:, :10], test[users], 10)),
            "users": int(len(users)),
        }
        metrics["feed"] = tail_weight_on_validation(
            ids[:, :pool], scores[:, :pool], train, test, users,
            is_group_buy=np.asarray(items.is_group_buy, dtype=bool), config=config,
        )
    if cold.any():
        hidden = sp.csr_matrix(
            (coo.data[cold_cells], (coo.row[cold_cells], coo.col[cold_cells])), shape=coo.shape
        )
        try:
            metrics["cold_start"] = cold_start_report(
                model, train, hidden, cold, texts, item_category, config, purchases
            )
        except NoUsableTextError as exc:  # the warm items' text alone may not tell them apart
            logger.warning("cold-start measurement skipped: %s", exc)
    return metrics


def place_users(
    user_factors: np.ndarray,
    engagement: dict[str, sp.csr_matrix],
    catalogue: CircleCatalogue,
    config: TrainConfig,
    truth: tuple[np.ndarray, np.ndarray] | None = None,
    friends: sp.csr_matrix | None = None,
) -> tuple[CirclePlacer | None, np.ndarray, np.ndarray, dict[str, object]]:
    """Fit the placer on UGC-labelled users, place everyone, and report against planted truth.

    Data without enough UGC-labelled users (public data sets have no posts) cannot teach the
    placer: everyone is then placed by the history-frequency rule (circle shares of their own
    events, members at a fixed share), returned with placer None and said in the metrics.
    """
    labels, labelled = ugc_labels(engagement["posts_written"], engagement["posts_engaged"])
    history = history_counts(engagement)
    baseline = HistoryFrequencyBaseline(min_members=config.placement.min_members).fit(
        history, labels, labelled
    )
    placer: CirclePlacer | None = CirclePlacer(
        C=config.placement.C,
        calibration=config.placement.calibration,
        min_members=config.placement.min_members,
        random_state=config.seed,
    )
    metrics: dict[str, object] = {"labelled_users": int(labelled.sum())}
    try:
        affinities = placer.fit_predict_proba(engagement, user_factors, friends)
        members = placer.members_from_proba(affinities, engagement)
        metrics["method"] = "learned" + (" with friends" if friends is not None else "")
    except InsufficientLabelsError as exc:
        logger.warning("circle placement falls back to history frequency: %s", exc)
        placer = None
        affinities = baseline.predict_proba(history)
        members = baseline.members_from_proba(affinities)
        metrics["method"] = "history_frequency"
        metrics["fallback_reason"] = str(exc)
    metrics["mean_members"] = float(members.sum(axis=1).mean()) if len(members) else 0.0
    if placer is not None:
        metrics["rule_segments"] = [s for s, r in zip(SEGMENTS, placer.use_rule_, strict=True) if r]
    if truth is not None:
        truth_members, truth_weights = truth
        subsets = placement_subsets(engagement, labelled)
        metrics["model"] = placement_report(
            members, affinities, truth_members, truth_weights, catalogue.ids, subset_masks=subsets
        )
        baseline_proba = baseline.predict_proba(history)
        metrics["baseline_history_frequency"] = placement_report(
            baseline.members_from_proba(baseline_proba),
            baseline_proba,
            truth_members,
            truth_weights,
            catalogue.ids,
            subset_masks=subsets,
        )
        shares = row_shares(engagement[PLAIN_RULE_KIND])
        metrics[f"baseline_{PLAIN_RULE_NAME}"] = placement_report(
            plain_rule_members(engagement[PLAIN_RULE_KIND]), shares, truth_members,
            truth_weights, catalogue.ids, subset_masks=subsets,
        )  # fmt: skip
    return placer, affinities, members, metrics


#: The recall@10 every approximate index must reach against exact search (issue target).
INDEX_RECALL_TARGET = 0.95
_RECALL_QUERIES = 1000


def _query_sample(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Up to `_RECALL_QUERIES` rows with a non-zero vector, as recall queries.

    A user without interactions has an all-zero factor: every item scores 0 for them, the
    exact top-k is an arbitrary tie and any index "misses" it, so such rows say nothing about
    the index (they made HNSW look like 0.87-0.89 instead of ~1.0 before they were left out).
    """
    rows = np.flatnonzero(np.any(np.asarray(vectors) != 0, axis=1))
    pick = rng.choice(rows, min(_RECALL_QUERIES, len(rows)), replace=False)
    return np.asarray(vectors[np.sort(pick)])


def build_indexes(
    item_vectors: np.ndarray, user_vectors: np.ndarray, config: TrainConfig
) -> tuple[VectorIndex, dict[str, object]]:
    """The item index, with the recall@10 of each retrieval it serves (user -> items, item ->
    items) against exact search (1.0 for an exact index); a recall below `INDEX_RECALL_TARGET`
    is logged as a warning. `user_vectors` give the user -> item queries.

    No index over user vectors is built: nothing at runtime searches one (an audience is one
    exact pass over all user vectors), and above `exact_max` users it was an HNSW build of
    minutes (285 s at 1M users, bench/results/train_cost.md).
    """
    item_index = VectorIndex(config.index).build(item_vectors)
    rng = np.random.default_rng(config.seed)
    user_queries = _query_sample(user_vectors, rng)
    item_queries = _query_sample(item_vectors, rng)
    recalls = {
        "user_to_item_recall@10": measure_recall(item_index, item_vectors, user_queries, 10),
        "item_to_item_recall@10": measure_recall(item_index, item_vectors, item_queries, 10),
    }
    for name, recall in recalls.items():
        if recall < INDEX_RECALL_TARGET:
            logger.warning(
                "%s = %.3f is below the %.2f target: raise hnsw_ef_search / ivf_nprobe or "
                "exact_max in [index]", name, recall, INDEX_RECALL_TARGET,
            )
    metrics: dict[str, object] = {
        "items_kind": item_index.kind_,
        **recalls,
        "recall_queries": {"users": len(user_queries), "items": len(item_queries)},
    }
    return item_index, metrics


def load_truth(
    truth_dir: Path, users: IdMap, catalogue: CircleCatalogue
) -> tuple[np.ndarray, np.ndarray]:
    """Planted interests of a synthetic data set as dense (n_users, n_circles) arrays.

    Returns (members bool, weights float32); users or circles the truth names but the data
    does not know are counted and logged, not silently skipped.
    """
    arrow = pq.read_table(Path(truth_dir) / "user_interests.parquet")
    rows = users.to_index(arrow["user_id"])  # in Arrow: no hash table of 10M Python ids
    table = arrow.drop_columns(["user_id"]).to_pandas()
    circle_index = {c: i for i, c in enumerate(catalogue.ids)}
    cols = table["circle_id"].map(circle_index).fillna(-1).astype(np.int64).to_numpy()
    ok = (rows >= 0) & (cols >= 0)
    if not ok.all():
        logger.warning("truth: %d of %d rows name unknown users or circles", (~ok).sum(), len(ok))
    members = np.zeros((len(users), len(catalogue)), dtype=bool)
    weights = np.zeros((len(users), len(catalogue)), dtype=np.float32)
    members[rows[ok], cols[ok]] = table["member"].to_numpy(dtype=bool)[ok]
    weights[rows[ok], cols[ok]] = table["weight"].to_numpy(dtype=np.float32)[ok]
    return members, weights
