"""Plumbing shared by the wrappers around `implicit`: input checks and BLAS thread control.

implicit's solvers run their own threads; a multi-threaded BLAS underneath them oversubscribes
the cores (implicit warns about it, rightly). Building and fitting its models inside
`single_threaded_blas()` is the fix the warning asks for, not a silenced warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.errors import InvalidInputError


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread while implicit builds or fits a model."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def check_user_items(user_items: object, who: str, *, min_rows: int = 1) -> sp.csr_matrix:
    """A validated float32 CSR copy-or-view of a (n_users, n_items) confidence matrix.

    Raises ValueError saying what was wrong, so a bad matrix fails here rather than deep
    inside a C extension.
    """
    if not (sp.issparse(user_items) or isinstance(user_items, np.ndarray)):
        raise InvalidInputError(
            f"{who}: user_items must be a scipy sparse matrix; got {type(user_items)}"
        )
    if user_items.ndim != 2:
        raise InvalidInputError(
            f"{who}: user_items must be 2-D (users x items); got {user_items.ndim}-D"
        )
    n_users, n_items = user_items.shape
    if n_users < min_rows or n_items == 0:
        raise InvalidInputError(f"{who}: user_items is empty ({n_users} users x {n_items} items)")
    matrix = sp.csr_matrix(user_items, dtype=np.float32)
    if not np.isfinite(matrix.data).all():
        raise InvalidInputError(f"{who}: user_items holds NaN or infinite confidences")
    if not matrix.has_canonical_format:
        matrix = matrix.copy()
        matrix.sum_duplicates()
    return matrix
