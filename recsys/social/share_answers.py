"""What a share-target answer says besides the ranking: why each friend, and where to post.

Reasons use the runtime's grammar, ``code:arg``: `often_joins_your_groups:<n>` (the friend
joined n of the user's earlier group buys) and `likes_circle:<circle_id>` (the friend's
affinity to the item's circle, from circle placement, is at least `min_affinity`). A user with
few contacts also gets circles to post the group buy in: the item's circle, then the circles
the user is most drawn to.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsys.social.share_features import ShareIndex, ShareQueries

OFTEN_JOINS_YOUR_GROUPS = "often_joins_your_groups"
LIKES_CIRCLE = "likes_circle"


def share_reasons(
    index: ShareIndex,
    queries: ShareQueries,
    friends: np.ndarray,
    circle_ids: Sequence[str],
    *,
    min_affinity: float = 0.5,
) -> list[list[tuple[str, ...]]]:
    """Reasons per query and ranked friend (`friends` (n_queries, k), -1 padded)."""
    n = index.history.n_users
    q, slot = np.nonzero(friends >= 0)
    f = friends[q, slot]
    u, t, g = queries.user[q], queries.time[q], queries.group[q]
    joined = index.pair_joins.count(u * n + f, t, g).astype(np.int64)
    circle = index.history.item_circle[queries.item[q]]
    likes = np.zeros(len(f), bool)
    if index.circle_affinity is not None:
        known = circle >= 0
        likes[known] = index.circle_affinity[f[known], circle[known]] >= min_affinity
    out: list[list[tuple[str, ...]]] = [
        [() for _ in range(int((row >= 0).sum()))] for row in friends
    ]
    for k in range(len(f)):
        reasons = []
        if joined[k] > 0:
            reasons.append(f"{OFTEN_JOINS_YOUR_GROUPS}:{joined[k]}")
        if likes[k]:
            reasons.append(f"{LIKES_CIRCLE}:{circle_ids[circle[k]]}")
        out[q[k]][slot[k]] = tuple(reasons)
    return out


def post_circles(
    index: ShareIndex, user: int, item: int, circle_ids: Sequence[str], *, limit: int = 3
) -> list[str]:
    """Circles to post a group buy in: the item's circle, then the user's strongest circles."""
    circle = int(index.history.item_circle[item])
    order: list[int] = [circle] if circle >= 0 else []
    if index.circle_affinity is not None:
        ranked = np.argsort(-np.asarray(index.circle_affinity[user]), kind="stable")
        order += [int(c) for c in ranked if c != circle]
    return [circle_ids[c] for c in order[:limit]]
