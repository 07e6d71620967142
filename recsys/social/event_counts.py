"""Counts of past events per key "as of" a time, leaving one group's own events out.

Share targeting asks, for millions of (initiator, friend, item) rows at once, how often
something happened before the row's group buy: how many of the initiator's groups the friend
joined, how often the friend bought the item. One sorted array per event kind answers every
row with two binary searches, and the same rule serves dated and undated data:

    count(key, t, g) = events with this key, time <= t, minus those of group g itself.

On dated data a group's own joins come after its creation and never count; on undated data
(every time equal, e.g. Brightkite) the rule is "every other group": leave-one-out. The last
time of a contact uses strictly earlier events (`last_before`), so undated data has none.
"""

from __future__ import annotations

import numpy as np

from recsys.errors import InvalidInputError

_NO_GROUP = -1


class EventCounter:
    """Events as (key, time, group) triples, sorted once, counted per query by binary search.

    Parameters
    ----------
    keys : (n,) int64 non-negative event keys (e.g. ``initiator * n_users + friend``).
    times : (n,) int64 event times (any unit; equal times are allowed).
    groups : (n,) int64 group index of each event, or -1 for events of no group; None = all -1.
    weights : (n,) float64 weight of each event, or None for counts.
    """

    def __init__(
        self,
        keys: np.ndarray,
        times: np.ndarray,
        groups: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ) -> None:
        keys = np.asarray(keys, np.int64)
        times = np.asarray(times, np.int64)
        groups = np.full(len(keys), _NO_GROUP, np.int64) if groups is None else np.asarray(
            groups, np.int64
        )
        weights = np.ones(len(keys)) if weights is None else np.asarray(weights, np.float64)
        if not (keys.shape == times.shape == groups.shape == weights.shape) or keys.ndim != 1:
            raise InvalidInputError(
                f"keys, times, groups and weights must be 1-d of one length; got {keys.shape}, "
                f"{times.shape}, {groups.shape}, {weights.shape}"
            )
        if len(keys) and keys.min() < 0:
            raise InvalidInputError("event keys must be >= 0")
        # Keys and times are compressed to ranks so one int64 orders (key, time) together.
        self._key_values, key_rank = np.unique(keys, return_inverse=True)
        self._time_values, time_rank = np.unique(times, return_inverse=True)
        self._n_times = len(self._time_values) + 1
        combined = key_rank.astype(np.int64) * self._n_times + time_rank
        order = np.argsort(combined, kind="stable")
        self._combined = combined[order]
        self._cum = np.concatenate([[0.0], np.cumsum(weights[order])])
        self._times = times[order]
        # (key rank, group) pairs with their weight, for leaving a row's own group out.
        sorted_groups = groups[order]
        grouped = sorted_groups >= 0
        self._n_groups = int(groups.max(initial=0)) + 2
        pair = self._combined[grouped] // self._n_times * self._n_groups + sorted_groups[grouped]
        self._pair_keys, pair_index = np.unique(pair, return_inverse=True)
        self._pair_weight = np.bincount(
            pair_index, weights=weights[order][grouped], minlength=len(self._pair_keys)
        ).astype(np.float64)
        # A group's events under one key count as one block from its earliest time on.
        first = np.full(len(self._pair_keys), np.iinfo(np.int64).max)
        np.minimum.at(first, pair_index, self._times[grouped])
        self._pair_first = first

    def __len__(self) -> int:
        return len(self._combined)

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
        total = self._cum[hi] - self._cum[lo]
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
        out = np.full(len(lo), np.iinfo(np.int64).min)
        some = hi > lo
        out[some] = self._times[hi[some] - 1]
        return out
