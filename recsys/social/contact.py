"""Respect the contact: who may be suggested as a share target, as one pure filter.

Used by the library's ranking, the evaluation and the `POST /v1/share-targets` route alike,
so no path suggests someone the others would not. A candidate is dropped when

* they are not a friend of the user (or are the user),
* they opted out of being share targets,
* either of the two blocked the other,
* they bought the item within the configured window (the caller passes that mask), or
* the user was already shown them `max_suggestions` times (the frequency cap; the counts come
  from the impression log, passed in so any log can feed them).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recsys.config import FrozenConfig
from recsys.errors import InvalidInputError


class ContactRules(FrozenConfig):
    """The configurable contact rules (opt-outs, blocks and non-friends always apply)."""

    bought_window_days: float | None = Field(
        30.0, gt=0, description="exclude friends who bought the item this recently; None = off"
    )
    max_suggestions: int | None = Field(
        3, gt=0, description="suggest the same friend to the same user at most this often"
    )


def pair_lookup(matrix: sp.spmatrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(m,) float64 values of `matrix` at (rows[k], cols[k]); 0 where the cell is empty.

    Only the rows asked about are read (a request touches a few rows of a 10M-user graph):
    their column slices become sorted (row, column) keys searched once for all pairs.
    """
    csr = matrix if sp.isspmatrix_csr(matrix) else sp.csr_matrix(matrix)
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    rows = np.asarray(rows, np.int64)
    cols = np.asarray(cols, np.int64)
    out = np.zeros(len(rows))
    if not len(rows):
        return out
    touched = np.unique(rows)
    lo, hi = csr.indptr[touched].astype(np.int64), csr.indptr[touched + 1].astype(np.int64)
    size = hi - lo
    pos = np.repeat(lo - np.cumsum(size) + size, size) + np.arange(int(size.sum()))
    n_cols = csr.shape[1]
    keys = np.repeat(touched, size) * n_cols + csr.indices[pos]
    if not len(keys):
        return out
    query = rows * n_cols + cols
    at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    found = keys[at] == query
    # Only the cells found: converting all of `data` cost ~7 ms a call at 1M users.
    out[found] = np.asarray(csr.data[pos[at[found]]], np.float64)
    return out


def suggestion_counts(
    counts: Mapping[tuple[int, int], int] | sp.spmatrix | None,
    user: np.ndarray,
    candidate: np.ndarray,
) -> np.ndarray:
    """(m,) int64 times each candidate was already suggested to the user.

    `counts` is a (n_users, n_users) sparse matrix or a mapping (user index, candidate index)
    -> count, e.g. the impression log's counts; None means nobody was suggested yet.
    """
    if counts is None:
        return np.zeros(len(candidate), np.int64)
    if sp.issparse(counts):
        return pair_lookup(counts, user, candidate).astype(np.int64)
    return np.fromiter(
        (counts.get((int(u), int(c)), 0) for u, c in zip(user, candidate, strict=True)),
        np.int64,
        count=len(candidate),
    )


def allowed_targets(
    user: np.ndarray,
    candidate: np.ndarray,
    *,
    friends: sp.spmatrix,
    blocked: sp.spmatrix,
    opt_out: np.ndarray,
    bought_recently: np.ndarray | None = None,
    suggested: np.ndarray | None = None,
    max_suggestions: int | None = None,
) -> np.ndarray:
    """(m,) bool: may `candidate[k]` be suggested to `user[k]` as a share target?

    Parameters
    ----------
    user, candidate : (m,) int user indices.
    friends : (n_users, n_users) sparse, nonzero = friends (either direction counts).
    blocked : (n_users, n_users) sparse, nonzero where the row user blocked the column user;
        a block in either direction excludes the pair.
    opt_out : (n_users,) bool, never a share target.
    bought_recently : (m,) bool, the candidate bought the item within the window; None = off.
    suggested : (m,) int times the candidate was already suggested to the user.
    max_suggestions : the frequency cap; None = no cap.
    """
    user = np.asarray(user, np.int64)
    candidate = np.asarray(candidate, np.int64)
    if user.shape != candidate.shape:
        raise InvalidInputError(
            f"user and candidate differ in shape: {user.shape} != {candidate.shape}"
        )
    n_users = len(opt_out)
    if len(candidate) and (min(user.min(), candidate.min()) < 0
                           or max(user.max(), candidate.max()) >= n_users):  # fmt: skip
        raise InvalidInputError(f"user and candidate indices must lie in [0, {n_users})")
    ok = candidate != user
    befriended = pair_lookup(friends, user, candidate) != 0
    ok &= befriended | (pair_lookup(friends, candidate, user) != 0)
    ok &= ~np.asarray(opt_out, bool)[candidate]
    ok &= pair_lookup(blocked, user, candidate) == 0
    ok &= pair_lookup(blocked, candidate, user) == 0
    if bought_recently is not None:
        ok &= ~np.asarray(bought_recently, bool)
    if max_suggestions is not None:
        if suggested is None:
            raise InvalidInputError("max_suggestions needs the suggested counts")
        ok &= np.asarray(suggested) < max_suggestions
    return ok
