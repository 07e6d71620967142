"""Features of (initiator, item, friend) rows for share targeting, from one `ShareHistory`.

Every count is "as of" the row's time and leaves the row's own group out (`EventCounter`), so
training rows built from past groups never see their own outcome, on dated and undated data
alike. Four families, as the issue lists them:

* tie strength: the friend's joins of the initiator's groups and back, groups both joined,
  shares either way, mutual friends, shared items, days since the last contact and since the
  friendship began;
* the friend's affinity to the item: past group buys, events and purchases of the item, a CF
  score (optional factors), the friend's affinity to the item's circle (the placement's
  affinities: one source for the feed, share targets and segments) and how alike the two
  users' circles are;
* the friend's group-buy propensity and activity: joins, times asked (failed asks count),
  join rate, groups started, events, friends;
* context: the initiator's groups and friends, the item's groups.

A feature a data set cannot give (no times, no factors) is NaN; LightGBM learns a branch for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.social.event_counts import EventCounter
from recsys.social.history import ShareHistory

US_PER_DAY = 86_400 * 1_000_000
_NEVER = np.iinfo(np.int64).min

FEATURES: tuple[str, ...] = (
    "friend_joined_user_groups",
    "friend_joined_user_share",
    "user_joined_friend_groups",
    "co_joined_groups",
    "user_shared_to_friend",
    "friend_shared_to_user",
    "mutual_friends",
    "friends_jaccard",
    "common_items",
    "days_since_contact",
    "friendship_days",
    "friend_item_groups",
    "friend_item_events",
    "friend_item_bought",
    "friend_item_cf",
    "friend_circle_affinity",
    "circle_similarity",
    "friend_circle_events",
    "friend_circle_share",
    "friend_circle_groups",
    "friend_joins",
    "friend_times_asked",
    "friend_join_rate",
    "friend_groups_started",
    "friend_events",
    "friend_degree",
    "user_groups_started",
    "user_degree",
    "item_groups",
)


@dataclass(frozen=True)
class ShareQueries:
    """Who shares which item when: (n,) arrays of user, item, time (int64 us) and the group
    index of the query in the index's history (-1 for a new request)."""

    user: np.ndarray
    item: np.ndarray
    time: np.ndarray
    group: np.ndarray

    def __post_init__(self) -> None:
        n = {len(self.user), len(self.item), len(self.time), len(self.group)}
        if len(n) != 1:
            raise InvalidInputError("user, item, time and group must have one length")

    def __len__(self) -> int:
        return len(self.user)

    @classmethod
    def of_groups(cls, history: ShareHistory, groups: np.ndarray) -> ShareQueries:
        """The queries of past groups `groups` (indices into `history`'s groups)."""
        groups = np.asarray(groups, np.int64)
        return cls(
            user=history.group_initiator[groups], item=history.group_item[groups],
            time=history.group_created[groups], group=groups,
        )  # fmt: skip


