"""What share-targeting features read: counters over one history, the graph, affinities.

`ShareIndex(history)` builds "as of" counters (`EventCounter`) over a `ShareHistory`, for
training and evaluation, where every row asks about its own past group buy. `snapshot()` keeps
what a request after the last event needs (`EventTotals`: one row per key, no event times
beyond the latest), and `ShareIndex.from_snapshot` rebuilds an index from it plus the bundle's
social graph: the bundle part of share targeting (`recsys.bundle.parts.share`).

Keys of the counters encode pairs with the index's sizes (``user * n_users + friend``,
``user * n_items + item``, ``user * n_circles + circle``); a snapshot keeps those sizes, and
an item a refresh appended after training (index >= `n_items`) counts as never seen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.social.contact import pair_lookup
from recsys.social.event_counts import EventCounter, EventTotals, pair_keys
from recsys.social.history import ShareHistory
from recsys.social.share_features import US_PER_DAY, ShareQueries, feature_rows

#: Counters of an index, and whether a snapshot keeps each key's latest time.
COUNTERS: dict[str, bool] = {
    "pair_joins": False, "user_joins": False, "user_starts": False, "item_starts": False,
    "pair_shares": False, "user_asked": False, "co_joins": False, "item_groups": False,
    "item_bought": True, "user_events": False, "circle_events": False, "circle_groups": False,
    "contacts": True, "friendships": True,
}  # fmt: skip

Counts = Any  # EventCounter | EventTotals | _MatrixTotals: one counting interface
CandidateFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ShareSnapshot:
    """An index's counts after its last event (see the module docstring).

    Attributes
    ----------
    counters : `COUNTERS` name -> totals.
    user_items : (n_users, n_items) float32 CSR, item events outside group buys per pair.
    n_items, n_circles : the sizes the counter keys were encoded with.
    """

    counters: dict[str, EventTotals]
    user_items: sp.csr_matrix
    n_items: int
    n_circles: int

    def __post_init__(self) -> None:
        missing = set(COUNTERS) - set(self.counters)
        if missing:
            raise InvalidInputError(f"share snapshot lacks the counters {sorted(missing)}")
        if self.user_items.shape[1] != self.n_items:
            raise InvalidInputError(
                f"user_items has {self.user_items.shape[1]} items; the keys {self.n_items}"
            )


class ShareIndex:
    """Counters and matrices over one history, built once and read by any batch of rows.

    Parameters
    ----------
    history : what the features may know.
    circle_affinity : (n_users, n_circles) affinities (`CirclePlacer.predict_proba`), or None.
    user_factors, item_factors : CF factors (n_users, f) and (n_items, f), or None.
    friends : the history's friendships (`history.friends()`) when the caller holds them
        already (training: the bundle's social graph), or None to build them here.
    asked_by : (n_users,) bool, the only users whose group buys the caller will ask about
        (training: `history.initiators()`), or None for anyone. The "as of" counters then
        keep only what those rows read: those users' friendships and their friends' item
        events. The snapshot counts everyone's either way.
    """

    # The counters (`COUNTERS`, plus `item_events`): an `EventCounter` over a history, or
    # their totals (`EventTotals`) in an index from a snapshot.
    pair_joins: Counts
    user_joins: Counts
    user_starts: Counts
    item_starts: Counts
    pair_shares: Counts
    user_asked: Counts
    co_joins: Counts
    item_groups: Counts
    item_bought: Counts
    item_events: Counts
    user_events: Counts
    circle_events: Counts
    circle_groups: Counts
    contacts: Counts
    friendships: Counts

    def __init__(
        self,
        history: ShareHistory,
        *,
        circle_affinity: np.ndarray | None = None,
        user_factors: np.ndarray | None = None,
        item_factors: np.ndarray | None = None,
        friends: sp.csr_matrix | None = None,
        asked_by: np.ndarray | None = None,
    ) -> None:
        h = history
        n, n_items = h.n_users, h.n_items
        if asked_by is not None:
            asked_by = np.asarray(asked_by, bool)
            if asked_by.shape != (n,):
                raise InvalidInputError(f"asked_by has shape {asked_by.shape}; expected ({n},)")
        # First, while the index holds nothing else: its temporaries are the step's largest.
        user_items = sp.csr_matrix(
            (np.ones(len(h.event_user), np.float32), (h.event_user, h.event_item)),
            shape=(n, n_items),
        )
        user_items.sum_duplicates()
        initiator = h.group_initiator[h.join_group]
        c: dict[str, EventCounter] = {}
        c["pair_joins"] = EventCounter(initiator * n + h.join_user, h.join_ts, h.join_group)
        c["user_joins"] = EventCounter(h.join_user, h.join_ts, h.join_group)
        c["user_starts"] = EventCounter(h.group_initiator, h.group_created, np.arange(h.n_groups))
        c["item_starts"] = EventCounter(h.group_item, h.group_created, np.arange(h.n_groups))
        c["pair_shares"] = EventCounter(h.share_src * n + h.share_dst, h.share_ts)
        c["user_asked"] = EventCounter(h.share_dst, h.share_ts)
        a, b, t, g = _co_joins(h)
        c["co_joins"] = EventCounter(a * n + b, t, g)
        part_user = np.concatenate([h.group_initiator, h.join_user])
        part_item = np.concatenate([h.group_item, h.group_item[h.join_group]])
        part_ts = np.concatenate([h.group_created, h.join_ts])
        part_group = np.concatenate([np.arange(h.n_groups), h.join_group])
        c["item_groups"] = EventCounter(part_user * n_items + part_item, part_ts, part_group)
        bought = h.event_bought
        c["item_bought"] = EventCounter(
            np.concatenate([part_user * n_items + part_item,
                            pair_keys(h.event_user[bought], h.event_item[bought], n_items)]),
            np.concatenate([part_ts, h.event_ts[bought]]),
            np.concatenate([part_group, np.full(int(bought.sum()), -1)]),
        )  # fmt: skip
        n_circles = int(h.item_circle.max(initial=-1)) + 1
        nc = max(n_circles, 1)
        counted = None if asked_by is None else h.friends_of(asked_by)
        events, self._event_totals = _item_event_counters(h, nc, counted, user_items)
        c.update(events)
        part_circle = h.item_circle[part_item]
        known = part_circle >= 0
        c["circle_groups"] = EventCounter(
            part_user[known] * nc + part_circle[known], part_ts[known], part_group[known]
        )
        lo = np.minimum(np.concatenate([initiator, h.share_src]),
                        np.concatenate([h.join_user, h.share_dst]))  # fmt: skip
        hi = np.maximum(np.concatenate([initiator, h.share_src]),
                        np.concatenate([h.join_user, h.share_dst]))  # fmt: skip
        c["contacts"] = EventCounter(lo * n + hi, np.concatenate([h.join_ts, h.share_ts]))
        c["friendships"] = _friendship_counter(h, asked_by)
        self._friend_lists = _FriendLists(h)
        self._bind(
            counters=c, friends=h.friends() if friends is None else friends,
            blocked=h.blocked, opt_out=h.opt_out, item_circle=h.item_circle, n_items=n_items,
            n_circles=n_circles, user_items=user_items, candidates=self._friend_lists.at,
            circle_affinity=circle_affinity, user_factors=user_factors,
            item_factors=item_factors,
        )  # fmt: skip

    def _bind(
        self,
        *,
        counters: Mapping[str, Counts],
        friends: sp.csr_matrix,
        blocked: sp.spmatrix,
        opt_out: np.ndarray,
        item_circle: np.ndarray,
        n_items: int,
        n_circles: int,
        user_items: sp.csr_matrix,
        candidates: CandidateFn,
        circle_affinity: np.ndarray | None,
        user_factors: np.ndarray | None,
        item_factors: np.ndarray | None,
    ) -> None:
        n = len(opt_out)
        if friends.shape != (n, n):
            raise InvalidInputError(f"friends has shape {friends.shape}; expected ({n}, {n})")
        if circle_affinity is not None and circle_affinity.shape[0] != n:
            raise InvalidInputError(
                f"circle_affinity has {circle_affinity.shape[0]} rows; expected {n}"
            )
        if (user_factors is None) != (item_factors is None):
            raise InvalidInputError("give both user_factors and item_factors, or neither")
        if user_factors is not None and (
            len(user_factors) != n or len(item_factors) < n_items  # type: ignore[arg-type]
        ):
            raise InvalidInputError(f"factors must have {n} user rows and {n_items} item rows")
        self.counters = dict(counters)
        for name, counter in counters.items():
            setattr(self, name, counter)
        self.n_users, self.n_items, self.n_circles = n, int(n_items), int(n_circles)
        self.friends = friends
        self.blocked, self.opt_out = blocked, np.asarray(opt_out, bool)
        self.item_circle = np.asarray(item_circle, np.int64)
        self.user_items = user_items
        self.degree = np.diff(friends.indptr).astype(np.float64)
        self.circle_affinity = circle_affinity
        self.user_factors, self.item_factors = user_factors, item_factors
        self._candidates = candidates

    # -- snapshot ---------------------------------------------------------------------------

    def snapshot(self) -> ShareSnapshot:
        """What requests after this history's last event need (see the module docstring)."""
        totals = {}
        for name, with_last in COUNTERS.items():
            counter = self.counters[name]
            if not isinstance(counter, EventCounter):
                raise InvalidInputError("a snapshot is taken of an index built from a history")
            if name == "friendships":  # the friend lists hold every pair; the counter may not
                totals[name] = self._friend_lists.totals()
                continue
            kept = self._event_totals.get(name)
            totals[name] = kept if kept is not None else counter.totals(with_last=with_last)
        return ShareSnapshot(totals, sp.csr_matrix(self.user_items, dtype=np.float32),
                             self.n_items, self.n_circles)  # fmt: skip

    @classmethod
    def from_snapshot(
        cls,
        snapshot: ShareSnapshot,
        *,
        friends: sp.csr_matrix,
        blocked: sp.spmatrix,
        opt_out: np.ndarray,
        item_circle: np.ndarray,
        circle_affinity: np.ndarray | None = None,
        user_factors: np.ndarray | None = None,
        item_factors: np.ndarray | None = None,
    ) -> ShareIndex:
        """An index for new requests over `snapshot`, with the bundle's graph: every current
        friend is a candidate, every count is its total."""
        index = cls.__new__(cls)

        def candidates(user: np.ndarray, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            row, pos = _row_positions(friends.indptr, user)
            return row, np.asarray(friends.indices[pos], np.int64)

        counters: dict[str, Counts] = dict(snapshot.counters)
        counters["item_events"] = _MatrixTotals(snapshot.user_items)
        index._bind(
            counters=counters, friends=friends, blocked=blocked, opt_out=opt_out,
            item_circle=item_circle, n_items=snapshot.n_items, n_circles=snapshot.n_circles,
            user_items=snapshot.user_items, candidates=candidates,
            circle_affinity=circle_affinity, user_factors=user_factors,
            item_factors=item_factors,
        )  # fmt: skip
        return index

    # -- candidates and rows ---------------------------------------------------------------

    def candidates(self, queries: ShareQueries) -> tuple[np.ndarray, np.ndarray]:
        """Every friend each query's user had at the query's time.

        Returns
        -------
        row : (m,) int64 query index of each candidate, ascending.
        friend : (m,) int64 user index of the friend.
        """
        return self._candidates(queries.user, queries.time)

    def item_key(self, user: np.ndarray, item: np.ndarray) -> np.ndarray:
        """(m,) counter key of (user, item) pairs; -1 (never counted) for items appended after
        the counts were taken."""
        item = np.asarray(item, np.int64)
        return np.where(item < self.n_items, np.asarray(user, np.int64) * self.n_items + item, -1)

    def bought_within(
        self, queries: ShareQueries, row: np.ndarray, friend: np.ndarray, window_days: float
    ) -> np.ndarray:
        """(m,) bool: the friend bought the query's item (purchase, group start or join) in the
        `window_days` before the query's time (the query's own group left out)."""
        t = queries.time[row]
        return self.item_bought.any_between(
            self.item_key(friend, queries.item[row]), t - int(window_days * US_PER_DAY) - 1, t,
            queries.group[row],
        )

    def features(self, queries: ShareQueries, row: np.ndarray, friend: np.ndarray) -> np.ndarray:
        """(m, len(FEATURES)) float32 features of the candidate rows (`row` indexes `queries`)."""
        return feature_rows(self, queries, row, friend)


class _MatrixTotals:
    """Totals of ``user * n_items + item`` keys read from a (n_users, n_items) count matrix."""

    def __init__(self, matrix: sp.csr_matrix) -> None:
        self.matrix = matrix

    def count(self, keys: np.ndarray, times: object = None, exclude_groups: object = None
              ) -> np.ndarray:  # fmt: skip
        keys = np.asarray(keys, np.int64)
        n_items = self.matrix.shape[1]
        ok = keys >= 0
        out = np.zeros(len(keys))
        out[ok] = pair_lookup(self.matrix, keys[ok] // n_items, keys[ok] % n_items)
        return out


def _item_event_counters(
    h: ShareHistory, nc: int, counted_users: np.ndarray | None, user_items: sp.csr_matrix
) -> tuple[dict[str, EventCounter], dict[str, EventTotals]]:
    """The counters over item events outside group buys (`item_events`, `user_events`,
    `circle_events`: keyed by the friend asked about), over the events of `counted_users`
    only when given, with every user's totals for the snapshot then (read from `user_items`,
    the events per (user, item): no per-event temporary).

    Training asks about the friends of past groups' initiators: at 10M users ~20% of users,
    while ~100M item events in three counters did not fit beside the rest of training.
    """
    user, item, ts = h.event_user, h.event_item, h.event_ts
    totals: dict[str, EventTotals] = {}
    if counted_users is not None:
        per_user = np.bincount(user, minlength=h.n_users)
        seen = np.flatnonzero(per_user)
        totals["user_events"] = EventTotals(seen, per_user[seen].astype(np.float64))
        known = np.flatnonzero(h.item_circle >= 0)
        in_circle = sp.csr_matrix(
            (np.ones(len(known), np.float32), (known, h.item_circle[known])),
            shape=(h.n_items, nc),
        )  # fmt: skip
        per_circle = sp.csr_matrix(user_items @ in_circle)
        per_circle.sort_indices()
        totals["circle_events"] = EventTotals(
            _row_keys(per_circle.indptr, per_circle.indices, nc),
            per_circle.data.astype(np.float64),
        )
        del per_circle, in_circle
        keep = counted_users[user]
        user, item, ts = user[keep], item[keep], ts[keep]
    circle = h.item_circle[item]
    # The three share one copy of the events' distinct times.
    event_times = np.unique(ts)
    counters = {
        "item_events": EventCounter(pair_keys(user, item, h.n_items), ts,
                                    time_values=event_times),
        "user_events": EventCounter(user, ts, time_values=event_times),
    }
    # Circle-level history, as of each row's time (the placement's affinities are one
    # snapshot): the friend's item events in the item's circle.
    known = circle >= 0
    counters["circle_events"] = EventCounter(
        pair_keys(user[known], circle[known], nc), ts[known], time_values=event_times
    )
    return counters, totals


def _co_joins(h: ShareHistory) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ordered pairs of users who joined the same group (both directions), with the later
    join's time and the group."""
    order = np.argsort(h.join_group, kind="stable")
    g, user, ts = h.join_group[order], h.join_user[order], h.join_ts[order]
    start = np.searchsorted(g, g, side="left")
    size = np.bincount(g, minlength=h.n_groups)[g]
    # Every join paired with every other join of its group: sum of sizes^2, small per group.
    rep = np.repeat(np.arange(len(g)), size)
    other = start[rep] + (np.arange(len(rep)) - np.repeat(np.cumsum(size) - size, size))
    keep = rep != other
    a, b = user[rep[keep]], user[other[keep]]
    return a, b, np.maximum(ts[rep[keep]], ts[other[keep]]), g[rep[keep]]


def _friendship_counter(h: ShareHistory, asked_by: np.ndarray | None) -> EventCounter:
    """Friendship records keyed ``user * n_users + friend`` (both directions), of the users
    in `asked_by` only when given: features ask when the row's user befriended the friend."""
    n = h.n_users
    fwd = slice(None) if asked_by is None else asked_by[h.friend_src]
    bwd = slice(None) if asked_by is None else asked_by[h.friend_dst]
    return EventCounter(
        np.concatenate([pair_keys(h.friend_src[fwd], h.friend_dst[fwd], n),
                        pair_keys(h.friend_dst[bwd], h.friend_src[bwd], n)]),
        np.concatenate([h.friend_ts[fwd], h.friend_ts[bwd]]),
    )  # fmt: skip


class _FriendLists:
    """Friends of each user sorted by user: when each friendship began (its earliest record,
    either direction), and for the snapshot its number of records and latest time.

    Built in blocks of `block_users` users: at 10M users the 160M directed records sorted at
    once took ~6 GB of temporaries beside the rest of training.
    """

    def __init__(self, h: ShareHistory, block_users: int = 1 << 20) -> None:
        n = h.n_users
        self.n_users = n
        index_type = np.int32 if n <= np.iinfo(np.int32).max else np.int64
        dst, since, last, count = [], [], [], []
        per_user = np.zeros(n, np.int64)
        for lo in range(0, max(n, 1), block_users):  # ~10 blocks at 10M users
            hi = min(lo + block_users, n)
            fwd = (h.friend_src >= lo) & (h.friend_src < hi)
            bwd = (h.friend_dst >= lo) & (h.friend_dst < hi)
            key = np.concatenate([pair_keys(h.friend_src[fwd] - lo, h.friend_dst[fwd], n),
                                  pair_keys(h.friend_dst[bwd] - lo, h.friend_src[bwd], n)])
            ts = np.concatenate([h.friend_ts[fwd], h.friend_ts[bwd]])
            del fwd, bwd
            order = np.lexsort((ts, key))
            key, ts = key[order], ts[order]
            del order
            start = np.flatnonzero(np.append(True, key[1:] != key[:-1]))
            end = np.append(start[1:], len(key))
            dst.append((key[start] % n).astype(index_type))
            since.append(ts[start])
            last.append(ts[end - 1])
            count.append((end - start).astype(np.int32))
            per_user[lo:hi] = np.bincount(key[start] // n, minlength=hi - lo)
        self.dst = np.concatenate(dst)
        self.since = np.concatenate(since)
        latest = np.concatenate(last)
        # Most data records a friendship at one time (both directions alike): one copy.
        self.last = self.since if np.array_equal(latest, self.since) else latest
        self.count = np.concatenate(count)
        self.indptr = np.concatenate([[0], np.cumsum(per_user)])

    def at(self, users: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        row, pos = _row_positions(self.indptr, users)
        keep = self.since[pos] <= np.asarray(times, np.int64)[row]
        return row[keep], np.asarray(self.dst[pos[keep]], np.int64)

    def totals(self) -> EventTotals:
        """Per directed pair (key ``user * n_users + friend``) its records and latest time:
        the friendships counter's totals, for every user."""
        keys = _row_keys(self.indptr, self.dst, self.n_users)
        return EventTotals(keys, self.count.astype(np.float32), self.last)


def _row_keys(indptr: np.ndarray, columns: np.ndarray, width: int) -> np.ndarray:
    """(nnz,) int64 counter keys ``row * width + column`` of CSR-like rows (sorted rows with
    sorted columns give sorted keys)."""
    keys = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
    keys *= width  # in place: `pair_keys` would copy the nnz-long rows once more
    keys += columns
    return keys


def _row_positions(indptr: np.ndarray, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For CSR-like rows `users`: the query index and the position of every entry."""
    users = np.asarray(users, np.int64)
    lo, hi = np.asarray(indptr[users], np.int64), np.asarray(indptr[users + 1], np.int64)
    size = hi - lo
    row = np.repeat(np.arange(len(users)), size)
    pos = np.arange(len(row)) - np.repeat(np.cumsum(size) - size, size) + lo[row]
    return row, pos
