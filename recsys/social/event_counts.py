"""Counts of past events per key "as of" a time, leaving one group's own events out.

Share targeting asks, for millions of (initiator, friend, item) rows at once, how often
something happened before the row's group buy: how many of the initiator's groups the friend
joined, how often the friend bought the item. One sorted array per event kind answers every
row with two binary searches, and the same rule serves dated and undated data:

    count(key, t, g) = events with this key, time <= t, minus those of group g itself.

On dated data a group's own joins come after its creation and never count; on undated data
(every time equal, e.g. Brightkite) the rule is "every other group": leave-one-out. The last
time of a contact uses strictly earlier events (`last_before`), so undated data has none.

Serving asks only about new group buys, after every event the bundle holds: there the count
of a key is its total and the last time its latest. `EventTotals` keeps just that (one row per
key instead of per event, nothing to sort at load) and answers the same three questions.
"""

from __future__ import annotations

import numpy as np

from recsys.errors import InvalidInputError

_NO_GROUP = -1


def pair_keys(rows: np.ndarray, columns: np.ndarray, width: int) -> np.ndarray:
    """(n,) int64 keys ``row * width + column`` of index pairs, computed in int64 whatever
    the inputs' type: int32 indices (a history read from data) times 10M users overflow."""
    keys = np.multiply(rows, width, dtype=np.int64)
    keys += columns
    return keys


