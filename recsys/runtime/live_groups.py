"""Friends' live group buys: a real-time candidate source of the runtime policy.

A group a friend opened or joined after the bundle was trained is the strongest social signal
there is for an item ("my friend needs two more buyers"), and it is news: the trained lists
cannot know it. So the items of groups the user's friends started or joined since the data
watermark go first in the user's answer, with reasons `friend_started_group:<group_id>` and
`friends_joined:<n>`. Only open groups whose deadline has not passed, whose item is listed and
passes the exclusion rule (a group the user joined is a group buy of theirs, so it is
excluded). Ordered by how many friends are in it, then by the latest activity.

Pure over arrays and Arrow tables, so a feed can reuse it as one of its sources.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def live_group_candidates(
    friend_events: pa.Table,
    groups: pa.Table,
    items: IdMap,
    keep: KeepFn,
    *,
    now_us: int,
    n: int,
) -> LiveGroups:
    """Up to `n` items of groups friends started or joined.

    Parameters
    ----------
    friend_events : the friends' group_buy_start / join events since the watermark
        (user_id, type, group_id, item_id, ts_us), as `EventStore.group_events` returns them.
    groups : facts of those groups (`recsys.events.references.GROUP_FIELDS`).
    keep : the user's exclusion rule over item indices.
    now_us : the time of the answer (epoch microseconds): groups past their deadline drop.
    """
    if n <= 0 or friend_events.num_rows == 0 or groups.num_rows == 0:
        return LiveGroups(np.empty(0, np.int64), [])
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
    open_groups = [
        (g, item) for g, item, status, end in zip(
            facts["group_id"], facts["item_id"], facts["status"], deadline, strict=True)
        if status == GroupBuyStatus.OPEN.value and end >= now_us and g in latest
    ]
    if not open_groups:
        return LiveGroups(np.empty(0, np.int64), [])
    item_idx = items.to_index([item for _, item in open_groups])
    candidates = [(g, i) for (g, _), i in zip(open_groups, item_idx, strict=True) if i >= 0]
    allowed = keep(np.array([i for _, i in candidates], np.int64)) if candidates else []
    ranked = sorted(
        (c for c, ok in zip(candidates, allowed, strict=True) if ok),
        key=lambda c: (
            -len(started.get(c[0], set()) | joined.get(c[0], set())), -latest[c[0]], c[0]
        ),
    )
    out_items: list[int] = []
    out_reasons: list[tuple[str, ...]] = []
    for group, item in ranked:
        if item in out_items:  # two groups on one item: the better one speaks for it
            continue
        why = []
        if started.get(group):
            why.append(reason(ReasonCode.FRIEND_STARTED_GROUP, group))
        friends_in = len(joined.get(group, set()))
        if friends_in:
            why.append(reason(ReasonCode.FRIENDS_JOINED, str(friends_in)))
        out_items.append(int(item))
        out_reasons.append(tuple(why))
        if len(out_items) == n:
            break
    return LiveGroups(np.array(out_items, np.int64), out_reasons)
