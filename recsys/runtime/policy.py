"""Who gets what: the one policy deciding which source answers a user, and the fallback chains.

1. A known user with item history gets the bundle's **ranked** recommender
   (`recsys.recommenders.ranked`: candidate sources -> learned ranker, trained by `recsys
   train`'s `ranked` step) over their history row: the bundle's interacted row plus their live
   events newer than the bundle's data watermark, so a posted event changes the next answer
   (the item-based sources, the friends', circle and content sources read that row; the ALS
   source keeps the user's trained factors). A bundle without the ranked part (``[ranked]
   enabled = false``) or the policy's `ranked = false` gives them the **scorer**
   (`recsys.recommenders.shipped`) instead: their row of the confidence matrix and their
   factors rank the catalogue. Items a catalogue refresh appended after the ranked fit are
   not scored by it (they reach the user through the feed's other sources and the next
   retrain). The ranked recommender's sources propose unseen items only, so its users see no
   interacted item even with `exclude_interacted` off. Similar items, indexes, fold-in,
   segments and share targets always read the shipped scorer's vectors.
2. A known user without item history has an all-zero factor row, so the scorer could only
   return ties (the same arbitrary items for everyone). They get the **circle chain** instead:
   popularity raised by the circles they are placed in (placement learns from posts,
   engagement and friends, not only purchases). An item on the popular or trending list of a
   placed circle c scores ``popularity / max popularity * (1 + circle_boost * affinity[c])`` (its
   best circle when several hold it); every other item its plain popularity share, so the
   whole catalogue stays reachable. On synthetic cold users (users known without item
   history before a time cut, scored on the items they touch after it) this beat global
   popularity, where the earlier per-circle trending/popular interleave lost to it (0.044 vs
   0.084 NDCG@10): `circle_boost` 16 was chosen on a development seed (seed 1: popularity
   0.077, boost 4 / 8 / 16 / 32: 0.095 / 0.097 / 0.100 / 0.101; 32 gains under 0.001) and
   reported on another (bench/results/feed.md, cold users).
   A known user placed in no circle gets the global chain.
3. An unknown id gets the **global chain** (whole-catalogue trending and popular, interleaved,
   scores ``1 / (1 + r)``), with `unknown_user = "not_found"` an UnknownUserError instead.
   It never reaches another user's row: an id is looked up in the bundle's user map first, and
   only an index found there reads a row.

Any other user with **live events** (posted to the events API after the bundle's data
watermark) gets **fold-in** when the scorer can fold in (the recipe's ALS,
`recsys.runtime.fold_in`): their factors are recomputed from their training row plus those
events, so a new user's next answer is already personal. Where the scorer cannot fold in
(BPR), a known user with history keeps the scorer and everyone else the chains above. In
every case live purchases and group buys join the exclusions at once, and live interactions
join the interacted items.
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
    #: Serve known users with history from the bundle's ranked part when it has one (step 1);
    #: False serves them from the shipped scorer (fold-in included) as bundles without it do.
    ranked: bool = True
    #: What an id the bundle does not know gets: the global chain (200), or not_found
    #: (UnknownUserError, which the server maps to 404).
    unknown_user: Literal["global_chain", "not_found"] = "global_chain"
    #: At most this many items of friends' live group buys lead an answer; 0 turns it off.
    live_groups: int = Field(3, ge=0)
    #: Circle chain: how much a placed circle's affinity raises the popularity of the items on
    #: its popular list (step 2); 0 ranks by popularity alone.
    circle_boost: float = Field(16.0, ge=0.0)
    #: Share targets: never suggest a friend who bought the item in this many days (None: off).
    share_bought_window_days: float | None = Field(30.0, gt=0)
    #: Share targets: the same friend is suggested to the same user at most this often within
    #: `share_cap_window_days` (the caller counts past suggestions; None: no cap).
    share_max_suggestions: int | None = Field(3, gt=0)
    share_cap_window_days: float = Field(7.0, gt=0)


def choose_step(
    *, known: bool, has_history: bool, placed: bool, fresh: bool = False,
    can_fold_in: bool = False, ranked: bool = False,
) -> PolicyStep:
    """The policy's decision for one user (the module docstring's steps); `ranked`: the
    bundle has a ranked part and the policy serves it."""
    if known and has_history and ranked:
        return PolicyStep.RANKED
    if fresh and can_fold_in:
        return PolicyStep.FOLD_IN
    if not known:
        return PolicyStep.GLOBAL_CHAIN
    if has_history:
        return PolicyStep.SCORER
    return PolicyStep.CIRCLE_CHAIN if placed else PolicyStep.GLOBAL_CHAIN


def placed_circles(member: np.ndarray, affinity: np.ndarray) -> np.ndarray:
    """A user's member circles (one row of the circles part), highest affinity first (ties:
    catalogue order): the circles the circle chain raises."""
    placed = np.flatnonzero(np.asarray(member, dtype=bool))
    return placed[np.lexsort((placed, -np.asarray(affinity)[placed]))]


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


#: The circle chain's tag of an item on no placed circle's list.
_NO_CIRCLE = np.iinfo(np.int64).min


def circle_chain(
    circles: np.ndarray,
    affinity: np.ndarray,
    circle_ids: Sequence[str],
    lists: CandidateLists,
    keep: KeepFn,
    n: int,
    *,
    circle_boost: float = 16.0,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Popularity raised by the user's placed circles (the module docstring's step 2).

    Parameters
    ----------
    circles : the user's placed circle indices.
    affinity : (n_circles,) the user's affinities.
    circle_ids : the catalogue's circle ids (for the reasons).
    circle_boost : how much an affinity raises the items on that circle's popular and
        trending lists.

    Returns (items, scores, reasons), at most `n`, best first.
    """
    popularity = np.asarray(lists.item_popularity, np.float64)
    top = float(popularity.max()) if len(popularity) else 0.0
    share = popularity / top if top > 0 else np.zeros_like(popularity)
    # A circle's popular and trending lists both name its items (trending: -1 - circle).
    lists_of, circle_tags = [], []
    for c in circles:
        for source, tag in ((lists.popular, int(c)), (lists.trending, -1 - int(c))):
            got = np.asarray(source.get(int(c))[0], np.int64)
            lists_of.append(got)
            circle_tags.append(np.full(len(got), tag, np.int64))
    in_circle = np.concatenate(lists_of) if lists_of else np.empty(0, np.int64)
    tags = np.concatenate(circle_tags) if circle_tags else np.empty(0, np.int64)
    circle_of = np.where(tags >= 0, tags, -1 - tags)
    boost = np.asarray(affinity, np.float64)[circle_of] if len(circle_of) else np.empty(0)
    everything = np.asarray(lists.popular_all, np.int64)
    # Items past the global prefix score at most the prefix's last share (their circle lists
    # are read whole), so n eligible prefix items make the top n exact.
    budget = max(4 * n, 1)
    while True:
        prefix = everything[:budget]
        items = np.concatenate([in_circle, prefix])
        gain = np.concatenate([boost, np.zeros(len(prefix))])
        where = np.concatenate([tags, np.full(len(prefix), _NO_CIRCLE, np.int64)])
        if keep(prefix).sum() >= n or budget >= len(everything):
            break
        budget *= 4
    # One row per item: its largest boost (the best of its circles).
    order = np.lexsort((-gain, items))
    first = np.ones(len(order), bool)
    first[1:] = items[order][1:] != items[order][:-1]
    pick = order[first]
    items, gain, where = items[pick], gain[pick], where[pick]
    ok = keep(items)
    items, gain, where = items[ok], gain[ok], where[ok]
    scores = share[items] * (1.0 + circle_boost * gain)
    best = np.lexsort((items, -scores))[:n]
    items, scores, where = items[best], scores[best], where[best]
    reasons = [
        reason(ReasonCode.POPULAR) if t == _NO_CIRCLE
        else reason(ReasonCode.POPULAR_IN_CIRCLE, circle_ids[int(t)]) if t >= 0
        else reason(ReasonCode.TRENDING_IN_CIRCLE, circle_ids[int(-1 - t)])
        for t in where
    ]
    return items, scores, reasons
