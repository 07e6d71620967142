"""Re-ranking: pure functions over one user's candidates, composed in the configured order.

Each re-ranker takes the candidates' item ids and scores, best first, plus the per-item arrays
it needs, and returns **positions** into its input: the candidates it keeps, in its order.
Returning positions (not new arrays) lets the composer carry everything aligned with the
candidates (reasons, group offers) through any chain. The page size `k` tells the page-level
rules (caps, the long-tail mix) how many positions they shape; what follows the first `k`
keeps its order, since the next page is ranked again.

The hard rules come first, always (`hard_rules`): the runtime's exclusion rule (bought,
group-bought and delisted items; interacted ones under the policy), closed or expired group
buys, and whatever earlier pages showed. Then the configured chain
(`recsys.feeds.feed_config.FeedConfig.rerankers`, default order below):

- ``overexposed``: items the impression log shows the user `max_impressions` times or more
  go (the user has seen them and passed);
- ``long_tail``: the exposure-aware, personal long-tail re-ranker of `recsys.feeds.long_tail`;
- ``circle_diversity``: at most ``ceil(circle_max_share * k)`` items of one circle per page;
- ``merchant_cap``: at most `merchant_max` items of one merchant per page;
- ``author_cap`` (circle feed): at most `author_max` posts of one author per page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from recsys.feeds.long_tail import Exposure, rerank_long_tail


@dataclass(frozen=True)
class PageContext:
    """What the re-rankers read about one user's page.

    Arrays named per item are indexed by item index; those named per candidate are aligned
    with the candidates handed to the chain.
    """

    k: int  # page size
    is_tail: np.ndarray  # per item, bool
    circle_of: np.ndarray  # per item, int (-1: no circle)
    merchant_of: np.ndarray  # per item, int code (-1: none)
    shown: np.ndarray  # per candidate, times the impression log shows it to this user
    exposure: Exposure | None  # item classes and the user's appetites (`long_tail`)
    tail_weight: float
    max_impressions: int
    circle_max_share: float
    merchant_max: int
    author_of: np.ndarray | None = None  # per entity, the author's code (circle feed)
    author_max: int = 2


Reranker = Callable[[np.ndarray, np.ndarray, PageContext], np.ndarray]


def drop_closed_groups(
    ids: np.ndarray, scores: np.ndarray, *, group_open: np.ndarray
) -> np.ndarray:
    """Positions of candidates that are not a closed or expired group buy.

    group_open : per candidate, False for an offer to join a group that is completed,
        failed or past its deadline; True for a live group and for plain items.
    """
    return np.flatnonzero(np.asarray(group_open, dtype=bool))


def hard_rules(
    ids: np.ndarray,
    *,
    allowed: np.ndarray,
    group_open: np.ndarray,
    shown_before: np.ndarray,
) -> np.ndarray:
    """Positions of the candidates that may be shown at all, in their order.

    allowed : per candidate, the runtime's exclusion rule (`ExclusionRule.keep`).
    group_open : per candidate (`drop_closed_groups`).
    shown_before : per candidate, on a page the cursor pins (pages never repeat).
    """
    ids = np.asarray(ids, dtype=np.int64)
    keep = np.zeros(len(ids), dtype=bool)
    keep[drop_closed_groups(ids, ids, group_open=group_open)] = True
    keep &= np.asarray(allowed, dtype=bool) & ~np.asarray(shown_before, dtype=bool) & (ids >= 0)
    return np.flatnonzero(keep)


def drop_overexposed(
    ids: np.ndarray, scores: np.ndarray, *, shown: np.ndarray, max_impressions: int
) -> np.ndarray:
    """Positions of candidates shown fewer than `max_impressions` times (0: keep all)."""
    shown = np.asarray(shown)
    if max_impressions <= 0:
        return np.arange(len(ids))
    return np.flatnonzero(shown < max_impressions)


def cap_per_group(
    ids: np.ndarray, scores: np.ndarray, *, group_of: np.ndarray, cap: int, k: int
) -> np.ndarray:
    """All positions, reordered so that the first `k` hold at most `cap` items of one group
    (group -1 is never capped): items over the cap move behind the page, in order. When the
    capped items cannot fill a page, the page is filled from those moved (caps yield to a
    full page)."""
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    if n == 0 or cap <= 0:
        return np.arange(n)
    group = np.asarray(group_of)[ids]
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    first = np.searchsorted(sorted_group, sorted_group, side="left")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - first
    within = (rank < cap) | (group < 0)
    fits = np.flatnonzero(within)
    page = fits[:k]
    if len(page) < min(k, n):  # not enough distinct groups: fill from those over the cap
        page = np.sort(np.concatenate([page, np.flatnonzero(~within)[: min(k, n) - len(page)]]))
    rest = np.setdiff1d(np.arange(n), page, assume_unique=True)
    return np.concatenate([page, rest])


def _overexposed(ids: np.ndarray, scores: np.ndarray, ctx: PageContext) -> np.ndarray:
    return drop_overexposed(ids, scores, shown=ctx.shown, max_impressions=ctx.max_impressions)


def _long_tail(ids: np.ndarray, scores: np.ndarray, ctx: PageContext) -> np.ndarray:
    if ctx.tail_weight <= 0 or ctx.exposure is None or not len(ids):
        return np.arange(len(ids))
    page = rerank_long_tail(ids[None, :], scores[None, :], ctx.exposure,
                            tail_weight=ctx.tail_weight, k=ctx.k)[0]
    page = page[page >= 0]
    rest = np.setdiff1d(np.arange(len(ids)), page, assume_unique=True)
    return np.concatenate([page, rest])


def _circle_diversity(ids: np.ndarray, scores: np.ndarray, ctx: PageContext) -> np.ndarray:
    cap = math.ceil(ctx.circle_max_share * ctx.k)
    return cap_per_group(ids, scores, group_of=ctx.circle_of, cap=cap, k=ctx.k)


def _merchant_cap(ids: np.ndarray, scores: np.ndarray, ctx: PageContext) -> np.ndarray:
    return cap_per_group(ids, scores, group_of=ctx.merchant_of, cap=ctx.merchant_max, k=ctx.k)


def _author_cap(ids: np.ndarray, scores: np.ndarray, ctx: PageContext) -> np.ndarray:
    if ctx.author_of is None:
        return np.arange(len(ids))
    return cap_per_group(ids, scores, group_of=ctx.author_of, cap=ctx.author_max, k=ctx.k)


#: The configurable chain, by name (`FeedConfig.rerankers` lists some of them, in order).
RERANKERS: Mapping[str, Reranker] = {
    "overexposed": _overexposed,
    "long_tail": _long_tail,
    "circle_diversity": _circle_diversity,
    "merchant_cap": _merchant_cap,
    "author_cap": _author_cap,
}


def compose(
    names: tuple[str, ...], ids: np.ndarray, scores: np.ndarray, ctx: PageContext
) -> np.ndarray:
    """Positions into (ids, scores) after every named re-ranker, in order.

    Per-candidate context arrays (`shown`) follow the candidates through the chain.
    """
    ids = np.asarray(ids, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    shown = np.asarray(ctx.shown)
    positions = np.arange(len(ids))
    for name in names:
        here = replace(ctx, shown=shown[positions])
        positions = positions[RERANKERS[name](ids[positions], scores[positions], here)]
    return positions
