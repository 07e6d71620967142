"""Fold-in: a user's factors from their history row, by implicit's own `recalculate_user`.

The shipped scorer ranks by ``user_factors . item_vectors``; a user whose history grew after
training (or who is new) needs a new factor row. ALS gives it exactly: the least-squares step ALS
itself takes for one user with the item factors held fixed. `FoldIn` wraps an `implicit`
`AlternatingLeastSquares` whose item factors are the bundle's item vectors (content-mapped rows
for cold items included) and asks it for that step, with the recipe's regularization and alpha.

Nothing is written to the shared arrays: implicit's solver takes a writable buffer, so the item
vectors are re-opened copy-on-write (`mmap_mode="c"`) over the bundle's file: pages stay shared
with the read-only map of every worker, and the solver only reads them. `YtY` is computed once
here, before threads share the object; `recalculate_user` then allocates its own output, so
calls from many threads are safe.

Fresh events become confidence the way training makes it (`recsys.features.interactions`):
the recipe's weight per event type, `post_item_factor` for an action on a post that names an
item. Only the shipped recipe's ALS can fold in; another CF model (BPR) has no such step, and
the policy falls back (`recsys.runtime.policy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

from recsys.bundle.parts import PostsAndGroups
from recsys.events.store import UserEvents
from recsys.features.interactions import PURCHASE_TYPES, InteractionConfig
from recsys.idmap import IdMap
from recsys.recommenders._implicit import single_threaded_blas
from recsys.recommenders.shipped import ShippedRecommender


def shared_writable(array: np.ndarray) -> np.ndarray:
    """A writable view of a read-only array without copying it: a memory-mapped `.npy` is
    re-opened copy-on-write (writes would stay private; none are made), anything else copied."""
    if array.flags.writeable:
        return array
    if isinstance(array, np.memmap) and array.filename is not None:
        order = "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
        return np.memmap(
            array.filename, dtype=array.dtype, mode="c", offset=array.offset,
            shape=array.shape, order=order,
        )
    return np.array(array)


class FoldIn:
    """implicit's `recalculate_user` over a shipped ALS scorer's item vectors."""

    def __init__(self, scorer: ShippedRecommender) -> None:
        cf = scorer.config.cf
        vectors = shared_writable(np.asarray(scorer.item_vectors_))
        if vectors.dtype != np.float32 or not vectors.flags.c_contiguous:
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with single_threaded_blas():
            als = AlternatingLeastSquares(
                factors=vectors.shape[1],
                regularization=cf.regularization,
                alpha=cf.alpha,
                dtype=np.float32,
                num_threads=1,
            )
        als.item_factors = vectors
        _ = als.YtY  # cached now, before threads share the model
        self._als = als
        self.n_items = vectors.shape[0]

    @classmethod
    def for_scorer(cls, scorer: ShippedRecommender) -> FoldIn | None:
        """A fold-in for an ALS recipe; None for a CF model without one (BPR)."""
        return cls(scorer) if scorer.config.cf.model == "als" else None

    def user_factors(self, row: sp.csr_matrix) -> np.ndarray:
        """(f,) float32 factors of one user from a (1, n_items) confidence row."""
        return np.asarray(self._als.recalculate_user(0, sp.csr_matrix(row, dtype=np.float32)))


@dataclass(frozen=True)
class FreshHistory:
    """A user's live events as item confidence: what fold-in adds and exclusion hides."""

    items: np.ndarray  # (m,) int64 item indices, one per usable event
    weights: np.ndarray  # (m,) float32
    purchased: np.ndarray  # unique item indices bought or group-bought

    def __bool__(self) -> bool:
        return bool(len(self.items))

    def row(self, base: sp.csr_matrix | None, n_items: int) -> sp.csr_matrix:
        """(1, n_items) confidence: `base` (the training row, if any) plus these events.

        Built from the arrays directly: scipy's sparse sum costs more than the fold-in itself.
        """
        if base is not None:
            idx = np.concatenate([np.asarray(base.indices, np.int64), self.items])
            weight = np.concatenate([np.asarray(base.data, np.float64), self.weights])
        else:
            idx, weight = self.items, self.weights.astype(np.float64)
        cols, where = np.unique(idx, return_inverse=True)
        data = np.bincount(where, weights=weight, minlength=len(cols)).astype(np.float32)
        return sp.csr_matrix(
            (data, cols.astype(np.int32), np.array([0, len(cols)], np.int32)),
            shape=(1, n_items),
        )


def fresh_history(
    events: UserEvents,
    items: IdMap,
    posts_groups: PostsAndGroups,
    config: InteractionConfig,
) -> FreshHistory:
    """Weighted item indices of live events, as training weighs the log.

    An event counts for its item; an event naming only a post counts for the post's item
    (the bundle's posts, or a live post the store resolved) times `post_item_factor`; deleted
    posts do not attribute unless `include_deleted_posts`. Unknown types and items drop out.
    """
    n = len(events)
    if not n:
        empty = np.empty(0, np.int64)
        return FreshHistory(empty, np.empty(0, np.float32), empty)
    has_item = events.item_ids != None  # noqa: E711 - an object array of ids and None
    item = np.full(n, -1, np.int64)
    if has_item.any():
        item[has_item] = items.to_index(events.item_ids[has_item])
    direct = item >= 0
    on_post = ~has_item & (events.post_ids != None)  # noqa: E711
    if on_post.any():  # a post stands for the item it names (one lookup per kind of post)
        rows = posts_groups.posts.to_index(events.post_ids[on_post])
        via = np.full(len(rows), -1, np.int64)
        known = rows >= 0
        via[known] = np.asarray(posts_groups.post_item)[rows[known]]
        if not config.include_deleted_posts:
            via[known & np.asarray(posts_groups.post_deleted)[np.maximum(rows, 0)]] = -1
        live = ~known & (events.post_item_ids[on_post] != None)  # noqa: E711
        if live.any():
            via[live] = items.to_index(events.post_item_ids[on_post][live])
        item[on_post] = via
    weight = _weights(events.types, config.weights)
    weight = np.where(direct, weight, weight * config.post_item_factor).astype(np.float32)
    usable = (item >= 0) & (weight > 0)
    bought = usable & direct & np.isin(events.types, PURCHASE_TYPES)
    return FreshHistory(
        items=item[usable], weights=weight[usable], purchased=np.unique(item[bought])
    )


def _weights(types: np.ndarray, weights: Mapping[str, float]) -> np.ndarray:
    return np.array([weights.get(str(t), 0.0) for t in types], dtype=np.float32)
