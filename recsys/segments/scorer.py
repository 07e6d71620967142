"""The segment scorer: one exact pass over the user vectors, in blocks, keeping the best users.

Targets score users as follows (the pooling choices were made on validation, see
bench/results/segments.md):

- items, brands, categories: ``u . q`` with ``q`` the weighted mean of the target items' vectors
  (`pooling="mean"`), or the best ``u . v_i`` over the target items (`pooling="max"`);
- seed users (look-alike): cosine to the mean direction of the seeds (`seed_method="centroid"`)
  or the mean of the `knn_k` highest cosines to single seeds (`seed_method="knn"`);
- circles: the highest circle affinity (the bundle's circles part) over the target circles.

With `activity_weight` > 0 the score is a standard score of that similarity plus
``activity_weight`` times the standard score of ``log1p(recent events)``: interest says what a
user would buy, recent activity whether they buy anything soon (chosen on validation). The
similarity's mean and deviation come from a fixed sample of users, so the pass stays one.

Each block is a plain matrix product and an `argpartition`, so memory stays bounded by
`block_cells` whatever the number of users (10M users x 64 factors is read once, block by
block, from the memory-mapped array). Users without a vector (no history: an all-zero row)
cannot be ranked by vectors and are left out of vector targets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np

from recsys.errors import InvalidInputError, NotFittedError

Progress = Callable[[int], None]
#: Scores of a block of users (a slice of rows, or row indices).
Rows = Callable[[slice | np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Query:
    """What to score: `kind` "items" (indices + weights), "seeds" (user indices) or "circles"."""

    kind: Literal["items", "seeds", "circles"]
    indices: np.ndarray
    weights: np.ndarray | None = None


class SegmentScorer:
    """Scores every user for a target; `fit` takes the vectors, `top` / `scores` rank.

    Parameters
    ----------
    pooling : "mean" or "max" over the target items' vectors.
    seed_method : "centroid" or "knn" similarity to the seed users.
    knn_k : seeds averaged per user with ``seed_method="knn"``.
    block_cells : user rows x query columns scored at once (bounds the block's memory).
    activity_weight : weight of the users' recent activity (0: the plain similarity).
    norm_sample : users whose scores standardise a query's similarity (seeded, fixed).
    random_state : seed of that sample.
    """

    def __init__(
        self,
        *,
        pooling: Literal["mean", "max"] = "mean",
        seed_method: Literal["centroid", "knn"] = "centroid",
        knn_k: int = 10,
        block_cells: int = 1 << 22,
        activity_weight: float = 0.0,
        norm_sample: int = 20_000,
        random_state: int = 0,
    ) -> None:
        if knn_k < 1 or block_cells < 1:
            raise InvalidInputError(
                f"knn_k and block_cells must be >= 1; got {knn_k}, {block_cells}"
            )
        self.pooling = pooling
        self.seed_method = seed_method
        self.knn_k = knn_k
        self.block_cells = block_cells
        self.activity_weight = activity_weight
        self.norm_sample = norm_sample
        self.random_state = random_state

    def fit(
        self,
        user_vectors: np.ndarray,
        item_vectors: np.ndarray,
        affinities: np.ndarray | None = None,
        activity: np.ndarray | None = None,
    ) -> Self:
        """Keep references (memory-mapped arrays stay mapped) and each user's vector norm.

        Parameters
        ----------
        user_vectors : (n_users, f) float32.
        item_vectors : (n_items, f) float32, same space.
        affinities : (n_users, n_circles) circle affinities, for circle targets.
        activity : (n_users,) recent events per user (used when ``activity_weight > 0``).
        """
        if user_vectors.shape[1] != item_vectors.shape[1]:
            raise InvalidInputError(
                f"user and item vectors differ in width: {user_vectors.shape[1]} != "
                f"{item_vectors.shape[1]}"
            )
        self.user_vectors_ = user_vectors
        self.item_vectors_ = item_vectors
        self.affinities_ = affinities
        n = user_vectors.shape[0]
        norms = np.empty(n, dtype=np.float32)
        for lo, hi in self._blocks(n, 1):
            norms[lo:hi] = np.linalg.norm(np.asarray(user_vectors[lo:hi], np.float32), axis=1)
        self.user_norms_ = norms
        self.activity_: np.ndarray | None = None
        if activity is not None:
            a = np.log1p(np.asarray(activity, np.float64))
            self.activity_ = ((a - a.mean()) / (a.std() or 1.0)).astype(np.float32)
        rng = np.random.default_rng(self.random_state)
        self.sample_ = np.sort(rng.choice(n, min(n, self.norm_sample), replace=False))
        return self

    @property
    def n_users_(self) -> int:
        self._check_fitted()
        return int(self.user_vectors_.shape[0])

    def has_vector(self) -> np.ndarray:
        """(n_users,) bool: users with a non-zero vector."""
        self._check_fitted()
        return self.user_norms_ > 0

    # -- ranking -----------------------------------------------------------------------------

    def scores(self, query: Query, *, progress: Progress | None = None) -> np.ndarray:
        """(n_users,) float32 score of every user; -inf where the query cannot rank a user."""
        score_block, width = self._block_scorer(query)
        out = np.empty(self.n_users_, dtype=np.float32)
        for lo, hi in self._blocks(self.n_users_, width):
            out[lo:hi] = score_block(slice(lo, hi))
            if progress is not None:
                progress(hi - lo)
        return out

    def scores_of(
        self, query: Query, rows: np.ndarray, *, progress: Progress | None = None
    ) -> np.ndarray:
        """(len(rows),) float32 scores of the users `rows` (sorted indices; runs of neighbouring
        rows read fastest), scored as `scores` scores them: a sample costs its size, not a pass
        over everyone."""
        score_block, width = self._block_scorer(query)
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty(len(rows), dtype=np.float32)
        for lo, hi in self._blocks(len(rows), width):
            out[lo:hi] = score_block(rows[lo:hi])
            if progress is not None:
                progress(hi - lo)
        return out

    def top(
        self,
        query: Query,
        eligible: np.ndarray,
        *,
        size: int | None,
        min_score: float | None = None,
        progress: Progress | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The best eligible users, best first (ties: lower index first).

        Keeps at most `size` users (None: no cap), only scores >= `min_score` when given.
        Returns (users int64, scores float32); -inf scores are never returned.
        """
        score_block, width = self._block_scorer(query)
        best_u, best_s = np.empty(0, np.int64), np.empty(0, np.float32)
        for lo, hi in self._blocks(self.n_users_, width):
            s = score_block(slice(lo, hi))
            s[~eligible[lo:hi]] = -np.inf
            keep = np.isfinite(s) if min_score is None else s >= min_score
            users = np.flatnonzero(keep).astype(np.int64) + lo
            best_u = np.concatenate([best_u, users])
            best_s = np.concatenate([best_s, s[keep]])
            if size is not None and len(best_u) > size:
                cut = np.argpartition(-best_s, size - 1)[:size]
                best_u, best_s = best_u[cut], best_s[cut]
            if progress is not None:
                progress(hi - lo)
        order = np.lexsort((best_u, -best_s))
        users, scores = best_u[order], best_s[order]
        if size is not None and len(users) > size:
            users, scores = users[:size], scores[:size]
        return users, scores

    # -- the block products ------------------------------------------------------------------

    def _block_scorer(self, query: Query) -> tuple[Rows, int]:
        """The block function of `query` (standardised and blended with activity when
        `activity_weight` > 0) and its width in columns."""
        raw, width = self._similarity(query)
        if self.activity_weight <= 0 or self.activity_ is None:
            return raw, width
        sample = raw(self.sample_)
        sample = sample[np.isfinite(sample)].astype(np.float64)
        mean = float(sample.mean()) if len(sample) else 0.0
        sd = float(sample.std()) if len(sample) > 1 else 0.0
        scale = 1.0 / sd if sd > 0 else 1.0
        activity, weight = self.activity_, self.activity_weight

        def blended(rows: slice | np.ndarray) -> np.ndarray:
            return ((raw(rows) - mean) * scale + weight * activity[rows]).astype(np.float32)

        return blended, width

    def _similarity(self, query: Query) -> tuple[Rows, int]:
        self._check_fitted()
        idx = np.asarray(query.indices, dtype=np.int64)
        if len(idx) == 0:
            raise InvalidInputError(f"a {query.kind} query needs at least one index")
        if query.kind == "circles":
            if self.affinities_ is None:
                raise InvalidInputError("circle targets need the circle affinities (fit them)")
            aff = self.affinities_

            def circles(rows: slice | np.ndarray) -> np.ndarray:
                return np.asarray(aff[rows][:, idx], np.float32).max(axis=1)

            return circles, len(idx)
        if query.kind == "items":
            vectors = np.asarray(self.item_vectors_[idx], np.float32)
            if self.pooling == "mean":
                w = np.ones(len(idx)) if query.weights is None else np.asarray(query.weights)
                w = w / w.sum() if w.sum() > 0 else np.full(len(idx), 1.0 / len(idx))
                q = (w @ vectors).astype(np.float32)[:, None]
                return self._dot(q, reduce=None), 1
            return self._dot(vectors.T.copy(), reduce="max"), len(idx)
        seeds = np.asarray(self.user_vectors_[idx], np.float32)
        norms = self.user_norms_[idx]
        seeds = seeds[norms > 0] / norms[norms > 0, None]
        if len(seeds) == 0:
            raise InvalidInputError("no seed user has a vector (no history): nothing to match")
        if self.seed_method == "centroid":
            q = seeds.mean(axis=0)
            return self._dot(
                (q / max(np.linalg.norm(q), 1e-12))[:, None], reduce=None, unit=True
            ), 1
        return self._dot(seeds.T.copy(), reduce="knn", unit=True), len(seeds)

    def _dot(
        self, q: np.ndarray, *, reduce: Literal["max", "knn"] | None, unit: bool = False
    ) -> Rows:
        users, norms, k = self.user_vectors_, self.user_norms_, self.knn_k

        def block(rows: slice | np.ndarray) -> np.ndarray:
            s = np.asarray(users[rows], np.float32) @ q
            if unit:
                n = norms[rows, None]
                s = np.divide(s, n, out=np.zeros_like(s), where=n > 0)
            if reduce is None:
                out = s[:, 0]
            elif reduce == "max":
                out = s.max(axis=1)
            else:
                kk = min(k, s.shape[1])
                out = np.partition(s, s.shape[1] - kk, axis=1)[:, -kk:].mean(axis=1)
            out = out.astype(np.float32, copy=False)
            out[norms[rows] == 0] = -np.inf
            return out

        return block

    def _blocks(self, n: int, width: int) -> list[tuple[int, int]]:
        rows = max(1024, self.block_cells // max(width, 1))
        return [(lo, min(lo + rows, n)) for lo in range(0, n, rows)]

    def _check_fitted(self) -> None:
        if not hasattr(self, "user_vectors_"):
            raise NotFittedError("SegmentScorer is not fitted; call fit(user_vectors, ...)")
