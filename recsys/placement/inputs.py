"""Checks of what the placer is given: engagement matrices, CF factors, the friendship graph.

`fit` and `predict_proba` take the same inputs; both check them here, so a wrong shape or a
missing kind fails with one line naming it, before any work is done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from recsys.errors import InvalidInputError, MissingInputError
from recsys.placement.social import FriendHistory


def engagement_csr(
    engagement: Mapping[str, sp.spmatrix], kinds: Sequence[str], n_circles: int | None = None
) -> dict[str, sp.csr_matrix]:
    """The `kinds` of `engagement` as CSR matrices of one (n_users, n_circles) shape."""
    missing = [k for k in kinds if k not in engagement]
    if missing:
        raise MissingInputError(f"engagement lacks the kinds {missing} the placer reads")
    csr = {k: sp.csr_matrix(engagement[k]) for k in kinds}
    shapes = {m.shape for m in csr.values()}
    if len(shapes) != 1 or (n_circles is not None and next(iter(shapes))[1] != n_circles):
        want = f"(n_users, {n_circles})" if n_circles is not None else "one shape"
        raise InvalidInputError(
            f"engagement matrices must be {want}; got {[m.shape for m in csr.values()]}"
        )
    return csr


def check_factors(user_factors: np.ndarray, n_users: int, dim: int | None = None) -> None:
    """(n_users, dim) finite CF user factors (any width when `dim` is None)."""
    if dim is not None and (user_factors.ndim != 2 or user_factors.shape[1] != dim):
        raise InvalidInputError(
            f"user_factors must be (n_users, {dim}) as fitted; got {user_factors.shape}"
        )
    if len(user_factors) != n_users:
        raise InvalidInputError(
            f"user_factors has {len(user_factors)} rows; engagement has {n_users}"
        )
    finite = np.isfinite(user_factors).all(axis=1)
    if not finite.all():
        raise InvalidInputError(
            f"user_factors has a non-finite value at row {int(np.argmin(finite))}"
        )


def friend_history(
    with_friends: bool,
    csr: dict[str, sp.csr_matrix],
    friends: sp.spmatrix | None,
    kinds: Sequence[str],
    prior_strength: float,
) -> FriendHistory | None:
    """The friend block's source when the placer uses friends; friends must be given exactly
    when it was fitted with them."""
    n_users = next(iter(csr.values())).shape[0]
    if not with_friends:
        if friends is not None:
            raise InvalidInputError("friends given, but the placer was fitted without them")
        return None
    if friends is None:
        raise InvalidInputError(
            f"friends must be ({n_users}, {n_users}); the placer was fitted with them"
        )
    return FriendHistory(friends, csr, list(kinds), prior_strength)
