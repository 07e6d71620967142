"""Friends' live group buys: a real-time candidate source of the runtime policy.

A group a friend opened or joined after the bundle was trained is the strongest social signal
there is for an item ("my friend needs two more buyers"), and it is news: the trained lists
cannot know it. So the items of groups the user's friends started or joined since the data
watermark go first in the user's answer, with reasons `friend_started_group:<group_id>` and
`friends_joined:<n>`. Only open groups whose deadline has not passed, whose item is listed and
passes the exclusion rule (a group the user joined is a group buy of theirs, so it is
excluded). Ordered by how many friends are in it, then by the latest activity.

Pure over arrays and Arrow tables: `friend_group_offers` gathers every group friends touched,
unfiltered, so a feed (`recsys.feeds.feed`) can apply its own hard rules to them;
`live_group_candidates` keeps the open ones the exclusion rule allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from recsys.contract import EventType, GroupBuyStatus
from recsys.idmap import IdMap
from recsys.runtime.policy import KeepFn
from recsys.runtime.reasons import ReasonCode, reason


@dataclass(frozen=True)
class LiveGroups:
    """Candidate items from friends' groups, best first."""

    items: np.ndarray  # (m,) int64 item indices
    reasons: list[tuple[str, ...]]
    groups: list[str] = field(default_factory=list)  # the group that speaks for each item


@dataclass(frozen=True)
class GroupOffers:
    """Every group friends started or joined, one per item, best first, unfiltered: a feed
    applies its own hard rules (`recsys.feeds.rerank.drop_closed_groups`) to `open`."""

    groups: list[str]
    items: np.ndarray  # (m,) int64 item indices
    #: (m,) bool: status open and the deadline not passed at the time asked.
    open: np.ndarray
    reasons: list[tuple[str, ...]]


def friend_group_offers(
    friend_events: pa.Table, groups: pa.Table, items: IdMap, *, now_us: int
) -> GroupOffers:
    """The items of groups friends started or joined, one group per item (an open one first,
    then the one with most friends, then the latest activity), best first in that order.

    Parameters
    ----------
    friend_events : the friends' group_buy_start / join events since the watermark
        (user_id, type, group_id, item_id, ts_us), as `EventStore.group_events` returns them.
    groups : facts of those groups (`recsys.events.references.GROUP_FIELDS`).
    now_us : the time of the answer (epoch microseconds): groups past their deadline are not
        open.
    """
    empty = GroupOffers([], np.empty(0, np.int64), np.empty(0, bool), [])
    if friend_events.num_rows == 0 or groups.num_rows == 0:
        return empty
    ev = friend_events.to_pydict()
    started: dict[str, set[str]] = {}
    joined: dict[str, set[str]] = {}
    latest: dict[str, int] = {}
    for user, kind, group, ts in zip(ev["user_id"], ev["type"], ev["group_id"], ev["ts_us"],
                                     strict=True):
        target = started if kind == EventType.GROUP_BUY_START.value else joined
        target.setdefault(group, set()).add(user)
        latest[group] = max(ts, latest.get(group, ts))
    facts = groups.to_pydict()
    deadline = groups["deadline_ts"].cast(pa.int64()).to_pylist()
    known = [
        (g, item, status == GroupBuyStatus.OPEN.value and end >= now_us)
        for g, item, status, end in zip(
            facts["group_id"], facts["item_id"], facts["status"], deadline, strict=True)
        if g in latest
    ]
    if not known:
        return empty
    item_idx = items.to_index([item for _, item, _ in known])
    ranked = sorted(
        ((g, int(i), is_open) for (g, _, is_open), i in zip(known, item_idx, strict=True)
         if i >= 0),
        key=lambda c: (
            not c[2], -len(started.get(c[0], set()) | joined.get(c[0], set())), -latest[c[0]],
            c[0],
        ),
    )
    out_groups: list[str] = []
    out_items: list[int] = []
    out_open: list[bool] = []
    out_reasons: list[tuple[str, ...]] = []
    seen: set[int] = set()
    for group, item, is_open in ranked:
        if item in seen:  # two groups on one item: the better one speaks for it
            continue
        seen.add(item)
        why = []
        if started.get(group):
            why.append(reason(ReasonCode.FRIEND_STARTED_GROUP, group))
        friends_in = len(joined.get(group, set()))
        if friends_in:
            why.append(reason(ReasonCode.FRIENDS_JOINED, str(friends_in)))
        out_groups.append(group)
        out_items.append(item)
        out_open.append(is_open)
        out_reasons.append(tuple(why))
    return GroupOffers(out_groups, np.array(out_items, np.int64), np.array(out_open, bool),
                       out_reasons)


def live_group_candidates(
    friend_events: pa.Table,
    groups: pa.Table,
    items: IdMap,
    keep: KeepFn,
    *,
    now_us: int,
    n: int,
) -> LiveGroups:
    """Up to `n` items of open groups friends started or joined, that `keep` allows.

    Parameters as `friend_group_offers`; `keep` is the user's exclusion rule over item
    indices.
    """
    if n <= 0:
        return LiveGroups(np.empty(0, np.int64), [])
    offers = friend_group_offers(friend_events, groups, items, now_us=now_us)
    ok = offers.open.copy()
    if len(ok):
        ok &= keep(offers.items)
    pick = np.flatnonzero(ok)[:n]
    return LiveGroups(offers.items[pick], [offers.reasons[i] for i in pick],
                      [offers.groups[i] for i in pick])
