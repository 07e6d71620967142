"""Scope: what a caller may name in a segment request, resolved to item and user indices.

A merchant (`Scope(merchant_id=...)`) may name only its own items and brands (a brand scores
only the merchant's items of it), seed only its own customers, and excludes only the buyers of
its own items; circles and categories are open to everyone. Every refusal is one `ScopeError`
whose message names neither the ids nor whether they exist: another merchant's item and an item
that exists nowhere are refused with the same words. An unscoped caller (admin) may name
anything; ids that do not exist are then plain unknown-id errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from recsys.bundle.parts import BundleParts
from recsys.errors import InvalidInputError, ScopeError, UnknownItemError, UnknownUserError
from recsys.segments.request import SegmentRequest, TargetKind


@dataclass(frozen=True)
class Scope:
    """Who asks: a merchant id, or None for an unrestricted (admin or offline) caller."""

    merchant_id: str | None = None

    @property
    def owner(self) -> str:
        """The owner recorded on jobs this caller creates."""
        return "admin" if self.merchant_id is None else f"merchant:{self.merchant_id}"


def refusal(what: str) -> ScopeError:
    """The one refusal of a foreign or unknown id of kind `what` (same words for both)."""
    return ScopeError(f"target names {what} that are not this merchant's; nothing was computed")


@dataclass(frozen=True)
class Resolved:
    """A request resolved under a scope into indices of the bundle.

    Attributes
    ----------
    kind : the target kind.
    items : (k,) int64 items whose vectors score the audience (item, brand, category).
    item_weights : (k,) float64 pooling weights of `items` (popularity for brands and
        categories, uniform for named items).
    seeds : (s,) int64 seed users (look-alike); they are never in their own audience.
    circles : (c,) int64 target circles (circle targets).
    truth_items : items whose later buyers the back-tested reach counts.
    exclude_items : items whose buyers `exclude_buyers` leaves out (the merchant's own only).
    filter_circles : (f,) int64 circles of the circle filter (empty: no filter).
    """

    kind: TargetKind
    items: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    item_weights: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))
    seeds: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    circles: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    truth_items: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    exclude_items: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    filter_circles: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))


def resolve(
    parts: BundleParts,
    request: SegmentRequest,
    scope: Scope,
    *,
    popularity: np.ndarray | None = None,
) -> Resolved:
    """Resolve `request` under `scope`, or raise ScopeError / an unknown-id error.

    `popularity` (distinct users per item, the brand and category pooling weights) is
    computed when not given; a `Segmenter` passes the copy it keeps.
    """
    catalogue = parts.catalogue
    merchants = catalogue.strings("merchant_id")
    own = (
        np.ones(len(catalogue), dtype=bool)
        if scope.merchant_id is None
        else merchants == scope.merchant_id
    )
    kind, ids = request.target.kind, request.target.ids
    filter_circles = _circle_indices(parts, request.filters.circles, "filters.circles")
    if popularity is None:
        popularity = item_popularity(parts)
    if kind is TargetKind.ITEM:
        idx = parts.ids.items.to_index(ids).astype(np.int64)
        if scope.merchant_id is not None and ((idx < 0).any() or not own[idx[idx >= 0]].all()):
            raise refusal("items")
        if (idx < 0).any():
            raise UnknownItemError(f"target.ids: unknown item ids {_some(ids, idx < 0)}")
        return Resolved(kind, items=idx, item_weights=np.ones(len(idx)), truth_items=idx,
                        exclude_items=idx, filter_circles=filter_circles)  # fmt: skip
    if kind is TargetKind.BRAND:
        brands = catalogue.strings("brand")
        hit = np.isin(brands, np.asarray(ids, dtype=object)) & own
        found = set(brands[hit].tolist())
        if len(found) != len(ids):
            if scope.merchant_id is not None:
                raise refusal("brands")
            raise InvalidInputError(f"target.ids: unknown brands {sorted(set(ids) - found)[:10]}")
        items = np.flatnonzero(hit).astype(np.int64)
        return Resolved(kind, items=items, item_weights=popularity[items], truth_items=items,
                        exclude_items=items, filter_circles=filter_circles)  # fmt: skip
    if kind is TargetKind.CATEGORY:
        categories = catalogue.strings("category")
        hit = np.isin(categories, np.asarray(ids, dtype=object))
        unknown = sorted(set(ids) - set(categories[hit].tolist()))
        if unknown:  # categories are open to all: naming an unknown one reveals nothing
            raise InvalidInputError(f"target.ids: unknown categories {unknown[:10]}")
        items = np.flatnonzero(hit).astype(np.int64)
        return Resolved(kind, items=items, item_weights=popularity[items], truth_items=items,
                        exclude_items=items[own[items]], filter_circles=filter_circles)  # fmt: skip
    if kind is TargetKind.CIRCLE:
        circles = _circle_indices(parts, ids, "target.ids")
        in_circles = np.isin(np.asarray(catalogue.circle_idx), circles)
        items = np.flatnonzero(in_circles).astype(np.int64)
        return Resolved(kind, circles=circles, truth_items=items,
                        exclude_items=items[own[items]], filter_circles=filter_circles)  # fmt: skip
    # Seed list (look-alike).
    users = parts.ids.users.to_index(ids).astype(np.int64)
    purchased = parts.history.purchased
    if scope.merchant_id is not None:
        if (users < 0).any() or not _bought_any(purchased, users, own).all():
            raise refusal("users that are not its customers, i.e. seed users")
    elif (users < 0).any():
        raise UnknownUserError(f"target.ids: unknown user ids {_some(ids, users < 0)}")
    own_items = np.flatnonzero(own).astype(np.int64)
    bought = _items_bought_by(purchased, users) & own
    return Resolved(kind, seeds=np.unique(users), truth_items=np.flatnonzero(bought),
                    exclude_items=own_items if scope.merchant_id is not None
                    else np.flatnonzero(bought), filter_circles=filter_circles)  # fmt: skip


def buyers_of(purchased: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
    """(n_users,) bool: bought any of `items` (one pass over the purchase cells)."""
    wanted = np.zeros(purchased.shape[1], dtype=bool)
    wanted[np.asarray(items, dtype=np.int64)] = True
    return _rows_hitting(purchased, wanted)


def _rows_hitting(matrix: sp.csr_matrix, columns: np.ndarray) -> np.ndarray:
    """(n_rows,) bool: the row has a cell in one of the `columns` (a bool mask), without
    copying the matrix (one bool per cell)."""
    if matrix.nnz == 0:
        return np.zeros(matrix.shape[0], dtype=bool)
    hit = np.append(columns[np.asarray(matrix.indices)], False)
    starts = np.asarray(matrix.indptr[:-1])
    # reduceat gives an empty row the value at its start (the next row's first cell): mask it.
    return np.logical_or.reduceat(hit, starts) & (np.diff(np.asarray(matrix.indptr)) > 0)


def _bought_any(purchased: sp.csr_matrix, users: np.ndarray, own: np.ndarray) -> np.ndarray:
    return _rows_hitting(purchased[users], own)


def _items_bought_by(purchased: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
    bought = np.zeros(purchased.shape[1], dtype=bool)
    bought[np.asarray(purchased[users].indices)] = True
    return bought


def _circle_indices(parts: BundleParts, ids: list[str], where: str) -> np.ndarray:
    known = {c: i for i, c in enumerate(parts.circles.catalogue.ids)}
    unknown = [c for c in ids if c not in known]
    if unknown:  # the circle catalogue is public (GET /v1/circles)
        raise InvalidInputError(f"{where}: unknown circles {unknown[:10]}")
    return np.asarray([known[c] for c in ids], dtype=np.int64)


def item_popularity(parts: BundleParts) -> np.ndarray:
    """Distinct users per item: pooled brand and category vectors lean on well-observed items."""
    return np.bincount(
        np.asarray(parts.history.interacted.indices), minlength=len(parts.ids.items)
    ).astype(np.float64)


def _some(ids: list[str], bad: np.ndarray) -> list[str]:
    return [i for i, b in zip(ids, bad, strict=True) if b][:10]
