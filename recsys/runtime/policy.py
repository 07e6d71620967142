"""Who gets what: the one policy deciding which source answers a user, and the fallback chains.

1. A known user with item history gets the scorer (`recsys.recommenders.shipped`): their row
   of the confidence matrix and their factors rank the catalogue.
2. A known user without item history has an all-zero factor row, so the scorer could only
   return ties (the same arbitrary items for everyone). They get the **circle chain** instead:
   the trending and popular lists of the circles they are placed in (placement learns from
   posts, engagement and friends, not only purchases), interleaved per circle (trending 1,
   popular 1, trending 2, ...) and weighted by affinity: an item at rank r of circle c's
   interleaved list scores ``affinity[c] / (1 + r)``; an item in several circles keeps its
   best. When those lists run out, the **global chain** fills the rest.
   A known user placed in no circle gets the global chain.
3. An unknown id gets the **global chain** (whole-catalogue trending and popular, interleaved,
   scores ``1 / (1 + r)``), with `unknown_user = "not_found"` an UnknownUserError instead.
   It never reaches another user's row: an id is looked up in the bundle's user map first, and
   only an index found there reads a row.

A user with **live events** (posted to the events API after the bundle's data watermark)
gets **fold-in** when the scorer can fold in (the recipe's ALS, `recsys.runtime.fold_in`):
their factors are recomputed from their training row plus those events, so a new user's next
answer is already personal. Where the scorer cannot fold in (BPR), a known user with history
keeps the scorer and everyone else the chains above. In every case live purchases and group
buys join the exclusions at once, and live interactions join the interacted items.
Then, for a user the social graph knows, the items of group buys their friends started or
joined since the watermark go first (`recsys.runtime.live_groups`, at most `live_groups`).

Every step applies the one exclusion rule (`recsys.runtime.exclusion`), so no source can
show a bought or delisted item. Scores are comparable within one answer, not across steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from recsys.candidate_lists import CandidateLists
from recsys.config import FrozenConfig
from recsys.runtime.answers import PolicyStep
from recsys.runtime.exclusion import EXCLUDE_INTERACTED
from recsys.runtime.reasons import ReasonCode, reason

#: Keeps the candidate items a user may be shown ((m,) int64 -> (m,) bool).
KeepFn = Callable[[np.ndarray], np.ndarray]


class RuntimePolicy(FrozenConfig):
    """The runtime's switches (documented with the policy in the module docstring)."""

    #: Exclude items the user interacted with, besides purchases, group buys and delisted
    #: items (always excluded). The default is the evaluation protocol's.
    exclude_interacted: bool = EXCLUDE_INTERACTED
    #: What an id the bundle does not know gets: the global chain (200), or not_found
    #: (UnknownUserError, which the server maps to 404).
    unknown_user: Literal["global_chain", "not_found"] = "global_chain"
    #: At most this many items of friends' live group buys lead an answer; 0 turns it off.
    live_groups: int = Field(3, ge=0)
    #: Share targets: never suggest a friend who bought the item in this many days (None: off).
    share_bought_window_days: float | None = Field(30.0, gt=0)
    #: Share targets: the same friend is suggested to the same user at most this often within
    #: `share_cap_window_days` (the caller counts past suggestions; None: no cap).
    share_max_suggestions: int | None = Field(3, gt=0)
    share_cap_window_days: float = Field(7.0, gt=0)


def choose_step(
    *, known: bool, has_history: bool, placed: bool, fresh: bool = False,
    can_fold_in: bool = False,
) -> PolicyStep:
    """The policy's decision for one user (the module docstring's steps)."""
    if fresh and can_fold_in:
        return PolicyStep.FOLD_IN
    if not known:
        return PolicyStep.GLOBAL_CHAIN
    if has_history:
        return PolicyStep.SCORER
    return PolicyStep.CIRCLE_CHAIN if placed else PolicyStep.GLOBAL_CHAIN


