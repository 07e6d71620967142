"""Features of (initiator, item, friend) rows for share targeting, read from a `ShareIndex`.

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
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.social.event_counts import NEVER
from recsys.social.history import ShareHistory

if TYPE_CHECKING:
    from recsys.social.share_index import ShareIndex

US_PER_DAY = 86_400 * 1_000_000

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


def feature_rows(
    index: ShareIndex, queries: ShareQueries, row: np.ndarray, friend: np.ndarray
) -> np.ndarray:
    """(m, len(FEATURES)) float32 features of the candidate rows (`row` indexes `queries`)."""
    ix = index
    n = ix.n_users
    row = np.asarray(row, np.int64)
    f = np.asarray(friend, np.int64)
    u, i = queries.user[row], queries.item[row]
    t, g = queries.time[row], queries.group[row]
    x: dict[str, np.ndarray] = {}
    x["friend_joined_user_groups"] = ix.pair_joins.count(u * n + f, t, g)
    user_groups = ix.user_starts.count(u, t, g)
    x["friend_joined_user_share"] = x["friend_joined_user_groups"] / np.maximum(user_groups, 1)
    x["user_joined_friend_groups"] = ix.pair_joins.count(f * n + u, t, g)
    x["co_joined_groups"] = ix.co_joins.count(u * n + f, t, g)
    x["user_shared_to_friend"] = ix.pair_shares.count(u * n + f, t)
    x["friend_shared_to_user"] = ix.pair_shares.count(f * n + u, t)
    mutual = _pair_overlap(ix.friends, u, f)
    x["mutual_friends"] = mutual
    x["friends_jaccard"] = mutual / np.maximum(ix.degree[u] + ix.degree[f] - mutual, 1)
    x["common_items"] = _pair_overlap(ix.user_items, u, f)
    last = ix.contacts.last_before(np.minimum(u, f) * n + np.maximum(u, f), t)
    x["days_since_contact"] = _days(t, last)
    x["friendship_days"] = _days(t, ix.friendships.last_before(u * n + f, t + 1))
    key = ix.item_key(f, i)
    x["friend_item_groups"] = ix.item_groups.count(key, t, g)
    x["friend_item_events"] = ix.item_events.count(key, t)
    x["friend_item_bought"] = ix.item_bought.count(key, t, g)
    x["friend_item_cf"] = np.full(len(f), np.nan)
    if ix.user_factors is not None and ix.item_factors is not None:
        ok = i < len(ix.item_factors)  # items a refresh appended have no factors
        x["friend_item_cf"][ok] = np.einsum(
            "ij,ij->i", np.asarray(ix.user_factors[f[ok]], np.float64),
            np.asarray(ix.item_factors[i[ok]], np.float64),
        )  # fmt: skip
    x["friend_circle_affinity"], x["circle_similarity"] = _circle_features(ix, u, f, i)
    circle = ix.item_circle[i]
    ckey = np.where(circle >= 0, f * max(ix.n_circles, 1) + np.maximum(circle, 0), -1)
    x["friend_events"] = ix.user_events.count(f, t)
    x["friend_circle_events"] = np.where(circle >= 0, ix.circle_events.count(ckey, t), np.nan)
    x["friend_circle_share"] = (x["friend_circle_events"] + 1.0 / max(ix.n_circles, 1)) / (
        x["friend_events"] + 1.0
    )
    x["friend_circle_groups"] = np.where(circle >= 0, ix.circle_groups.count(ckey, t, g), np.nan)
    joins = ix.user_joins.count(f, t, g)
    asked = ix.user_asked.count(f, t)
    x["friend_joins"] = joins
    x["friend_times_asked"] = asked
    x["friend_join_rate"] = (joins + 0.1) / (np.maximum(asked, joins) + 1.0)
    x["friend_groups_started"] = ix.user_starts.count(f, t, g)
    x["friend_degree"] = ix.degree[f]
    x["user_groups_started"] = user_groups
    x["user_degree"] = ix.degree[u]
    x["item_groups"] = ix.item_starts.count(i, t, g)
    return np.stack([np.asarray(x[name], np.float32) for name in FEATURES], axis=1)


def _circle_features(
    ix: ShareIndex, u: np.ndarray, f: np.ndarray, i: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The friend's affinity to the item's circle and the cosine of the two users' affinities
    (NaN without affinities)."""
    if ix.circle_affinity is None:
        return np.full(len(f), np.nan), np.full(len(f), np.nan)
    aff = ix.circle_affinity
    circle = ix.item_circle[i]
    known = (circle >= 0) & (circle < aff.shape[1])
    item_aff = np.full(len(f), np.nan)
    item_aff[known] = aff[f[known], circle[known]]
    au, af = np.asarray(aff[u], np.float64), np.asarray(aff[f], np.float64)
    norm = np.linalg.norm(au, axis=1) * np.linalg.norm(af, axis=1)
    similarity = np.einsum("ij,ij->i", au, af) / np.maximum(norm, 1e-12)
    return item_aff, similarity


def _days(t: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Days from `last` to `t`, NaN where there was none."""
    out = np.full(len(t), np.nan)
    some = last != NEVER
    out[some] = (t[some] - last[some]) / US_PER_DAY
    return out


def _pair_overlap(matrix: sp.csr_matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(m,) number of columns rows a[k] and b[k] of a CSR both have nonzero, in bounded
    batches (the rows asked about are read, never the whole matrix)."""
    out = np.zeros(len(a))
    step = 1 << 16
    for lo in range(0, len(a), step):
        sl = slice(lo, lo + step)
        ra, rb = matrix[a[sl]], matrix[b[sl]]
        ra.data = np.ones_like(ra.data)
        rb.data = np.ones_like(rb.data)
        out[sl] = np.asarray(ra.multiply(rb).sum(axis=1)).ravel()
    return out
