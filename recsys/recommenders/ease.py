"""EASE (Steck, WWW 2019): a closed-form item-item model, strong and cheap on small catalogues.

B = I - P / diag(P) with P = (X^T X + l2 I)^-1, diagonal forced to zero. The Gram matrix and its
inverse are dense items x items, so the model refuses catalogues above `max_items` rather than
exhausting memory; everything is float32 to halve that footprint.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Self

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.recommenders.base import Recommender

logger = logging.getLogger(__name__)

# Peak dense float32 items x items arrays alive during fit (Gram and its inverse, plus slack).
_PEAK_MATRICES = 3
#: Default catalogue limit: ~4.8 GB at peak; a fit at 17.6k items took ~80 s on 2 shared cores.
MAX_ITEMS = 20_000


def gram_memory_gb(n_items: int) -> float:
    """Estimated peak memory of an EASE fit, in GB."""
    return _PEAK_MATRICES * 4 * n_items**2 / 1e9


class EASERecommender(Recommender):
    """Embarrassingly shallow autoencoder: item-item weights with a zero diagonal.

    Parameters
    ----------
    l2 : ridge penalty on the weights; larger suits denser data (ML-1M best is a few hundred).
    max_items : refuse bigger catalogues (the Gram matrix is items^2 float32).
    binary : fit on 0/1 interactions rather than summed confidence, which keeps a few heavy
        users from dominating the Gram matrix.
    """

    name = "ease"

    def __init__(
        self, *, l2: float = 500.0, max_items: int = MAX_ITEMS, binary: bool = True
    ) -> None:
        if not l2 > 0:
            raise ConfigError(f"l2 must be > 0; got {l2}")
        if max_items < 1:
            raise ConfigError(f"max_items must be >= 1; got {max_items}")
        self.l2 = float(l2)
        self.max_items = int(max_items)
        self.binary = bool(binary)

    def _prepare(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        x = sp.csr_matrix(user_items, dtype=np.float32)
        if self.binary:
            x = x.copy()
            x.data = (x.data != 0).astype(np.float32)
        return x

    def fit(self, user_items: sp.csr_matrix, *, show_progress: bool = True) -> Self:
        """Solve the closed form on a (n_users, n_items) matrix (one step: no progress bar)."""
        n_items = user_items.shape[1]
        if n_items > self.max_items:
            gb = gram_memory_gb(n_items)
            raise ConfigError(
                f"EASE needs a dense {n_items} x {n_items} Gram matrix (~{gb:.1f} GB float32 at"
                f" peak); n_items={n_items} > max_items={self.max_items}. Use a factor or "
                "neighbourhood model, or raise max_items if the memory is there."
            )
        start = time.perf_counter()
        x = self._prepare(user_items)
        gram = (x.T @ x).toarray().astype(np.float32, copy=False)
        gram[np.diag_indices(n_items)] += np.float32(self.l2)
        # l2 > 0 makes G + l2*I positive definite, so the inverse always exists.
        p = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        del gram
        diag = np.diag(p).copy()
        p /= -diag[None, :]
        p[np.diag_indices(n_items)] = 0.0
        self.weights_ = p.astype(np.float32, copy=False)
        self.n_items_ = int(n_items)
        logger.info(
            "EASE fit: %d items, l2=%g, %.1f s", n_items, self.l2, time.perf_counter() - start
        )
        return self

    def _score(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """(n, n_items) float32: the users' interactions times the item-item weights."""
        return np.asarray(self._prepare(user_items) @ self.weights_, dtype=np.float32)

    def _item_similarity(self, item_ids: np.ndarray) -> np.ndarray:
        """The items' rows of the item-item weights: how much each one predicts every item."""
        return np.asarray(self.weights_[item_ids], dtype=np.float32)

    def get_params(self) -> dict[str, Any]:
        return {"l2": self.l2, "max_items": self.max_items, "binary": self.binary}

    def _state(self) -> dict[str, np.ndarray]:
        return {"weights_": self.weights_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        # The fitted inverse is Fortran-ordered; a sparse row times it makes scipy copy the
        # whole matrix on every call (24 ms a row at 2,000 items, against 0.02 ms in C order),
        # which a served model answering one user at a time cannot afford.
        self.weights_ = np.ascontiguousarray(state["weights_"])
