"""Bayesian Personalized Ranking (Rendle et al. 2009), fitted by `implicit`'s CPU SGD.

BPR learns from which items a user touched, not how strongly: confidence values only mark
positives. implicit appends an item-bias column to the factors (the user side holds a
constant 1 there), so both factor arrays have ``factors + 1`` columns.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from implicit.cpu.bpr import BayesianPersonalizedRanking

from recsys.errors import ConfigError, InvalidInputError, UnknownUserError
from recsys.recommenders._implicit import check_user_items, single_threaded_blas
from recsys.recommenders.base import Recommender, cosine_to

logger = logging.getLogger(__name__)


class BPRRecommender(Recommender):
    """Matrix factorisation trained on sampled (user, liked item, other item) triples.

    Parameters
    ----------
    factors : latent dimensions (plus one item-bias column).
    learning_rate : SGD step.
    regularization : L2 penalty on the factors.
    iterations : epochs over the positives.
    random_state : seed of the initial factors and the negative sampling.
    num_threads : SGD threads. implicit's threads update shared factors without locks
        (Hogwild), so only 1 thread is reproducible; more is faster but not repeatable.

    Attributes
    ----------
    user_factors_ : (n_users, factors + 1) float32
    item_factors_ : (n_items, factors + 1) float32
    """

    name = "bpr"

    def __init__(
        self,
        *,
        factors: int = 64,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        random_state: int = 0,
        num_threads: int = 1,
    ) -> None:
        if factors < 1 or iterations < 1:
            raise ConfigError(f"factors and iterations must be >= 1; got {factors}, {iterations}")
        if not (learning_rate > 0 and regularization >= 0):
            raise ConfigError(
                f"learning_rate must be > 0 and regularization >= 0; "
                f"got {learning_rate}, {regularization}"
            )
        if num_threads < 0:
            raise ConfigError(f"num_threads must be >= 0; got {num_threads}")
        self.factors = int(factors)
        self.learning_rate = float(learning_rate)
        self.regularization = float(regularization)
        self.iterations = int(iterations)
        self.random_state = int(random_state)
        self.num_threads = int(num_threads)

    def fit(self, user_items: sp.csr_matrix, *, show_progress: bool = True) -> Self:
        """Learn from the positives of a (n_users, n_items) confidence matrix; returns self."""
        x = check_user_items(user_items, type(self).__name__)
        if x.nnz == 0:
            raise InvalidInputError("BPRRecommender: user_items has no positives to learn from")
        started = time.perf_counter()
        with single_threaded_blas():
            model = BayesianPersonalizedRanking(
                factors=self.factors,
                learning_rate=self.learning_rate,
                regularization=self.regularization,
                dtype=np.float32,
                iterations=self.iterations,
                num_threads=self.num_threads,
                random_state=self.random_state,
            )
            model.fit(x, show_progress=show_progress)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self.n_items_ = int(x.shape[1])
        logger.info(
            "BPR fit: %d users x %d items, %d positives, %d factors, %d epochs in %.1fs",
            x.shape[0],
            x.shape[1],
            x.nnz,
            self.factors,
            self.iterations,
            time.perf_counter() - started,
        )
        return self

    def _score(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """Dot products (the last column adds the item bias)."""
        n_users = self.user_factors_.shape[0]
        unknown = (user_ids < 0) | (user_ids >= n_users)
        if unknown.any():
            raise UnknownUserError(
                f"BPR knows users 0..{n_users - 1}; got {user_ids[unknown][:5].tolist()} "
                "(BPR has no fold-in: refit, or use ALS for users new since fit)"
            )
        return self.user_factors_[user_ids] @ np.asarray(self.item_factors_).T

    def _item_similarity(self, item_ids: np.ndarray) -> np.ndarray:
        """Cosine similarity of the items' factors."""
        return cosine_to(self.item_factors_, item_ids)

    def get_params(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "learning_rate": self.learning_rate,
            "regularization": self.regularization,
            "iterations": self.iterations,
            "random_state": self.random_state,
            "num_threads": self.num_threads,
        }

    def _state(self) -> dict[str, np.ndarray]:
        return {"user_factors_": self.user_factors_, "item_factors_": self.item_factors_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors_ = state["user_factors_"]
        self.item_factors_ = state["item_factors_"]
