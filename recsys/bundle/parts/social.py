"""The social graph part: friends, blocked pairs and share opt-outs over the bundle's users."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout, load_array, load_csr, save_array, save_csr
from recsys.contract import EdgeKind
from recsys.datastore import DataDir
from recsys.errors import BundleError
from recsys.idmap import IdMap
from recsys.social.graph import load_edges, load_share_opt_out


@dataclass(frozen=True)
class SocialGraph:
    """Who may be suggested to whom (share targets, friends' group buys).

    Attributes
    ----------
    friends : (n_users, n_users) symmetric 0/1 float32 CSR of `friend` edges.
    blocked : (n_users, n_users) symmetric 0/1 float32 CSR: a block set by either user.
    share_opt_out : (n_users,) bool, never suggest this user as a share target.
    """

    friends: sp.csr_matrix
    blocked: sp.csr_matrix
    share_opt_out: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.share_opt_out)
        if self.friends.shape != (n, n) or self.blocked.shape != (n, n):
            raise BundleError(
                f"social matrices must be ({n}, {n}); got friends {self.friends.shape}, "
                f"blocked {self.blocked.shape}"
            )

    @classmethod
    def from_data(cls, data: DataDir, users: IdMap) -> SocialGraph:
        """Built from `social_edges` and `users`; data without edges gives an empty graph."""
        empty = sp.csr_matrix((len(users), len(users)), dtype=np.float32)
        friends = load_edges(data, users, EdgeKind.FRIEND)
        blocked = load_edges(data, users, EdgeKind.BLOCKED)
        return cls(
            friends=empty if friends is None else friends,
            blocked=empty if blocked is None else blocked,
            share_opt_out=load_share_opt_out(data, users),
        )

    def save(self, root: str | Path) -> None:
        paths = BundleLayout(root)
        save_csr(paths.path(layout.SOCIAL_FRIENDS), self.friends)
        save_csr(paths.path(layout.SOCIAL_BLOCKED), self.blocked)
        save_array(paths.path(layout.SOCIAL_SHARE_OPT_OUT), self.share_opt_out.astype(bool))

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> SocialGraph:
        paths = BundleLayout(root)
        return cls(
            friends=load_csr(paths.path(layout.SOCIAL_FRIENDS), mmap=mmap),
            blocked=load_csr(paths.path(layout.SOCIAL_BLOCKED), mmap=mmap),
            share_opt_out=load_array(paths.path(layout.SOCIAL_SHARE_OPT_OUT), mmap=mmap),
        )