class EventCounter:
    """Events as (key, time, group) triples, sorted once, counted per query by binary search.

    Only the sorted (key rank, time rank) codes stay, with the distinct keys and times (and
    running weights when the events are weighted): 8 bytes an event for counts. At 10M users
    the item events are ~100M and three counters read them, so every array an event kept was
    GBs (`bench/results/train_cost.md`).

    Parameters
    ----------
    keys : (n,) int64 non-negative event keys (e.g. ``initiator * n_users + friend``).
    times : (n,) int64 event times (any unit; equal times are allowed).
    groups : (n,) int64 group index of each event, or -1 for events of no group; None = all -1.
    weights : (n,) float64 weight of each event, or None for counts.
    time_values : sorted distinct times holding every one of `times`, shared by counters over
        the same events (one copy instead of one per counter); None = the distinct `times`.
    """

    def __init__(
        self,
        keys: np.ndarray,
        times: np.ndarray,
        groups: np.ndarray | None = None,
        weights: np.ndarray | None = None,
        *,
        time_values: np.ndarray | None = None,
    ) -> None:
        keys = np.asarray(keys, np.int64)
        times = np.asarray(times, np.int64)
        shapes = [a.shape for a in (keys, times, groups, weights) if a is not None]
        if len(set(shapes)) != 1 or keys.ndim != 1:
            raise InvalidInputError(
                f"keys, times, groups and weights must be 1-d of one length; got {shapes}"
            )
        if len(keys) and keys.min() < 0:
            raise InvalidInputError("event keys must be >= 0")
        # Keys and times are compressed to ranks so one int64 orders (key, time) together.
        self._time_values, time_rank = _time_ranks(times, time_values)
        self._n_times = len(self._time_values) + 1
        self._key_values, combined = np.unique(keys, return_inverse=True)
        combined = combined.astype(np.int64, copy=False).reshape(-1)
        combined *= self._n_times
        combined += time_rank
        del time_rank
        order = np.argsort(combined, kind="stable")
        self._combined = combined[order]
        del combined
        self._cum = None if weights is None else np.concatenate(
            [[0.0], np.cumsum(np.asarray(weights, np.float64)[order])]
        )  # fmt: skip
        self._n_groups = 2
        self._pair_keys = np.zeros(0, np.int64)
        self._pair_weight = np.zeros(0)
        self._pair_first = np.zeros(0, np.int64)
        if groups is not None:
            self._index_groups(np.asarray(groups, np.int64), order, weights)

    def _index_groups(self, groups: np.ndarray, order: np.ndarray, weights: np.ndarray | None
                      ) -> None:  # fmt: skip
        """(key rank, group) pairs with their weight, for leaving a row's own group out."""
        sorted_groups = groups[order]
        grouped = np.flatnonzero(sorted_groups >= 0)
        self._n_groups = int(groups.max(initial=0)) + 2
        code = self._combined[grouped]
        pair = code // self._n_times * self._n_groups + sorted_groups[grouped]
        self._pair_keys, pair_index = np.unique(pair, return_inverse=True)
        pair_index = pair_index.reshape(-1)
        weight = None if weights is None else np.asarray(weights, np.float64)[order][grouped]
        self._pair_weight = np.bincount(
            pair_index, weights=weight, minlength=len(self._pair_keys)
        ).astype(np.float64)
        # A group's events under one key count as one block from its earliest time on.
        first = np.full(len(self._pair_keys), np.iinfo(np.int64).max)
        np.minimum.at(first, pair_index, self._time_values[code % self._n_times])
        self._pair_first = first

    def __len__(self) -> int:
        return len(self._combined)

    def _weight(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """(m,) float64 weight of the sorted events in [lo, hi)."""
        if self._cum is None:
            return (hi - lo).astype(np.float64)
        return self._cum[hi] - self._cum[lo]

    def _time_at(self, positions: np.ndarray) -> np.ndarray:
        """The times of sorted events at `positions`."""
        return self._time_values[self._combined[positions] % self._n_times]

    def _key_rank(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rank of each query key among the event keys, and whether it occurs at all."""
        keys = np.asarray(keys, np.int64)
        pos = np.searchsorted(self._key_values, keys)
        found = pos < len(self._key_values)
        found[found] = self._key_values[pos[found]] == keys[found]
        return pos, found

    def _range(self, keys: np.ndarray, times: np.ndarray, *, strict: bool) -> tuple[
        np.ndarray, np.ndarray, np.ndarray
    ]:
        rank, found = self._key_rank(keys)
        side = "left" if strict else "right"
        t_rank = np.searchsorted(self._time_values, np.asarray(times, np.int64), side=side)
        base = rank * self._n_times
        lo = np.searchsorted(self._combined, base, side="left")
        hi = np.searchsorted(self._combined, base + t_rank, side="left")
        hi = np.where(found, hi, lo)
        return lo, hi, found

    def count(
        self, keys: np.ndarray, times: np.ndarray, exclude_groups: np.ndarray | None = None
    ) -> np.ndarray:
        """(m,) float64 weight of events with the key at or before the time, minus the events
        of `exclude_groups` (one group index per query, -1 for none) once the first of them
        happened (a group's events under one key are one block: a join, a start)."""
        lo, hi, found = self._range(keys, times, strict=False)
        total = self._weight(lo, hi)
        if exclude_groups is None or not len(self._pair_keys):
            return total
        exclude = np.asarray(exclude_groups, np.int64)
        rank, _ = self._key_rank(keys)
        pair = rank * self._n_groups + exclude
        pos = np.searchsorted(self._pair_keys, pair)
        pos = np.minimum(pos, len(self._pair_keys) - 1)
        own = found & (exclude >= 0) & (self._pair_keys[pos] == pair)
        own &= self._pair_first[pos] <= np.asarray(times, np.int64)
        return total - np.where(own, self._pair_weight[pos], 0.0)

    def last_before(self, keys: np.ndarray, times: np.ndarray) -> np.ndarray:
        """(m,) int64 time of the latest event with the key strictly before the time; the
        int64 minimum where there is none."""
        lo, hi, _ = self._range(keys, times, strict=True)
        out = np.full(len(lo), NEVER)
        some = hi > lo
        out[some] = self._time_at(hi[some] - 1)
        return out

    def any_between(
        self, keys: np.ndarray, after: np.ndarray, until: np.ndarray,
        exclude_groups: np.ndarray | None = None,
    ) -> np.ndarray:
        """(m,) bool: an event with the key in (after, until], `exclude_groups` left out."""
        now = self.count(keys, until, exclude_groups)
        return (now - self.count(keys, after, exclude_groups)) > 0

    def totals(self, *, with_last: bool = False) -> EventTotals:
        """What this counter knows after its last event: per key the total weight (and, with
        `with_last`, the latest time)."""
        key_rank = self._combined // self._n_times
        ends = np.searchsorted(key_rank, np.arange(len(self._key_values)), side="right")
        del key_rank
        starts = np.concatenate([[0], ends[:-1]]) if len(ends) else ends
        total = self._weight(starts, ends)
        last = self._time_at(ends - 1) if with_last and len(ends) else None
        return EventTotals(self._key_values, total, last)


def _time_ranks(times: np.ndarray, time_values: np.ndarray | None) -> tuple[
    np.ndarray, np.ndarray
]:  # fmt: skip
    """The sorted distinct times and each time's rank among them (`time_values` when given,
    which must hold every time)."""
    if time_values is None:
        values, rank = np.unique(times, return_inverse=True)
        return values, rank.reshape(-1)
    values = np.asarray(time_values, np.int64)
    rank = np.searchsorted(values, times)
    held = rank < len(values)
    held[held] = values[rank[held]] == times[held]
    if not held.all():
        raise InvalidInputError(
            f"time_values lacks {int((~held).sum())} of the event times (first: "
            f"{int(times[~held][0])})"
        )
    return values, rank


#: The time of "never": no event with the key.
NEVER = np.iinfo(np.int64).min


class EventTotals:
    """Per key the total weight and, optionally, the latest time: an `EventCounter` as of its
    last event, for requests that come after every event it holds (serving).

    Times a request asks about are taken to be at or after the last event: `count` is the
    total, `last_before` the latest time (or just before the asked time, should the clock of
    the request lag the data's), and nothing is left out for a group (a new request has none).

    Parameters
    ----------
    keys : (k,) int64 sorted unique keys.
    totals : (k,) float weight of each key.
    last : (k,) int64 latest time of each key, or None when no question needs it.
    """

    def __init__(self, keys: np.ndarray, totals: np.ndarray, last: np.ndarray | None = None):
        if len(keys) != len(totals) or (last is not None and len(last) != len(keys)):
            raise InvalidInputError(
                f"keys, totals and last differ in length: {len(keys)}, {len(totals)}, "
                f"{None if last is None else len(last)}"
            )
        self.keys, self.totals, self.last = keys, totals, last

    def __len__(self) -> int:
        return len(self.keys)

    def _find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys = np.asarray(keys, np.int64)
        pos = np.minimum(np.searchsorted(self.keys, keys), max(len(self.keys) - 1, 0))
        if not len(self.keys):
            return pos, np.zeros(len(keys), bool)
        return pos, np.asarray(self.keys)[pos] == keys

    def count(self, keys: np.ndarray, times: object = None, exclude_groups: object = None
              ) -> np.ndarray:  # fmt: skip
        """(m,) float64 total weight of each key (0 for unseen keys)."""
        pos, found = self._find(keys)
        out = np.zeros(len(found))
        out[found] = np.asarray(self.totals, np.float64)[pos[found]]
        return out

    def last_before(self, keys: np.ndarray, times: np.ndarray) -> np.ndarray:
        """(m,) int64 latest time of each key, at most just before `times`; `NEVER` if unseen."""
        if self.last is None:
            raise InvalidInputError("these totals were kept without their last times")
        pos, found = self._find(keys)
        out = np.full(len(found), NEVER)
        out[found] = np.minimum(np.asarray(self.last)[pos[found]],
                                np.asarray(times, np.int64)[found] - 1)  # fmt: skip
        return out

    def any_between(
        self, keys: np.ndarray, after: np.ndarray, until: object = None,
        exclude_groups: object = None,
    ) -> np.ndarray:
        """(m,) bool: the key's latest event is later than `after`."""
        last = self.last_before(keys, np.full(len(np.asarray(keys)), np.iinfo(np.int64).max))
        return (last != NEVER) & (last > np.asarray(after, np.int64))
