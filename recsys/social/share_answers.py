"""What a share-target answer says besides the ranking: why each friend, and where to post.

Two pieces of evidence per ranked friend, which the runtime words as reasons of its one
`ReasonCode` enum: how many of the user's earlier group buys the friend joined
(`often_joins_your_groups:<n>`) and the item's circle when the friend's affinity to it, from
circle placement, is at least `min_affinity` (`likes_circle:<circle_id>`). A user with few
contacts also gets circles to post the group buy in: the item's circle, then the circles the
user is most drawn to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.social.share_features import ShareQueries
from recsys.social.share_index import ShareIndex


@dataclass(frozen=True)
class ShareEvidence:
    """Per query and ranked slot (shaped like the ranked friends, -1 padded).

    Attributes
    ----------
    joined : (n_queries, k) int64 earlier group buys of the user the friend joined.
    liked_circle : (n_queries, k) int64 the item's circle where the friend's affinity to it is
        at least the threshold, else -1.
    """

    joined: np.ndarray
    liked_circle: np.ndarray


def share_evidence(
    index: ShareIndex, queries: ShareQueries, friends: np.ndarray, *, min_affinity: float = 0.5
) -> ShareEvidence:
    """The evidence behind each ranked friend (`friends` (n_queries, k), -1 padded)."""
    n = index.n_users
    joined = np.zeros(friends.shape, np.int64)
    liked = np.full(friends.shape, -1, np.int64)
    q, slot = np.nonzero(friends >= 0)
    f = friends[q, slot]
    u, t, g = queries.user[q], queries.time[q], queries.group[q]
    joined[q, slot] = index.pair_joins.count(u * n + f, t, g).astype(np.int64)
    circle = index.item_circle[queries.item[q]]
    if index.circle_affinity is not None:
        known = (circle >= 0) & (circle < index.circle_affinity.shape[1])
        likes = np.zeros(len(f), bool)
        likes[known] = index.circle_affinity[f[known], circle[known]] >= min_affinity
        liked[q[likes], slot[likes]] = circle[likes]
    return ShareEvidence(joined=joined, liked_circle=liked)


def post_circles(index: ShareIndex, user: int, item: int, *, limit: int = 3) -> list[int]:
    """Circle indices to post a group buy in: the item's circle, then the user's strongest."""
    circle = int(index.item_circle[item])
    order: list[int] = [circle] if circle >= 0 else []
    if index.circle_affinity is not None:
        ranked = np.argsort(-np.asarray(index.circle_affinity[user]), kind="stable")
        order += [int(c) for c in ranked if c != circle]
    return order[:limit]


def has_few_contacts(
    n_allowed: int, expected_joiners: float, joiners_needed: int, *, min_contacts: int = 5
) -> bool:
    """Whether to suggest posting in circles too: fewer than `min_contacts` friends may be
    asked, or they are not expected to bring the joiners the group still needs."""
    return n_allowed < min_contacts or expected_joiners < max(joiners_needed, 1)
