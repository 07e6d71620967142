"""Item-item nearest neighbours: each item keeps its k most similar items, and a user's score
for an item sums the similarities from the items they used. Cosine, BM25 and TF-IDF come from
`implicit.nearest_neighbours`; RP3beta (a popularity-penalised random walk) from
`recsys.recommenders.rp3beta`, computed in bounded row blocks.

The similarity is stored as three CSR arrays (data, indices, indptr), so a saved model is
plain ``.npy`` files and loads without pickle (implicit's own save pickles its scorer).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal, Self

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import (
    all_pairs_knn,
    bm25_weight,
    normalize,
    tfidf_weight,
)

from recsys.errors import ConfigError
from recsys.recommenders._implicit import check_user_items, single_threaded_blas
from recsys.recommenders.base import Recommender
from recsys.recommenders.rp3beta import rp3beta_similarity

logger = logging.getLogger(__name__)

Similarity = Literal["cosine", "bm25", "tfidf", "rp3beta"]
SIMILARITIES: tuple[str, ...] = ("cosine", "bm25", "tfidf", "rp3beta")


class ItemKNNRecommender(Recommender):
    """Item-based k-nearest-neighbours.

    Parameters
    ----------
    k : neighbours kept per item (the item itself included, as in implicit, except for
        rp3beta, whose items are never their own neighbours).
    similarity : "cosine", "bm25" (damps heavy users and very popular items), "tfidf" or
        "rp3beta" (item -> user -> item random walk, penalising popular targets).
    bm25_k1, bm25_b : BM25 saturation and length normalisation (bm25 only).
    rp3_alpha, rp3_beta : power of the walk's transition probabilities and popularity penalty
        (rp3beta only; see `rp3beta_similarity`).
    num_threads : threads of implicit's neighbour search (rp3beta runs on one); 0: every core.

    Attributes
    ----------
    similarity_ : (n_items, n_items) float32 CSR; row i holds item i's neighbours.
    """

    name = "itemknn"

    def __init__(
        self,
        *,
        k: int = 100,
        similarity: Similarity = "cosine",
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        rp3_alpha: float = 1.0,
        rp3_beta: float = 0.5,
        num_threads: int = 0,
    ) -> None:
        if k < 1:
            raise ConfigError(f"k must be >= 1; got {k}")
        if similarity not in SIMILARITIES:
            raise ConfigError(f"similarity must be one of {SIMILARITIES}; got {similarity!r}")
        if not (bm25_k1 > 0 and 0 <= bm25_b <= 1):
            raise ConfigError(f"bm25_k1 must be > 0 and bm25_b in [0, 1]; got {bm25_k1}, {bm25_b}")
        if not (rp3_alpha > 0 and rp3_beta >= 0):
            raise ConfigError(
                f"rp3_alpha must be > 0 and rp3_beta >= 0; got {rp3_alpha}, {rp3_beta}"
            )
        if num_threads < 0:
            raise ConfigError(f"num_threads must be >= 0; got {num_threads}")
        self.k = int(k)
        self.similarity = similarity
        self.bm25_k1 = float(bm25_k1)
        self.bm25_b = float(bm25_b)
        self.rp3_alpha = float(rp3_alpha)
        self.rp3_beta = float(rp3_beta)
        self.num_threads = int(num_threads)

    def _weighted(self, x: sp.csr_matrix) -> sp.csr_matrix:
        """(n_users, n_items) values whose item-column dot products are the similarity."""
        # implicit's weightings work on items x users and hand back COO; its neighbour search
        # wants CSR, so convert here instead of letting it warn and convert.
        items_users = x.T.tocsr()
        if self.similarity == "cosine":
            weighted = normalize(items_users)
        elif self.similarity == "tfidf":
            weighted = normalize(tfidf_weight(items_users))
        else:
            weighted = bm25_weight(items_users, self.bm25_k1, self.bm25_b)
        return sp.csr_matrix(weighted.T, dtype=np.float64)

    def fit(self, user_items: sp.csr_matrix, *, show_progress: bool = True) -> Self:
        """Build the k-nearest-neighbour item similarity from (n_users, n_items); returns self."""
        x = check_user_items(user_items, type(self).__name__)
        started = time.perf_counter()
        if self.similarity == "rp3beta":
            similarity = rp3beta_similarity(x, k=self.k, alpha=self.rp3_alpha,
                                            beta=self.rp3_beta)
        else:
            # implicit's neighbour search itself (`ItemItemRecommender.fit` is this plus a
            # float64 CSR copy): the weighted matrix goes before the neighbours are converted,
            # and they convert once, to float32. At 10M users and 1M items the recommender's
            # copies put ~6 GB on the ranked step's peak.
            weighted = self._weighted(x)
            with single_threaded_blas():
                pairs = all_pairs_knn(weighted, self.k, num_threads=self.num_threads,
                                      show_progress=show_progress)  # fmt: skip
            del weighted
            similarity = sp.csr_matrix(
                (pairs.data.astype(np.float32), (pairs.row, pairs.col)), shape=pairs.shape
            )
            del pairs
        similarity.sort_indices()
        self.similarity_ = similarity
        self.n_items_ = int(x.shape[1])
        logger.info(
            "ItemKNN (%s, k=%d) fit: %d items, %d similarities in %.1fs",
            self.similarity,
            self.k,
            x.shape[1],
            similarity.nnz,
            time.perf_counter() - started,
        )
        return self

    def _score(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """``user_items @ S``: needs no user state, so users new since fit work as they are."""
        return (user_items.astype(np.float32) @ self.similarity_).toarray()

    def _item_similarity(self, item_ids: np.ndarray) -> np.ndarray:
        """The items' rows of the neighbour matrix (0 outside their k neighbours)."""
        return self.similarity_[item_ids].toarray()

    def get_params(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "similarity": self.similarity,
            "bm25_k1": self.bm25_k1,
            "bm25_b": self.bm25_b,
            "rp3_alpha": self.rp3_alpha,
            "rp3_beta": self.rp3_beta,
            "num_threads": self.num_threads,
        }

    def _state(self) -> dict[str, np.ndarray]:
        s = self.similarity_
        return {
            "similarity_data": s.data,
            "similarity_indices": s.indices,
            "similarity_indptr": s.indptr,
        }

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        indptr = state["similarity_indptr"]
        n = len(indptr) - 1
        self.similarity_ = sp.csr_matrix(
            (state["similarity_data"], state["similarity_indices"], indptr), shape=(n, n)
        )
