"""What a share-target answer says besides the ranking: why each friend, and where to post.

Reasons use the runtime's grammar, ``code:arg``: `often_joins_your_groups:<n>` (the friend
joined n of the user's earlier group buys) and `likes_circle:<circle_id>` (the friend's
affinity to the item's circle, from circle placement, is at least `min_affinity`). A user with
few contacts also gets circles to post the group buy in: the item's circle, then the circles
the user is most drawn to. `answer_share_targets` puts one request's answer together, so the
HTTP route only parses the body and maps the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from recsys.errors import InvalidInputError
from recsys.social.completion import CompletionModel
from recsys.social.share_features import ShareIndex, ShareQueries
from recsys.social.share_targeting import ShareTargeter, allowed_candidates

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


@dataclass(frozen=True)
class ShareTarget:
    """One suggested friend: their id, ranking score, join probability and reasons."""

    user_id: str
    score: float
    join_probability: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ShareTargets:
    """The answer to "whom should I share this group buy with?".

    `completion_chance` is None without a target size or a completion model; `post_circles`
    is empty unless the user has few contacts (fewer than `min_contacts` allowed friends, or
    fewer expected joiners than the group needs).
    """

    user_id: str
    item_id: str
    targets: list[ShareTarget]
    expected_joiners: float
    completion_chance: float | None
    post_circles: list[str]


def answer_share_targets(
    targeter: ShareTargeter,
    index: ShareIndex,
    query: ShareQueries,
    *,
    user_ids: Sequence[str],
    item_ids: Sequence[str],
    circle_ids: Sequence[str],
    limit: int = 10,
    completion: CompletionModel | None = None,
    target_size: int | None = None,
    hours_to_deadline: float | None = None,
    suggested: Mapping[tuple[int, int], int] | None = None,
    min_contacts: int = 5,
) -> ShareTargets:
    """Rank, explain and estimate for one request (`query` of length 1); what the route
    returns, so the route only parses and maps."""
    if len(query) != 1:
        raise InvalidInputError(f"answer one request at a time; got {len(query)} queries")
    ids, scores, proba, expected = targeter.rank(index, query, k=limit, suggested=suggested)
    reasons = share_reasons(index, query, ids, circle_ids)[0]
    shown = ids[0] >= 0
    targets = [
        ShareTarget(str(user_ids[f]), float(s), float(p), r)
        for f, s, p, r in zip(ids[0][shown], scores[0][shown], proba[0][shown], reasons,
                              strict=True)
    ]  # fmt: skip
    chance = None
    if completion is not None and target_size is not None:
        hours = np.nan if hours_to_deadline is None else hours_to_deadline
        chance = float(completion.predict_proba(expected, np.array([target_size]),
                                                np.array([hours]))[0])  # fmt: skip
    n_allowed = len(allowed_candidates(index, query, targeter.config, suggested=suggested)[0])
    needed = 1 if target_size is None else max(target_size - 1, 1)
    few = n_allowed < min_contacts or expected[0] < needed
    user, item = int(query.user[0]), int(query.item[0])
    return ShareTargets(
        user_id=str(user_ids[user]), item_id=str(item_ids[item]), targets=targets,
        expected_joiners=float(expected[0]), completion_chance=chance,
        post_circles=post_circles(index, user, item, circle_ids) if few else [],
    )  # fmt: skip
