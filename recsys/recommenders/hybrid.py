"""ALS blended with a sparse item-item model: the shipped recipe's scorer.

A low-rank factor model smooths away the "bought X, then Y" co-occurrence that dominates short
purchase sequences, where item-kNN is strong; item-kNN knows nothing of users' wider taste,
where ALS is strong. Each model's scores are scaled per user by their largest magnitude, so
the two live on one scale whatever the data set, and mixed by one weight tuned on validation.

Both parts scale: ALS is (n_users + n_items) x factors, item-kNN keeps k neighbours per item
(n_items x k non-zeros), so a million-item catalogue fits, unlike EASE's dense item x item.
Max scaling also suits serving from a candidate set: the best candidates carry the maximum.
"""

from __future__ import annotations

import logging
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.recommenders.als import ALSRecommender
from recsys.recommenders.base import Recommender
from recsys.recommenders.itemknn import ItemKNNRecommender, Similarity

logger = logging.getLogger(__name__)


def normalise_per_user(scores: np.ndarray) -> np.ndarray:
    """Divide each row by its largest absolute finite value (all-zero rows stay zero).

    Parameters
    ----------
    scores : (n_users, n_items) float array.

    Returns
    -------
    (n_users, n_items) float32 in [-1, 1].
    """
    scores = np.asarray(scores, dtype=np.float32)
    finite = np.where(np.isfinite(scores), np.abs(scores), 0.0)
    scale = finite.max(axis=1, keepdims=True) if scores.shape[1] else np.ones((len(scores), 1))
    return scores / np.where(scale > 0, scale, 1.0).astype(np.float32)


def blend_scores(factor_scores: np.ndarray, neighbour_scores: np.ndarray,
                 weight: float) -> np.ndarray:
    """``(1 - weight) * norm(factor) + weight * norm(neighbour)``, each normalised per user.

    Parameters
    ----------
    factor_scores, neighbour_scores : (n_users, n_items) float arrays, same shape.
    weight : share of the item-item scores, in [0, 1]; 0 is pure factors.

    Returns
    -------
    (n_users, n_items) float32.
    """
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"blend weight must be in [0, 1]; got {weight}")
    if factor_scores.shape != neighbour_scores.shape:
        raise ValueError(
            f"score shapes differ: {factor_scores.shape} vs {neighbour_scores.shape}"
        )
    if weight == 0.0:
        return normalise_per_user(factor_scores)
    if weight == 1.0:
        return normalise_per_user(neighbour_scores)
    return ((1.0 - weight) * normalise_per_user(factor_scores)
            + weight * normalise_per_user(neighbour_scores))


def neighbour_scores(user_items: sp.csr_matrix, similarity: sp.csr_matrix) -> np.ndarray:
    """``user_items @ similarity`` as dense (n, n_items) float32.

    `similarity` may know fewer items than `user_items` (a refreshed catalogue appended new
    items after it was fitted): those items have no neighbours and score 0.
    """
    n = similarity.shape[0]
    x = sp.csr_matrix(user_items, dtype=np.float32)
    out = np.zeros(x.shape, dtype=np.float32)
    out[:, :n] = (x[:, :n] @ similarity).toarray()
    return out


class HybridRecommender(Recommender):
    """ALS + item-kNN, blended per user.

    Parameters
    ----------
    factors, regularization, alpha, iterations : ALS hyper-parameters (see `ALSRecommender`).
    k, similarity : item-kNN neighbours per item and similarity (see `ItemKNNRecommender`).
    weight : share of the item-kNN scores in the blend, in [0, 1].
    random_state : ALS seed. num_threads : threads of both fits; 0 means every core.

    Attributes
    ----------
    user_factors_ : (n_users, factors) float32
    item_factors_ : (n_items, factors) float32
    similarity_ : (n_items, n_items) float32 CSR with at most k non-zeros per row.
    """

    name = "hybrid"

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 1.0,
        iterations: int = 15,
        k: int = 100,
        similarity: Similarity = "bm25",
        weight: float = 0.5,
        random_state: int = 0,
        num_threads: int = 0,
    ) -> None:
        if not 0.0 <= weight <= 1.0:
            raise ConfigError(f"weight must be in [0, 1]; got {weight}")
        # Built here so bad ALS / kNN settings fail at construction, like the parts do.
        self._als = ALSRecommender(factors=factors, regularization=regularization, alpha=alpha,
                                   iterations=iterations, random_state=random_state,
                                   num_threads=num_threads)
        self._knn = ItemKNNRecommender(k=k, similarity=similarity, num_threads=num_threads)
        self.weight = float(weight)

    def fit(self, user_items: sp.csr_matrix, *, show_progress: bool = True) -> Self:
        """Fit both parts on one (n_users, n_items) confidence matrix; returns self."""
        self._als.fit(user_items, show_progress=show_progress)
        self._knn.fit(user_items, show_progress=show_progress)
        self.n_items_ = self._als.n_items_
        return self

    @property
    def user_factors_(self) -> np.ndarray:
        return self._als.user_factors_

    @property
    def item_factors_(self) -> np.ndarray:
        return self._als.item_factors_

    @property
    def similarity_(self) -> sp.csr_matrix:
        return self._knn.similarity_

    def _score(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """Blend of ALS dot products (unknown users folded in) and ``user_items @ S``."""
        factor = self._als._score(user_ids, user_items)
        return blend_scores(factor, neighbour_scores(user_items, self.similarity_), self.weight)

    def get_params(self) -> dict[str, Any]:
        als, knn = self._als.get_params(), self._knn.get_params()
        return {**als, "k": knn["k"], "similarity": knn["similarity"], "weight": self.weight}

    def _state(self) -> dict[str, np.ndarray]:
        return {**self._als._state(), **self._knn._state()}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self._als._set_state(state)
        self._als.n_items_ = int(len(state["similarity_indptr"]) - 1)
        self._knn._set_state(state)