class ShareIndex:
    """Counters and matrices over one history, built once and read by any batch of rows.

    Parameters
    ----------
    history : what the features may know.
    circle_affinity : (n_users, n_circles) affinities (`CirclePlacer.predict_proba`), or None.
    user_factors, item_factors : CF factors (n_users, f) and (n_items, f), or None.
    """

    def __init__(
        self,
        history: ShareHistory,
        *,
        circle_affinity: np.ndarray | None = None,
        user_factors: np.ndarray | None = None,
        item_factors: np.ndarray | None = None,
    ) -> None:
        h = history
        self.history = h
        n, n_items = h.n_users, h.n_items
        if circle_affinity is not None and circle_affinity.shape[0] != n:
            raise InvalidInputError(
                f"circle_affinity has {circle_affinity.shape[0]} rows; expected {n}"
            )
        if (user_factors is None) != (item_factors is None):
            raise InvalidInputError("give both user_factors and item_factors, or neither")
        if user_factors is not None and (
            len(user_factors) != n or len(item_factors) != n_items  # type: ignore[arg-type]
        ):
            raise InvalidInputError(f"factors must have {n} user rows and {n_items} item rows")
        self.circle_affinity = circle_affinity
        self.user_factors, self.item_factors = user_factors, item_factors
        initiator = h.group_initiator[h.join_group]
        self.pair_joins = EventCounter(initiator * n + h.join_user, h.join_ts, h.join_group)
        self.user_joins = EventCounter(h.join_user, h.join_ts, h.join_group)
        self.user_starts = EventCounter(h.group_initiator, h.group_created, np.arange(h.n_groups))
        self.item_starts = EventCounter(h.group_item, h.group_created, np.arange(h.n_groups))
        self.pair_shares = EventCounter(h.share_src * n + h.share_dst, h.share_ts)
        self.user_asked = EventCounter(h.share_dst, h.share_ts)
        a, b, t, g = _co_joins(h)
        self.co_joins = EventCounter(a * n + b, t, g)
        part_user = np.concatenate([h.group_initiator, h.join_user])
        part_item = np.concatenate([h.group_item, h.group_item[h.join_group]])
        part_ts = np.concatenate([h.group_created, h.join_ts])
        part_group = np.concatenate([np.arange(h.n_groups), h.join_group])
        self.item_groups = EventCounter(part_user * n_items + part_item, part_ts, part_group)
        bought = h.event_bought
        self.item_bought = EventCounter(
            np.concatenate([part_user * n_items + part_item,
                            h.event_user[bought] * n_items + h.event_item[bought]]),
            np.concatenate([part_ts, h.event_ts[bought]]),
            np.concatenate([part_group, np.full(int(bought.sum()), -1)]),
        )  # fmt: skip
        self.item_events = EventCounter(h.event_user * n_items + h.event_item, h.event_ts)
        self.user_events = EventCounter(h.event_user, h.event_ts)
        # Circle-level history, as of each row's time (the placement's affinities are one
        # snapshot): the friend's item events and group buys in the item's circle.
        self.n_circles = int(h.item_circle.max(initial=-1)) + 1
        c = max(self.n_circles, 1)
        event_circle = h.item_circle[h.event_item]
        known = event_circle >= 0
        self.circle_events = EventCounter(
            h.event_user[known] * c + event_circle[known], h.event_ts[known]
        )
        part_circle = h.item_circle[part_item]
        known = part_circle >= 0
        self.circle_groups = EventCounter(
            part_user[known] * c + part_circle[known], part_ts[known], part_group[known]
        )
        lo = np.minimum(np.concatenate([initiator, h.share_src]),
                        np.concatenate([h.join_user, h.share_dst]))  # fmt: skip
        hi = np.maximum(np.concatenate([initiator, h.share_src]),
                        np.concatenate([h.join_user, h.share_dst]))  # fmt: skip
        self.contacts = EventCounter(lo * n + hi, np.concatenate([h.join_ts, h.share_ts]))
        self.friendships = EventCounter(
            np.concatenate([h.friend_src * n + h.friend_dst, h.friend_dst * n + h.friend_src]),
            np.concatenate([h.friend_ts, h.friend_ts]),
        )
        self.friends = h.friends()
        self.degree = np.diff(self.friends.indptr).astype(np.float64)
        ui = sp.csr_matrix(
            (np.ones(len(h.event_user), np.float32), (h.event_user, h.event_item)),
            shape=(n, n_items),
        )
        ui.data[:] = 1.0
        self.user_items = ui
        self.n_user_items = np.diff(ui.indptr).astype(np.float64)
        self._candidates = _FriendLists(h)

    # -- candidates --------------------------------------------------------------------------

    def candidates(self, queries: ShareQueries) -> tuple[np.ndarray, np.ndarray]:
        """Every friend each query's user had at the query's time.

        Returns
        -------
        row : (m,) int64 query index of each candidate, ascending.
        friend : (m,) int64 user index of the friend.
        """
        return self._candidates.at(queries.user, queries.time)

    def bought_within(
        self, queries: ShareQueries, row: np.ndarray, friend: np.ndarray, window_days: float
    ) -> np.ndarray:
        """(m,) bool: the friend bought the query's item (purchase, group start or join) in the
        `window_days` before the query's time (the query's own group left out)."""
        key = friend * self.history.n_items + queries.item[row]
        t = queries.time[row]
        own = queries.group[row]
        now = self.item_bought.count(key, t, own)
        before = self.item_bought.count(key, t - int(window_days * US_PER_DAY) - 1, own)
        return (now - before) > 0

    # -- features ----------------------------------------------------------------------------

    def features(self, queries: ShareQueries, row: np.ndarray, friend: np.ndarray) -> np.ndarray:
        """(m, len(FEATURES)) float32 features of the candidate rows (`row` indexes `queries`)."""
        n, n_items = self.history.n_users, self.history.n_items
        row = np.asarray(row, np.int64)
        f = np.asarray(friend, np.int64)
        u, i = queries.user[row], queries.item[row]
        t, g = queries.time[row], queries.group[row]
        x: dict[str, np.ndarray] = {}
        x["friend_joined_user_groups"] = self.pair_joins.count(u * n + f, t, g)
        user_groups = self.user_starts.count(u, t, g)
        x["friend_joined_user_share"] = x["friend_joined_user_groups"] / np.maximum(user_groups, 1)
        x["user_joined_friend_groups"] = self.pair_joins.count(f * n + u, t, g)
        x["co_joined_groups"] = self.co_joins.count(u * n + f, t, g)
        x["user_shared_to_friend"] = self.pair_shares.count(u * n + f, t)
        x["friend_shared_to_user"] = self.pair_shares.count(f * n + u, t)
        mutual = _pair_overlap(self.friends, u, f)
        x["mutual_friends"] = mutual
        x["friends_jaccard"] = mutual / np.maximum(self.degree[u] + self.degree[f] - mutual, 1)
        x["common_items"] = _pair_overlap(self.user_items, u, f)
        last = self.contacts.last_before(np.minimum(u, f) * n + np.maximum(u, f), t)
        x["days_since_contact"] = _days(t, last)
        x["friendship_days"] = _days(t, self.friendships.last_before(u * n + f, t + 1))
        key = f * n_items + i
        x["friend_item_groups"] = self.item_groups.count(key, t, g)
        x["friend_item_events"] = self.item_events.count(key, t)
        x["friend_item_bought"] = self.item_bought.count(key, t, g)
        x["friend_item_cf"] = (
            np.einsum("ij,ij->i", self.user_factors[f], self.item_factors[i])
            if self.user_factors is not None and self.item_factors is not None
            else np.full(len(f), np.nan)
        )
        x["friend_circle_affinity"], x["circle_similarity"] = self._circle_features(u, f, i)
        circle = self.history.item_circle[i]
        ckey = f * max(self.n_circles, 1) + np.maximum(circle, 0)
        x["friend_events"] = self.user_events.count(f, t)
        x["friend_circle_events"] = np.where(circle >= 0, self.circle_events.count(ckey, t), np.nan)
        x["friend_circle_share"] = (x["friend_circle_events"] + 1.0 / max(self.n_circles, 1)) / (
            x["friend_events"] + 1.0
        )
        x["friend_circle_groups"] = np.where(
            circle >= 0, self.circle_groups.count(ckey, t, g), np.nan
        )
        joins = self.user_joins.count(f, t, g)
        asked = self.user_asked.count(f, t)
        x["friend_joins"] = joins
        x["friend_times_asked"] = asked
        x["friend_join_rate"] = (joins + 0.1) / (np.maximum(asked, joins) + 1.0)
        x["friend_groups_started"] = self.user_starts.count(f, t, g)
        x["friend_degree"] = self.degree[f]
        x["user_groups_started"] = user_groups
        x["user_degree"] = self.degree[u]
        x["item_groups"] = self.item_starts.count(i, t, g)
        return np.stack([np.asarray(x[name], np.float32) for name in FEATURES], axis=1)

    def _circle_features(
        self, u: np.ndarray, f: np.ndarray, i: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.circle_affinity is None:
            return np.full(len(f), np.nan), np.full(len(f), np.nan)
        aff = self.circle_affinity
        circle = self.history.item_circle[i]
        known = circle >= 0
        item_aff = np.full(len(f), np.nan)
        item_aff[known] = aff[f[known], circle[known]]
        au, af = np.asarray(aff[u], np.float64), np.asarray(aff[f], np.float64)
        norm = np.linalg.norm(au, axis=1) * np.linalg.norm(af, axis=1)
        similarity = np.einsum("ij,ij->i", au, af) / np.maximum(norm, 1e-12)
        return item_aff, similarity


def _days(t: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Days from `last` to `t`, NaN where there was none."""
    out = np.full(len(t), np.nan)
    some = last != _NEVER
    out[some] = (t[some] - last[some]) / US_PER_DAY
    return out


def _pair_overlap(matrix: sp.csr_matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(m,) number of columns rows a[k] and b[k] of a 0/1 CSR share, in bounded batches."""
    out = np.zeros(len(a))
    step = 1 << 16
    for lo in range(0, len(a), step):
        sl = slice(lo, lo + step)
        out[sl] = np.asarray(matrix[a[sl]].multiply(matrix[b[sl]]).sum(axis=1)).ravel()
    return out


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


class _FriendLists:
    """Friends of each user sorted by user, with the time each friendship began."""

    def __init__(self, h: ShareHistory) -> None:
        src = np.concatenate([h.friend_src, h.friend_dst])
        dst = np.concatenate([h.friend_dst, h.friend_src])
        ts = np.concatenate([h.friend_ts, h.friend_ts])
        # One row per (user, friend): the earliest time either direction was recorded.
        key = src * h.n_users + dst
        order = np.lexsort((ts, key))
        key, ts = key[order], ts[order]
        first = np.append(True, key[1:] != key[:-1])
        key, self.since = key[first], ts[first]
        self.src, self.dst = key // h.n_users, key % h.n_users
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(self.src, minlength=h.n_users))])

    def at(self, users: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        users = np.asarray(users, np.int64)
        lo, hi = self.indptr[users], self.indptr[users + 1]
        row = np.repeat(np.arange(len(users)), hi - lo)
        pos = np.arange(len(row)) - np.repeat(np.cumsum(hi - lo) - (hi - lo), hi - lo) + lo[row]
        keep = self.since[pos] <= np.asarray(times, np.int64)[row]
        return row[keep], self.dst[pos[keep]]
