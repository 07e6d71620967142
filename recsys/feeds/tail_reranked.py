"""The feed's long-tail stage as a recommender, so evaluation measures it like every model.

`LongTailReranked` wraps a fitted recommender (the plain order): each user's top `pool` items
under the caller's exclusions are re-ranked by `long_tail.rerank_long_tail` at `tail_weight`,
with the user's appetite taken from the rows handed to `recommend`. The evaluation harness
reports it as "feed" beside the plain scorer and the baselines (coverage, exposure Gini,
long-tail share, accuracy). Evaluation-only: it is not registered and not saved.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.feeds.long_tail import ExposurePriors, rerank_long_tail, take
from recsys.recommenders.base import Recommender


class LongTailReranked(Recommender):
    """A fitted recommender's top `pool`, re-ranked for the long tail."""

    name = "feed"

    def __init__(
        self,
        inner: Recommender,
        *,
        priors: ExposurePriors,
        tail_weight: float,
        pool: int,
    ) -> None:
        if len(priors.is_tail) != inner.n_items_:
            raise InvalidInputError(
                f"the priors know {len(priors.is_tail)} items; the model {inner.n_items_}")
        self.inner = inner
        self.priors = priors
        self.tail_weight = tail_weight
        self.pool = pool
        self.n_items_ = inner.n_items_

    def fit(self, user_items: sp.csr_matrix, *, show_progress: bool = True) -> Self:
        """The wrapped model is fitted already; nothing is learned here."""
        return self

    def _score(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return self.inner._score(user_ids, user_items)

    def recommend(
        self,
        user_ids: np.ndarray | list[int],
        user_items: sp.csr_matrix,
        k: int = 10,
        *,
        filter_already_liked_items: bool = True,
        exclude_items: np.ndarray | None = None,
        exclude_cells: sp.spmatrix | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        ids, scores = self.inner.recommend(
            user_ids, user_items, max(k, self.pool),
            filter_already_liked_items=filter_already_liked_items,
            exclude_items=exclude_items, exclude_cells=exclude_cells,
        )
        if self.tail_weight <= 0:
            return ids[:, :k], scores[:, :k]
        positions = rerank_long_tail(ids, scores, self.priors.for_users(user_items),
                                     tail_weight=self.tail_weight, k=k)
        picked = np.take_along_axis(scores, np.maximum(positions, 0), axis=1)
        return take(ids, positions), np.where(positions >= 0, picked, -np.inf).astype(np.float32)