def interleave(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``first[0], second[0], first[1], second[1], ...`` with repeats dropped (first kept).

    Returns the items and, for each, 0 if it came from `first` and 1 if from `second`.
    """
    first, second = np.asarray(first, np.int64), np.asarray(second, np.int64)
    items = np.concatenate([first, second])
    slots = np.concatenate([2 * np.arange(len(first)), 2 * np.arange(len(second)) + 1])
    source = np.concatenate([np.zeros(len(first), np.int8), np.ones(len(second), np.int8)])
    order = np.argsort(slots, kind="stable")
    items, source = items[order], source[order]
    _, first_seen = np.unique(items, return_index=True)
    keep = np.sort(first_seen)
    return items[keep], source[keep]


def _eligible_prefix(
    first: np.ndarray, second: np.ndarray, keep: KeepFn, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first `n` eligible items of `interleave(first, second)`, reading only as much of the
    two lists as needed (the global lists hold the whole catalogue)."""
    budget = max(n, 1)
    while True:
        items, source = interleave(first[:budget], second[:budget])
        ok = keep(items)
        if ok.sum() >= n or budget >= max(len(first), len(second)):
            return items[ok][:n], source[ok][:n]
        budget *= 4


def global_chain(
    lists: CandidateLists, keep: KeepFn, n: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Whole-catalogue trending and popular items, interleaved: (items, scores, reasons)."""
    items, source = _eligible_prefix(lists.trending_all, lists.popular_all, keep, n)
    scores = 1.0 / (1.0 + np.arange(len(items)))
    codes = (ReasonCode.TRENDING, ReasonCode.POPULAR)
    return items, scores, [reason(codes[s]) for s in source]


def circle_chain(
    circles: np.ndarray,
    affinity: np.ndarray,
    circle_ids: Sequence[str],
    lists: CandidateLists,
    keep: KeepFn,
    n: int,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The placed circles' trending and popular items, then the global chain.

    Parameters
    ----------
    circles : the user's placed circle indices, highest affinity first.
    affinity : (n_circles,) the user's affinities.
    circle_ids : the catalogue's circle ids (for the reasons).

    Returns (items, scores, reasons), at most `n`, best first.
    """
    parts_items, parts_scores, parts_reasons = [], [], []
    for c in circles:  # a user is placed in a handful of circles
        trending, _ = lists.trending.get(int(c))
        popular, _ = lists.popular.get(int(c))
        items, source = _eligible_prefix(trending, popular, keep, n)
        parts_items.append(items)
        parts_scores.append(float(affinity[c]) / (1.0 + np.arange(len(items))))
        codes = (ReasonCode.TRENDING_IN_CIRCLE, ReasonCode.POPULAR_IN_CIRCLE)
        parts_reasons += [reason(codes[s], circle_ids[int(c)]) for s in source]
    items = np.concatenate(parts_items) if parts_items else np.empty(0, np.int64)
    scores = np.concatenate(parts_scores) if parts_scores else np.empty(0)
    # Best score first; ties by circle order then rank (the concatenation order); an item in
    # several circles keeps its first (best) occurrence.
    order = np.lexsort((np.arange(len(items)), -scores))
    _, first_seen = np.unique(items[order], return_index=True)
    pick = order[np.sort(first_seen)][:n]
    items, scores = items[pick], scores[pick]
    reasons = [parts_reasons[i] for i in pick]
    if len(items) < n:
        taken = items

        def keep_new(candidates: np.ndarray) -> np.ndarray:
            return keep(candidates) & ~np.isin(candidates, taken)

        more, _, more_reasons = global_chain(lists, keep_new, n - len(items))
        floor = float(scores.min()) if len(scores) else 1.0
        items = np.concatenate([items, more])
        scores = np.concatenate([scores, floor / (2.0 + np.arange(len(more)))])
        reasons += more_reasons
    return items, scores, reasons
