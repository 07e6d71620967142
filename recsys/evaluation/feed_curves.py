"""The feed's long-tail knob in evaluation: picked on validation, measured on test.

As `recsys train` does on its validation fit, the shipped recipe is fitted on the inner train
split, each validation user's top `feed.pool` candidates are re-ranked at every weight of
`feed.tail_weight_grid`, and the largest weight costing at most `feed.max_ndcg_loss` relative
NDCG@10 is picked. On test, the recipe fitted on the whole train split gives the candidates:
the curves of ours and of the naive boost (``score + w * is_tail``) over the grid, NDCG@10
against long-tail share@10 (and group-buy share@10 when items carry the flag), and the "feed"
model (`LongTailReranked` at the picked weight) joins the comparison table.

The long-tail head is the evaluation's (`head_mask` over the train split's events per item).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.feeds.long_tail import ExposurePriors
from recsys.feeds.tail_reranked import LongTailReranked
from recsys.feeds.tail_weight import pick_tail_weight, tail_curve
from recsys.item_stats import head_mask
from recsys.recipe import TrainConfig
from recsys.recommenders.base import Recommender
from recsys.recommenders.shipped import ShippedRecommender
from recsys.runtime.exclusion import ExclusionRule

K = 10


@dataclass
class FeedCurves:
    """What the report draws and the table gains."""

    tail_weight: float
    validation: list[dict[str, float]]
    ours: list[dict[str, float]]
    naive: list[dict[str, float]]
    model: LongTailReranked
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: everything but the model."""
        return {"tail_weight": self.tail_weight, "validation": self.validation,
                "ours": self.ours, "naive": self.naive, **self.extra}


def _candidates(model: Recommender, train: sp.csr_matrix, relevant: sp.csr_matrix,
                pool: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    ids, scores = ExclusionRule().recommend(model, users, train[users],
                                            min(pool, train.shape[1]))
    return users, ids, scores


def _unseen(test: sp.csr_matrix, train: sp.csr_matrix) -> sp.csr_matrix:
    test = sp.csr_matrix(test, copy=True)
    test = sp.csr_matrix(test - test.multiply(train != 0))
    test.eliminate_zeros()
    return test


def feed_curves(
    *,
    train: sp.csr_matrix,
    inner_train: sp.csr_matrix,
    valid: sp.csr_matrix,
    test: sp.csr_matrix,
    train_events: np.ndarray,
    shipped: Recommender,
    config: TrainConfig,
    content: np.ndarray | None = None,
    is_group_buy: np.ndarray | None = None,
) -> FeedCurves:
    """Pick `tail_weight` on validation, draw both curves on test (see the module docstring).

    Parameters
    ----------
    train, inner_train : (n_users, n_items) confidence of the train split and its inner part.
    valid, test : binary relevance of the validation and test splits.
    train_events : (n_items,) events per item in the train split (the long-tail head).
    shipped : the recipe fitted on `train` (the plain order on test).
    """
    feed = config.feed
    is_tail = ~head_mask(train_events, config.lists.head_share)
    priors = ExposurePriors.from_popularity(train_events, is_tail, is_group_buy,
                                            strength=feed.tail_prior_strength)
    inner = ShippedRecommender(config=config, content=content).fit(inner_train,
                                                                   show_progress=False)
    users, ids, scores = _candidates(inner, inner_train, valid, feed.pool)
    validation = tail_curve(ids, scores, valid[users], priors.for_users(inner_train[users]),
                            feed.tail_weight_grid, k=K)
    picked = (feed.tail_weight if feed.tail_weight is not None
              else pick_tail_weight(validation, max_loss=feed.max_ndcg_loss, k=K))
    relevant = _unseen(test, train)
    users, ids, scores = _candidates(shipped, train, relevant, feed.pool)
    exposure = priors.for_users(train[users])
    curves = {
        method: tail_curve(ids, scores, relevant[users], exposure, feed.tail_weight_grid,
                           k=K, method=method)
        for method in ("ours", "naive")
    }
    extra: dict[str, Any] = {"candidates": int(ids.shape[1]), "test_users": int(len(users))}
    if is_group_buy is not None:
        cells = relevant.indices
        extra["group_buy_share_of_test"] = float(np.mean(is_group_buy[cells])) if len(cells) \
            else 0.0
    model = LongTailReranked(shipped, priors=priors, tail_weight=picked, pool=feed.pool)
    return FeedCurves(picked, validation, curves["ours"], curves["naive"], model, extra)
