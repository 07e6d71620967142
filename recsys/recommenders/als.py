"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008), fitted by `implicit`'s CPU solver.

Confidence follows implicit: an observed cell counts with confidence ``alpha * value`` and
preference 1, every other cell with confidence 1 and preference 0. Users unknown at fit time
are folded in by the exact least-squares step ALS itself takes for a user (`fold_in`), so a
new user needs no refit.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

from recsys.errors import ConfigError, InvalidInputError
from recsys.recommenders._implicit import check_user_items, single_threaded_blas
from recsys.recommenders.base import Recommender, cosine_to

logger = logging.getLogger(__name__)

# Bound on floats in the (nnz, f, f) outer products of one fold-in batch (64 MB of float32).
_FOLD_IN_CELLS = 1 << 24


class ALSRecommender(Recommender):
    """Matrix factorisation by alternating least squares.

    Parameters
    ----------
    factors : latent dimensions.
    regularization : L2 penalty on the factors.
    alpha : scale from confidence values to ALS confidence.
    iterations : full user + item sweeps.
    random_state : seed of the initial factors; with it, a matrix fully determines the model
        (every row's solve is independent, so the thread count does not change the result).
    num_threads : solver threads; 0 means every core.

    Attributes
    ----------
    user_factors_ : (n_users, factors) float32
    item_factors_ : (n_items, factors) float32
    """

    name = "als"

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 1.0,
        iterations: int = 15,
        random_state: int = 0,
        num_threads: int = 0,
    ) -> None:
        if factors < 1 or iterations < 1:
            raise ConfigError(f"factors and iterations must be >= 1; got {factors}, {iterations}")
        if not (regularization >= 0 and alpha > 0):
            raise ConfigError(
                f"regularization must be >= 0 and alpha > 0; got {regularization}, {alpha}"
            )
        if num_threads < 0:
            raise ConfigError(f"num_threads must be >= 0; got {num_threads}")
        self.factors = int(factors)
        self.regularization = float(regularization)
        self.alpha = float(alpha)
        self.iterations = int(iterations)
        self.random_state = int(random_state)
        self.num_threads = int(num_threads)

    def fit(self, user_items: sp.csr_matrix, *, show_progress: bool = True) -> Self:
        """Factorise a (n_users, n_items) confidence matrix; returns self."""
        x = check_user_items(user_items, type(self).__name__)
        started = time.perf_counter()
        with single_threaded_blas():
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
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
            "ALS fit: %d users x %d items, %d non-zeros, %d factors, %d iterations in %.1fs",
            x.shape[0],
            x.shape[1],
            x.nnz,
            self.factors,
            self.iterations,
            time.perf_counter() - started,
        )
        return self

    @property
    def n_users_(self) -> int:
        return int(self.user_factors_.shape[0])

    def fold_in(self, user_items: sp.csr_matrix) -> np.ndarray:
        """Factors for users from their interactions, item factors held fixed.

        Solves ``(YtY + reg I + Y^T (C_u - I) Y) x_u = Y^T C_u p_u`` exactly for each user,
        batched so the (nnz, f, f) outer products stay within a fixed memory budget.

        Parameters
        ----------
        user_items : (n, n_items) confidence rows, as given to `fit`.

        Returns
        -------
        (n, factors) float32 user factors.
        """
        self._check_fitted()
        x = check_user_items(user_items, f"{type(self).__name__}.fold_in", min_rows=0)
        user_items = x
        if x.shape[1] != self.n_items_:
            raise InvalidInputError(
                f"user_items has {x.shape[1]} columns; the model knows {self.n_items_} items"
            )
        y = np.asarray(self.item_factors_, dtype=np.float64)
        f = y.shape[1]
        base = y.T @ y + self.regularization * np.eye(f)
        out = np.zeros((x.shape[0], f), dtype=np.float32)
        # Light rows go in batches whose (nnz, f, f) outer products fit the budget; the rare
        # heavy rows (more items than the budget allows) are solved alone by a matrix product.
        budget = max(1, _FOLD_IN_CELLS // (f * f))
        row_nnz = np.diff(x.indptr)
        heavy = row_nnz > budget
        if heavy.any():
            x = sp.csr_matrix(sp.diags((~heavy).astype(np.float32)) @ x)
            x.eliminate_zeros()
        # Cut wherever the running nnz crosses a multiple of the budget, and at least every
        # `budget` rows, which also bounds the (rows, f, f) normal matrices.
        bounds = np.union1d(
            np.searchsorted(np.cumsum(np.diff(x.indptr)), np.arange(budget, x.nnz, budget)),
            np.arange(budget, x.shape[0], budget),
        )
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, x.shape[0]], strict=True):
            if hi > lo:
                out[lo:hi] = self._solve_rows(x[lo:hi], y, base)
        for row in np.flatnonzero(heavy):
            out[row] = self._solve_heavy_row(user_items.getrow(row), y, base)
        return out

    def _confidence(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(confidence, preference) per stored cell, after implicit's convention that a
        negative value is a confident "no" (preference 0)."""
        conf = self.alpha * data.astype(np.float64)
        return np.abs(conf), (conf > 0).astype(np.float64)

    def _solve_rows(self, x: sp.csr_matrix, y: np.ndarray, base: np.ndarray) -> np.ndarray:
        conf, pref = self._confidence(x.data)
        yi = y[x.indices]
        a = np.broadcast_to(base, (x.shape[0], *base.shape)).copy()
        b = np.zeros((x.shape[0], y.shape[1]))
        rows = np.flatnonzero(np.diff(x.indptr))
        if rows.size:
            starts = x.indptr[rows]
            outer = (yi * (conf - 1.0)[:, None])[:, :, None] * yi[:, None, :]
            a[rows] += np.add.reduceat(outer, starts, axis=0)
            b[rows] = np.add.reduceat(yi * (conf * pref)[:, None], starts, axis=0)
        return np.linalg.solve(a, b[..., None])[..., 0].astype(np.float32)

    def _solve_heavy_row(self, row: sp.csr_matrix, y: np.ndarray, base: np.ndarray) -> np.ndarray:
        row = sp.csr_matrix(row, dtype=np.float32)
        conf, pref = self._confidence(row.data)
        yi = y[row.indices]
        a = base + (yi * (conf - 1.0)[:, None]).T @ yi
        b = (yi * (conf * pref)[:, None]).sum(axis=0)
        return np.linalg.solve(a, b).astype(np.float32)

    def _score(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """Dot products; user ids outside the fitted range (e.g. -1) are folded in first."""
        known = (user_ids >= 0) & (user_ids < self.n_users_)
        vectors = np.empty((len(user_ids), self.factors), dtype=np.float32)
        vectors[known] = self.user_factors_[user_ids[known]]
        if not known.all():
            vectors[~known] = self.fold_in(user_items[np.flatnonzero(~known)])
        return vectors @ np.asarray(self.item_factors_).T

    def _item_similarity(self, item_ids: np.ndarray) -> np.ndarray:
        """Cosine similarity of the items' factors."""
        return cosine_to(self.item_factors_, item_ids)

    def get_params(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "alpha": self.alpha,
            "iterations": self.iterations,
            "random_state": self.random_state,
            "num_threads": self.num_threads,
        }

    def _state(self) -> dict[str, np.ndarray]:
        return {"user_factors_": self.user_factors_, "item_factors_": self.item_factors_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors_ = state["user_factors_"]
        self.item_factors_ = state["item_factors_"]
