"""Side data of the recommender: what the platform knows beyond the user x item matrix.

Every part is optional, so public data sets with nothing but interactions work too; a
source or feature whose input is missing is left out (and the log says so). Arrays are in
dense-index order of the matrix the model is fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from recsys.errors import ContractError


@dataclass(frozen=True)
class SideData:
    """Optional inputs of `RankedRecommender.fit`.

    Attributes
    ----------
    first_ts : (n_users, n_items) CSR, the time (any unit that orders) of each pair's first
        event, on the fitted matrix's nonzeros; orders a user's items and dates the label fold.
    global_time : whether `first_ts` compares across users (real times) or only orders each
        user's own history (a sequence position, as Amazon's import stores it).
    item_content : (n_items, d) float32 content vectors (rows L2-normalised or zero).
    item_circle : (n_items,) int circle index, -1 when unknown.
    item_group_buy : (n_items,) bool, group-buy items.
    item_price : (n_items,) float, 0 when unknown.
    item_created : (n_items,) int64 creation time (same unit as `first_ts`), or None.
    friends : (n_users, n_users) CSR, nonzero where the row user befriends the column user.
    """

    first_ts: sp.csr_matrix | None = None
    global_time: bool = True
    item_content: np.ndarray | None = None
    item_circle: np.ndarray | None = None
    item_group_buy: np.ndarray | None = None
    item_price: np.ndarray | None = None
    item_created: np.ndarray | None = None
    friends: sp.csr_matrix | None = None

    def checked(self, n_users: int, n_items: int) -> SideData:
        """Self with arrays cast to their dtypes; ContractError names a part of wrong shape."""
        def items(name: str, dtype: type) -> np.ndarray | None:
            value = getattr(self, name)
            if value is None:
                return None
            value = np.asarray(value, dtype=dtype)
            if value.shape[0] != n_items:
                raise ContractError(f"side data {name} has {value.shape[0]} rows; "
                                    f"expected {n_items} (the matrix's items)")
            return value

        first_ts = self.first_ts
        if first_ts is not None:
            first_ts = sp.csr_matrix(first_ts, dtype=np.float64)
            if first_ts.shape != (n_users, n_items):
                raise ContractError(f"side data first_ts has shape {first_ts.shape}; "
                                    f"expected {(n_users, n_items)}")
        friends = self.friends
        if friends is not None:
            friends = sp.csr_matrix(friends, dtype=np.float32)
            if friends.shape != (n_users, n_users):
                raise ContractError(f"side data friends has shape {friends.shape}; "
                                    f"expected {(n_users, n_users)}")
            if not (friends.data == 1.0).all():
                # csr_matrix shares a float32 caller's arrays: write to a copy, never theirs.
                friends = friends.copy()
                friends.data[:] = 1.0
        return replace(
            self, first_ts=first_ts, friends=friends,
            item_content=items("item_content", np.float32),
            item_circle=items("item_circle", np.int64),
            item_group_buy=items("item_group_buy", bool),
            item_price=items("item_price", np.float64),
            item_created=items("item_created", np.float64),
        )

    @property
    def has_times(self) -> bool:
        """Whether `first_ts` orders anything (more than one distinct value)."""
        t = self.first_ts
        return t is not None and t.nnz > 1 and bool(t.data.min() != t.data.max())


def restrict_times(side: SideData, user_items: sp.csr_matrix) -> SideData:
    """`side` with `first_ts` cut to the nonzeros of `user_items` (a fold of the fitted
    matrix), so features of the fold never see the times of pairs it holds out."""
    if side.first_ts is None:
        return side
    mask = sp.csr_matrix(user_items, copy=True)
    mask.data[:] = 1.0
    times = sp.csr_matrix(side.first_ts.multiply(mask))
    return replace(side, first_ts=times)


def restrict_users(side: SideData, rows: np.ndarray) -> SideData:
    """`side` for the users `rows` only (a sample of the fitted matrix's rows, in that order):
    their times, and friendships among them."""
    first_ts = None if side.first_ts is None else sp.csr_matrix(side.first_ts[rows])
    friends = None if side.friends is None else sp.csr_matrix(side.friends[rows][:, rows])
    return replace(side, first_ts=first_ts, friends=friends)
