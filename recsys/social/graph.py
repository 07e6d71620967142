"""Social edges as symmetric user x user matrices: who is friends with whom, who blocked whom.

Friendship is mutual, and a block keeps two people apart whichever of them set it, so both
kinds are symmetrised. Joined in DuckDB, built with numpy over whole columns (no loop over
edges).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.contract import EdgeKind
from recsys.datastore import DataDir
from recsys.errors import InvalidInputError
from recsys.features._sql import connection, register_idmap
from recsys.idmap import IdMap


def symmetric_edges(src: np.ndarray, dst: np.ndarray, n_users: int) -> sp.csr_matrix:
    """(n_users, n_users) symmetric 0/1 float32 CSR of edges; self-loops are dropped.

    Parameters
    ----------
    src, dst : (n_edges,) int user indices of each edge, one or both directions.
    """
    src, dst = np.asarray(src, np.int64), np.asarray(dst, np.int64)
    if src.shape != dst.shape:
        raise InvalidInputError(f"src and dst differ in length: {len(src)} != {len(dst)}")
    if len(src) and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n_users):
        raise InvalidInputError(f"edge indices must lie in [0, {n_users})")
    keep = src != dst
    ones = np.ones(int(keep.sum()), np.float32)
    a = sp.csr_matrix((ones, (src[keep], dst[keep])), shape=(n_users, n_users))
    a = a + a.T
    a.data[:] = 1.0
    a = sp.csr_matrix(a, dtype=np.float32)
    a.sort_indices()
    return a


def load_edges(data: DataDir, users: IdMap, kind: EdgeKind | str) -> sp.csr_matrix | None:
    """Edges of `kind` of the data set's `social_edges` table as `symmetric_edges`, or None
    when the data has no such table. Edges naming users outside `users` are dropped.

    The ids are joined to indices in DuckDB: reading the table's string columns into the
    process cost ~1.5 GB at 1M users (80M edges at 10M users made the interactions step's
    peak).
    """
    if not data.has_table("social_edges"):
        return None
    with connection(data) as con:
        register_idmap(con, "user_map", users, "user_id", "user_idx")
        out = con.execute(
            """SELECT a.user_idx AS src, b.user_idx AS dst FROM social_edges e
            JOIN user_map a ON e.src = a.user_id JOIN user_map b ON e.dst = b.user_id
            WHERE e.kind = ?""",
            [str(kind)],
        ).fetchnumpy()
    return symmetric_edges(np.asarray(out["src"]), np.asarray(out["dst"]), len(users))


def load_share_opt_out(data: DataDir, users: IdMap) -> np.ndarray:
    """(n_users,) bool: users who asked never to be suggested as share targets (users table).

    A user the table does not list counts as opted out: without their consent on record, the
    safe answer is not to suggest them.
    """
    out = np.ones(len(users), dtype=bool)
    if not data.has_table("users"):
        return out
    table = data.read_table("users", ["user_id", "share_opt_out"])
    rows = users.to_index(table["user_id"])
    known = rows >= 0
    out[rows[known]] = table["share_opt_out"].to_numpy(zero_copy_only=False)[known]
    return out
