"""One small contract for every recommender (after implicit's `RecommenderBase`).

A recommender is fitted on a user x item confidence matrix (CSR, users in rows) and answers in
batches with arrays: ``ids, scores = model.recommend(user_ids, user_items[user_ids], k=10)``.
Subclasses implement `fit`, `_score` (dense scores for a batch of users) and persistence; the
base class does top-k selection, filtering and batching once, for all of them. Models that can
say which items resemble an item implement `_item_similarity`, and `similar_items` answers with
the same arrays: ``ids, scores = model.similar_items(item_ids, k=10)``.

User ids a model was not fitted on are the caller's business, decided before scoring (the runtime
policy, `recsys.runtime.policy`): the shipped scorer raises UnknownUserError for them.
Persistence writes arrays (`.npy`) and JSON, never pickles, so a bundle is safe to load.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recsys.errors import BundleError, InvalidInputError, NotFittedError, UnknownItemError

# Score at most this many (user, item) cells at once, to bound memory on big catalogues.
_MAX_CELLS_PER_BATCH = 1 << 24


def cosine_to(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(len(rows), n) cosine similarity of `vectors[rows]` to every row of `vectors`.

    Zero rows (an item nobody touched and no content mapped) have similarity 0 to everything.
    """
    v = np.asarray(vectors, dtype=np.float32)
    # einsum and one (m, n) product: no temporary copy of all n vectors (GBs at 1M items).
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))
    norms[norms == 0] = 1.0
    return (v[rows] @ v.T) / (norms[rows, None] * norms[None, :])


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k of a dense score matrix, best first.

    Parameters
    ----------
    scores : (n_rows, n_items) float array; -inf marks excluded cells.
    k : number of items per row; clipped to n_items.

    Returns
    -------
    ids : (n_rows, k) int64, -1 where fewer than k items were eligible.
    values : (n_rows, k) float32, -inf where ids is -1.
    """
    n_rows, n_items = scores.shape
    k = min(k, n_items)
    if k <= 0:
        return np.empty((n_rows, 0), np.int64), np.empty((n_rows, 0), np.float32)
    if k < n_items:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.tile(np.arange(n_items), (n_rows, 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    # Stable order on ties (lower item index first) keeps results reproducible.
    order = np.lexsort((part, -part_scores), axis=1)
    ids = np.take_along_axis(part, order, axis=1).astype(np.int64)
    values = np.take_along_axis(part_scores, order, axis=1).astype(np.float32)
    ids[~np.isfinite(values)] = -1
    return ids, values


class Recommender(ABC):
    """Base of all recommenders: `fit` -> self, batch `recommend`, `save` / `load`."""

    #: Name used in configs, manifests and reports.
    name: ClassVar[str] = "base"

    n_items_: int

    @abstractmethod
    def fit(self, user_items: sp.csr_matrix, *, show_progress: bool = True) -> Self:
        """Learn from a (n_users, n_items) confidence matrix; returns self.

        `show_progress` lets iterative models draw a progress bar; tuning turns it off, since
        a bar per trial buries the log. Closed-form models ignore it.
        """

    @abstractmethod
    def _score(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """Dense (len(user_ids), n_items) float32 scores; higher is better."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_items_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load()")

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
        """Top-k items for a batch of users.

        Which items to leave out is one rule (`recsys.runtime.exclusion.ExclusionRule`), which
        fills the three exclusion arguments the same way for serving and for evaluation.

        Parameters
        ----------
        user_ids : (n,) dense user indices.
        user_items : (n, n_items) CSR rows of those users' interactions (same order).
        k : items per user.
        filter_already_liked_items : drop items the user already interacted with.
        exclude_items : item indices never to recommend to anyone (e.g. delisted).
        exclude_cells : (n, n_items) sparse, rows in `user_ids` order; a nonzero cell is an
            item never to recommend to that user (e.g. what they bought).

        Returns
        -------
        ids : (n, k) int64 item indices, best first; -1 pads rows with fewer eligible items.
        scores : (n, k) float32.
        """
        self._check_fitted()
        user_ids = np.asarray(user_ids, dtype=np.int64)
        if user_items.shape[0] != len(user_ids):
            raise InvalidInputError(
                f"user_items has {user_items.shape[0]} rows but {len(user_ids)} user ids were given"
            )
        if user_items.shape[1] != self.n_items_:
            raise InvalidInputError(
                f"user_items has {user_items.shape[1]} columns; "
                f"the model knows {self.n_items_} items"
            )
        user_items = sp.csr_matrix(user_items)
        if exclude_cells is not None:
            exclude_cells = sp.csr_matrix(exclude_cells)
            if exclude_cells.shape != user_items.shape:
                raise InvalidInputError(
                    f"exclude_cells has shape {exclude_cells.shape}; "
                    f"expected {user_items.shape} like user_items"
                )
        def scores_of(rows: slice) -> np.ndarray:
            scores = np.asarray(self._score(user_ids[rows], user_items[rows]), dtype=np.float32)
            if filter_already_liked_items:
                seen = user_items[rows].tocoo()
                scores[seen.row, seen.col] = -np.inf
            if exclude_cells is not None:
                cells = exclude_cells[rows].tocoo()
                scores[cells.row[cells.data != 0], cells.col[cells.data != 0]] = -np.inf
            return scores

        return self._top_k_in_batches(len(user_ids), scores_of, k, exclude_items)

    def _top_k_in_batches(
        self,
        n_rows: int,
        scores_of: Callable[[slice], np.ndarray],
        k: int,
        exclude_items: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Row-wise top-k of ``scores_of(rows)`` for batches of rows whose dense score block
        stays under `_MAX_CELLS_PER_BATCH`; `exclude_items` columns are -inf everywhere."""
        batch = max(1, _MAX_CELLS_PER_BATCH // max(self.n_items_, 1))
        all_ids, all_scores = [], []
        for start in range(0, n_rows, batch):
            scores = scores_of(slice(start, start + batch))
            if exclude_items is not None and len(exclude_items):
                scores[:, exclude_items] = -np.inf
            ids, vals = top_k(scores, k)
            all_ids.append(ids)
            all_scores.append(vals)
        if not all_ids:
            k = min(k, self.n_items_)
            return np.empty((0, k), np.int64), np.empty((0, k), np.float32)
        return np.vstack(all_ids), np.vstack(all_scores)

    # -- similar items -----------------------------------------------------------------------

    def _item_similarity(self, item_ids: np.ndarray) -> np.ndarray | None:
        """Dense (len(item_ids), n_items) similarity of each item to every item; None when the
        model has no notion of item similarity (then `similar_items` is not supported)."""
        return None

    def similar_items(
        self,
        item_ids: np.ndarray | list[int],
        k: int = 10,
        *,
        exclude_items: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k items most similar to each of `item_ids`, never the item itself.

        Parameters
        ----------
        item_ids : (m,) dense item indices.
        k : items per query.
        exclude_items : item indices never to return (e.g. delisted).

        Returns
        -------
        ids : (m, k) int64, best first, -1 padded. scores : (m, k) float32.

        Raises UnknownItemError for an index outside the model's items, NotImplementedError
        for a model without item similarity (popularity).
        """
        self._check_fitted()
        item_ids = np.asarray(item_ids, dtype=np.int64).reshape(-1)
        bad = (item_ids < 0) | (item_ids >= self.n_items_)
        if bad.any():
            raise UnknownItemError(
                f"{self.name} knows items 0..{self.n_items_ - 1}; got {item_ids[bad][:5].tolist()}"
            )
        def scores_of(rows: slice) -> np.ndarray:
            query = item_ids[rows]
            sims = self._item_similarity(query)
            if sims is None:
                raise NotImplementedError(f"{type(self).__name__} has no item similarity")
            sims = np.array(sims, dtype=np.float32)  # a copy: -inf is written below
            sims[np.arange(len(query)), query] = -np.inf
            return sims

        return self._top_k_in_batches(len(item_ids), scores_of, k, exclude_items)

    # -- persistence: arrays as .npy, parameters as JSON, no pickles -----------------------

    def get_params(self) -> dict[str, Any]:
        """Constructor keyword arguments (JSON-serialisable)."""
        return {}

    def _state(self) -> dict[str, np.ndarray]:
        """Learned arrays to persist; subclasses extend."""
        return {}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:  # noqa: B027 - optional hook
        """Restore learned arrays; subclasses extend."""

    def save(self, directory: str | Path, *, only: Sequence[str] | None = None) -> None:
        """Write params.json and one .npy per learned array into `directory`.

        `only` names the arrays to write (params.json is always written): a catalogue refresh
        rewrites the item side of a saved model whose user side is gigabytes it did not change.
        """
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = self._state()
        unknown = sorted(set(only or ()) - set(state))
        if unknown:
            raise InvalidInputError(f"{self.name} has no arrays {unknown}; it has {sorted(state)}")
        meta = {"model": self.name, "params": self.get_params(), "n_items": int(self.n_items_)}
        (directory / "params.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        for key, array in state.items():
            if only is None or key in only:
                np.save(directory / f"{key}.npy", np.asarray(array), allow_pickle=False)

    @classmethod
    def load(cls, directory: str | Path, *, mmap: bool = False) -> Self:
        """Rebuild a fitted model saved by `save`; `mmap` memory-maps the arrays."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / "params.json").read_text())
        except FileNotFoundError:
            raise BundleError(f"{directory}: no params.json; not a saved {cls.__name__}") from None
        if meta.get("model") != cls.name:
            raise BundleError(f"{directory}: holds model {meta.get('model')!r}, not {cls.name!r}")
        model = cls(**meta["params"])
        state = {
            p.stem: np.load(p, mmap_mode="r" if mmap else None, allow_pickle=False)
            for p in sorted(directory.glob("*.npy"))
        }
        model._set_state(state)
        model.n_items_ = int(meta["n_items"])
        return model
