"""Evaluate fitted recommenders on a split: full ranking, training items excluded, in batches.

Metrics are accumulated batch by batch (sums of per-user values and item exposure counts), so
memory stays bounded by one batch of scores however many users are evaluated.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from recsys.errors import InvalidInputError
from recsys.item_stats import head_mask, users_per_item
from recsys.metrics import ranking as m
from recsys.recommenders.base import Recommender
from recsys.runtime.exclusion import ExclusionRule

logger = logging.getLogger(__name__)


def _unseen_test(train: sp.csr_matrix, test: sp.csr_matrix) -> sp.csr_matrix:
    """Test cells minus those in train: training items are excluded, so they are unreachable."""
    test = sp.csr_matrix(test, copy=True)
    test.eliminate_zeros()
    overlap = test.multiply(train != 0)
    n_overlap = overlap.count_nonzero()
    if n_overlap:
        logger.warning(
            "%d test (user, item) cells are also in train; they cannot be recommended and are "
            "left out of the relevant sets",
            n_overlap,
        )
        test = sp.csr_matrix(test - overlap)
        test.eliminate_zeros()
    return test


def _evaluate(
    model: Recommender,
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    *,
    ks: Sequence[int],
    item_popularity: np.ndarray | None,
    item_interactions: np.ndarray | None,
    head_share: float,
    batch: int,
    exclude_items: np.ndarray | None,
    show_progress: bool,
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    if train.shape != test.shape:
        raise InvalidInputError(
            f"train {train.shape} and test {test.shape} must have the same shape"
        )
    if not ks or min(ks) < 1:
        raise InvalidInputError(f"ks must be positive cut-offs; got {ks}")
    train = sp.csr_matrix(train)
    test = _unseen_test(train, test)
    n_users, n_items = train.shape
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    if not len(users):
        raise InvalidInputError("no user has a test item; nothing to evaluate")
    pop = users_per_item(train) if item_popularity is None else np.asarray(item_popularity)
    head = head_mask(pop if item_interactions is None else item_interactions, head_share)
    k_max = max(ks)
    sums = {f"{name}@{k}": 0.0 for k in ks for name in m.ACCURACY_METRICS}
    exposure = {k: np.zeros(n_items, np.int64) for k in ks}
    per_user = np.empty(len(users))  # NDCG at the first cut-off, for paired comparisons
    start = time.perf_counter()
    starts = range(0, len(users), batch)
    for lo in tqdm(starts, desc=f"evaluate {model.name}", disable=not show_progress):
        u = users[lo : lo + batch]
        # The runtime's exclusion rule with its default (training items excluded): the
        # order measured here is the order served.
        ids, _ = ExclusionRule().recommend(model, u, train[u], k_max, exclude_items=exclude_items)
        if ids.shape[1] < k_max:  # catalogue smaller than k: pad so every cut-off is defined
            ids = np.pad(ids, ((0, 0), (0, k_max - ids.shape[1])), constant_values=-1)
        hits, n_rel = m.relevance_hits(ids, test[u])
        for k in ks:
            for name, values in m.accuracy_per_user(hits, n_rel, k).items():
                sums[f"{name}@{k}"] += float(values.sum())
                if name == "ndcg" and k == ks[0]:
                    per_user[lo: lo + batch] = values
            exposure[k] += m.exposure_counts(ids[:, :k], n_items)
    out = {key: total / len(users) for key, total in sums.items()}
    for k in ks:
        out[f"coverage@{k}"] = m.catalog_coverage(exposure[k])
        out[f"long_tail_share@{k}"] = m.long_tail_share(exposure[k], head)
        out[f"novelty@{k}"] = m.novelty(exposure[k], pop, n_users)
        out[f"gini@{k}"] = m.gini_exposure(exposure[k])
    out["n_users"] = float(len(users))
    logger.info(
        "evaluated %s on %d users in %.1f s: %s",
        model.name,
        len(users),
        time.perf_counter() - start,
        {key: round(v, 4) for key, v in out.items() if key.startswith(("ndcg", "recall"))},
    )
    return out, exposure[k_max], per_user


def evaluate_model(
    model: Recommender,
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    *,
    ks: Sequence[int] = (10, 20),
    item_popularity: np.ndarray | None = None,
    item_interactions: np.ndarray | None = None,
    head_share: float = 0.8,
    batch: int = 2048,
    exclude_items: np.ndarray | None = None,
    show_progress: bool = False,
) -> dict[str, float]:
    """Full-ranking metrics of a fitted model for every user with test items.

    Parameters
    ----------
    model : fitted recommender.
    train : (n_users, n_items) CSR the model was fitted on; its items are never recommended.
    test : (n_users, n_items) CSR; nonzero = relevant. Cells also in train are left out.
    ks : cut-offs.
    item_popularity : (n_items,) users per item for novelty (a probability needs users);
        defaults to counting `train`.
    item_interactions : (n_items,) training interactions (events) per item, whose top items
        making `head_share` of them are the head of long-tail share; defaults to
        `item_popularity`, the same thing when every (user, item) pair is one event.

    Returns
    -------
    {"recall@10", "ndcg@10", "map@10", "hit_rate@10", "mrr@10", "coverage@10",
    "long_tail_share@10", "novelty@10", "gini@10", ... for each k, "n_users"}.
    """
    return _evaluate(
        model,
        train,
        test,
        ks=ks,
        item_popularity=item_popularity,
        item_interactions=item_interactions,
        head_share=head_share,
        batch=batch,
        exclude_items=exclude_items,
        show_progress=show_progress,
    )[0]


@dataclass(frozen=True)
class Comparison:
    """Metrics per model, plus what the report needs to plot exposure."""

    metrics: dict[str, dict[str, float]]
    #: model name -> (n_items,) times each item was recommended at the largest cut-off.
    exposure: dict[str, np.ndarray]
    #: (n_items,) users per training item (novelty's reference).
    item_popularity: np.ndarray
    #: (n_items,) training interactions per item: the long-tail head and the report's
    #: concentration reference.
    item_interactions: np.ndarray
    #: model name -> (n_test_users,) NDCG at the first cut-off per test user, users in the same
    #: order for every model (for paired comparisons such as `paired_bootstrap`).
    per_user_ndcg: dict[str, np.ndarray] = field(default_factory=dict)


def compare_models(
    models: Mapping[str, Recommender],
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    *,
    ks: Sequence[int] = (10, 20),
    item_interactions: np.ndarray | None = None,
    head_share: float = 0.8,
    batch: int = 2048,
    show_progress: bool = False,
) -> Comparison:
    """Evaluate several fitted models on the same split, with the same popularity reference.

    `item_interactions` (n_items,) counts training events per item for the long-tail head
    (see `evaluate_model`); by default users per item, i.e. one interaction per training cell.
    """
    pop = users_per_item(train)
    interactions = pop if item_interactions is None else np.asarray(item_interactions)
    if interactions.shape != pop.shape:
        raise InvalidInputError(
            f"item_interactions has shape {interactions.shape}; expected ({train.shape[1]},)"
        )
    metrics, exposure, per_user = {}, {}, {}
    for name, model in models.items():
        metrics[name], exposure[name], per_user[name] = _evaluate(
            model,
            train,
            test,
            ks=ks,
            item_popularity=pop,
            item_interactions=interactions,
            head_share=head_share,
            batch=batch,
            exclude_items=None,
            show_progress=show_progress,
        )
    return Comparison(metrics=metrics, exposure=exposure, item_popularity=pop,
                      item_interactions=interactions, per_user_ndcg=per_user)
