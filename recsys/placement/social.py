"""Friends' circles as placement evidence: the friendship graph and the friend feature block.

People befriend people of their circles, and a user's friends have far more history than the
user: on the pipeline's synthetic data (3,000 users, seeds 0-2) the friend block raised mean
micro F1 from 0.668 to 0.713 over all users and from 0.567 to 0.636 over users without UGC
(bench/results/placement.md). Per (user, circle) it holds the smoothed share of the
circle in the friends' pooled history, the log1p of that count, the log1p number of friends and
the mean of the friends' own smoothed shares (so one heavy friend does not decide alone).

Friends' engagement with posts ("posts_engaged") is left out of their history: on a real feed
friends like and comment on the user's own posts, which would carry the user's held-out label
posts into the features of their training copies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from recsys.contract import EdgeKind
from recsys.datastore import DataDir
from recsys.errors import InvalidInputError
from recsys.idmap import IdMap
from recsys.placement.features import smoothed_shares
from recsys.social.graph import load_edges, symmetric_edges

#: Friend block: pooled smoothed share, log1p pooled count, log1p friends, mean friend share.
PER_FRIENDS = 4
#: Kinds never taken from friends' history (see the module docstring).
FRIEND_EXCLUDED_KINDS: tuple[str, ...] = ("posts_engaged",)


#: Friendships as a symmetric 0/1 matrix (one definition, shared with the bundle's social graph).
friend_matrix = symmetric_edges


def load_friends(data: DataDir, users: IdMap) -> sp.csr_matrix | None:
    """Friendships of the data set's `social_edges` table as `friend_matrix`, or None without one.

    Edges of kind "friend" only ("shared_to" is one action, "blocked" the opposite of a tie);
    edges naming users outside `users` are dropped.
    """
    return load_edges(data, users, EdgeKind.FRIEND)


def friend_kinds(kinds: Sequence[str]) -> list[str]:
    """The kinds of `kinds` that count in friends' history."""
    return [k for k in kinds if k not in FRIEND_EXCLUDED_KINDS]


class FriendHistory:
    """Everyone's history over the friend kinds, computed once and read by batches of users.

    Parameters
    ----------
    friends : (n_users, n_users) sparse friendships (`friend_matrix`).
    counts : kind -> (n_users, n_circles) sparse counts of all users.
    kinds : fitted kinds; `friend_kinds(kinds)` are pooled.
    prior_strength : pseudo-events of the uniform prior in the shares.
    """

    def __init__(
        self,
        friends: sp.spmatrix,
        counts: Mapping[str, sp.spmatrix],
        kinds: Sequence[str],
        prior_strength: float,
    ) -> None:
        pooled = friend_kinds(kinds)
        if not pooled:
            raise InvalidInputError(f"no kind of {list(kinds)} counts in friends' history")
        n_users = counts[pooled[0]].shape[0]
        if friends.shape != (n_users, n_users):
            raise InvalidInputError(f"friends must be ({n_users}, {n_users}); got {friends.shape}")
        self.friends = _binary_csr(friends)
        history = sp.csr_matrix(sum(sp.csr_matrix(counts[k], dtype=np.float32) for k in pooled))
        self.history = history
        self.shares = smoothed_shares(history, prior_strength)
        self.prior_strength = prior_strength

    def features(self, rows: np.ndarray | slice) -> np.ndarray:
        """(m, n_circles, PER_FRIENDS) float32 friend block of the users `rows`."""
        f = self.friends[rows]
        degree = np.asarray(f.sum(axis=1), np.float32)
        pooled = np.asarray((f @ self.history).toarray(), np.float32)
        mean_share = np.asarray(f @ self.shares, np.float32) / np.maximum(degree, 1.0)
        blocks = [
            smoothed_shares(pooled, self.prior_strength),
            np.log1p(pooled),
            np.broadcast_to(np.log1p(degree), pooled.shape),
            mean_share,
        ]
        return np.stack(blocks, axis=2).astype(np.float32)


def _binary_csr(friends: sp.spmatrix) -> sp.csr_matrix:
    """`friends` as 0/1 float32 CSR: itself when it is one already (the bundle's graph, 80M
    entries at 10M users: no copy), else a copy with its entries set to 1."""
    if (sp.issparse(friends) and friends.format == "csr" and friends.dtype == np.float32
            and bool(np.all(friends.data == 1.0))):  # fmt: skip
        return friends
    out = sp.csr_matrix(friends, dtype=np.float32, copy=True)
    out.data[:] = 1.0
    return out
