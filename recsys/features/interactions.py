"""User x item confidence from the event log: one weighted row per event, then a sparse matrix.

Two steps on purpose: the evaluation harness splits the event-level log (temporal,
leave-last-out, random) *before* it becomes a matrix, so no split leaks future events.

Event weights (defaults, `DEFAULT_WEIGHTS`) grow with the intent an action shows:

- view 1: cheap, often accidental;
- like 2 and comment 3: explicit interest, a comment costs more effort;
- share 4: the user vouches for the item to friends in the messenger;
- purchase 8: money spent;
- group_buy_start / group_buy_join 10: money spent *and* friends recruited or joined.

An action on a UGC post that names an item (an order show-off, a review) counts for that item,
scaled by `post_item_factor`: interest in someone else's post about an item is weaker evidence
than acting on the item itself. Deleted posts do not attribute (deletion is mostly moderation
of spam and off-topic posts) unless `include_deleted_posts` is set.
"""

from __future__ import annotations

import logging
import time

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp
from pydantic import Field, field_validator

from recsys.config import FrozenConfig
from recsys.contract import EventType
from recsys.datastore import DataDir
from recsys.errors import ContractError
from recsys.features._sql import connection, has_view, register_idmap
from recsys.idmap import IdMap

logger = logging.getLogger(__name__)

US_PER_DAY = 86_400 * 1_000_000

DEFAULT_WEIGHTS: dict[str, float] = {
    EventType.VIEW: 1.0,
    EventType.LIKE: 2.0,
    EventType.COMMENT: 3.0,
    EventType.SHARE: 4.0,
    EventType.PURCHASE: 8.0,
    EventType.GROUP_BUY_START: 10.0,
    EventType.GROUP_BUY_JOIN: 10.0,
}

#: Why an event is left out of the log, in the order the reasons are checked.
DROP_REASONS: tuple[str, ...] = ("unknown_user", "unknown_type", "no_item", "zero_weight")

LOG_COLUMNS: dict[str, type] = {
    "user_idx": np.int32,
    "item_idx": np.int32,
    "ts": np.int64,
    "weight": np.float32,
}


class InteractionConfig(FrozenConfig):
    """How events become confidence.

    `weights` given in a config override the defaults type by type (unnamed types keep
    their default); a weight of 0 leaves that event type out. Unknown types are an error.
    """

    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    post_item_factor: float = Field(0.5, ge=0.0)
    half_life_days: float | None = Field(None, gt=0.0)
    include_deleted_posts: bool = False

    @field_validator("weights")
    @classmethod
    def _merge_weights(cls, value: dict[str, float]) -> dict[str, float]:
        known = {t.value for t in EventType}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown event type(s) {unknown}; expected some of {sorted(known)}")
        negative = sorted(k for k, w in value.items() if not w >= 0.0)
        if negative:
            raise ValueError(f"event weights must be >= 0; got {negative}")
        return {str(k): float(v) for k, v in {**DEFAULT_WEIGHTS, **value}.items()}


def empty_log() -> pd.DataFrame:
    return pd.DataFrame({c: np.empty(0, dtype=t) for c, t in LOG_COLUMNS.items()})


def load_interaction_log(
    data: DataDir, users: IdMap, items: IdMap, config: InteractionConfig | None = None
) -> pd.DataFrame:
    """One weighted row per usable event, sorted by (user_idx, ts, item_idx).

    The sort makes the log (and every seeded split of it) reproducible whatever order
    DuckDB's threads produce rows in.

    Returns
    -------
    DataFrame with columns user_idx int32, item_idx int32, ts int64 (epoch microseconds),
    weight float32; ``log.attrs["read"]`` and ``log.attrs["dropped"]`` (reason -> count,
    see `DROP_REASONS`) say what was left out.

    Raises ContractError, naming the data directory, when no event is usable (no events
    table, an empty one, or every event dropped): every caller needs interactions.
    """
    config = config or InteractionConfig()
    started = time.perf_counter()
    with connection(data) as con:
        if not has_view(con, "events"):
            raise ContractError(
                f"{data.root}: no usable events: no events table ({data.table_dir('events')})")
        register_idmap(con, "user_map", users, "user_id", "user_idx")
        register_idmap(con, "item_map", items, "item_id", "item_idx")
        con.register(
            "weight_map",
            pa.table(
                {
                    "type": pa.array(list(config.weights), type=pa.string()),
                    "weight": pa.array(list(config.weights.values()), type=pa.float64()),
                }
            ),
        )
        _create_post_items(con, config.include_deleted_posts)
        result = con.execute(_LOG_SQL, [config.post_item_factor]).fetchnumpy()
    reason = np.asarray(result["reason"], dtype=np.int8)
    counts = np.bincount(reason, minlength=len(DROP_REASONS) + 1)
    kept = int(counts[0])
    # Kept rows sort first (reason 0), so the log is a prefix: no copy of the big arrays.
    log = pd.DataFrame(
        {c: np.asarray(result[c][:kept], dtype=t) for c, t in LOG_COLUMNS.items()}, copy=False
    )
    log.attrs["read"] = int(reason.size)
    log.attrs["dropped"] = {r: int(n) for r, n in zip(DROP_REASONS, counts[1:], strict=True)}
    if kept == 0:
        raise ContractError(_no_usable_events(data, log.attrs["dropped"], int(reason.size)))
    logger.info(
        "interaction log: %d events read, %d kept, dropped %s (%.1fs)",
        reason.size,
        kept,
        log.attrs["dropped"],
        time.perf_counter() - started,
    )
    return log


def _no_usable_events(data: DataDir, dropped: dict[str, int], read: int) -> str:
    """Why the log is empty, in one line: nothing can be learned or measured without events."""
    if read == 0:
        why = "the events table has no rows"
    else:
        why = f"all {read:,} events were dropped (" + ", ".join(
            f"{reason} {n:,}" for reason, n in dropped.items() if n) + ")"
    return (f"{data.root}: no usable events: {why}; training and evaluation need "
            "interactions between known users and items")


#: Events that spend money: who "bought" an item, for metrics about buyers.
PURCHASE_TYPES: tuple[str, ...] = (
    EventType.PURCHASE.value,
    EventType.GROUP_BUY_START.value,
    EventType.GROUP_BUY_JOIN.value,
)


def purchase_matrix(data: DataDir, users: IdMap, items: IdMap) -> sp.csr_matrix:
    """(n_users, n_items) float32 0/1 matrix of who bought what (`PURCHASE_TYPES` events).

    Events naming an unknown user or item are left out (the log counts them as dropped).
    """
    shape = (len(users), len(items))
    with connection(data) as con:
        if not has_view(con, "events"):
            return sp.csr_matrix(shape, dtype=np.float32)
        register_idmap(con, "user_map", users, "user_id", "user_idx")
        register_idmap(con, "item_map", items, "item_id", "item_idx")
        types = ", ".join(f"'{t}'" for t in PURCHASE_TYPES)
        pairs = con.execute(
            "SELECT DISTINCT u.user_idx, i.item_idx FROM events e "
            "JOIN user_map u ON e.user_id = u.user_id JOIN item_map i ON e.item_id = i.item_id "
            f"WHERE e.type IN ({types})"
        ).fetchnumpy()
    rows, cols = pairs["user_idx"], pairs["item_idx"]
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
    matrix.sort_indices()
    return matrix


def _create_post_items(con: duckdb.DuckDBPyConnection, include_deleted: bool) -> None:
    """Table post_items(post_id, item_id): posts that name an item and may attribute."""
    if not has_view(con, "posts"):
        con.execute("CREATE TEMP TABLE post_items (post_id VARCHAR, item_id VARCHAR)")
        return
    deleted = "" if include_deleted else "AND NOT deleted"
    con.execute(
        "CREATE TEMP VIEW post_items AS SELECT post_id, item_id FROM posts "
        f"WHERE item_id IS NOT NULL {deleted}"
    )


# reason: 0 kept, then DROP_REASONS in order (first failing check wins).
_LOG_SQL = """
SELECT
    coalesce(u.user_idx, -1) AS user_idx,
    coalesce(i.item_idx, pi.item_idx, -1) AS item_idx,
    epoch_us(e.ts) AS ts,
    CAST(coalesce(w.weight, 0)
         * CASE WHEN i.item_idx IS NULL THEN $1 ELSE 1 END AS FLOAT) AS weight,
    CAST(CASE
        WHEN u.user_idx IS NULL THEN 1
        WHEN w.weight IS NULL THEN 2
        WHEN coalesce(i.item_idx, pi.item_idx) IS NULL THEN 3
        WHEN w.weight * CASE WHEN i.item_idx IS NULL THEN $1 ELSE 1 END <= 0 THEN 4
        ELSE 0
    END AS TINYINT) AS reason
FROM events e
LEFT JOIN user_map u ON e.user_id = u.user_id
LEFT JOIN weight_map w ON e.type = w.type
LEFT JOIN item_map i ON e.item_id = i.item_id
LEFT JOIN post_items p ON e.post_id = p.post_id
LEFT JOIN item_map pi ON p.item_id = pi.item_id
ORDER BY reason, user_idx, ts, item_idx, weight
"""


def to_csr(
    log: pd.DataFrame,
    n_users: int,
    n_items: int,
    *,
    half_life_days: float | None = None,
    reference_ts: int | None = None,
) -> sp.csr_matrix:
    """Sum event weights into a (n_users, n_items) float32 confidence matrix.

    With `half_life_days`, an event's weight halves every half-life before `reference_ts`
    (epoch microseconds; default the newest event in `log`). Events after `reference_ts`
    keep their full weight rather than being boosted.
    """
    users = log["user_idx"].to_numpy()
    items = log["item_idx"].to_numpy()
    weights = log["weight"].to_numpy(dtype=np.float32)
    for name, idx, n in (("user_idx", users, n_users), ("item_idx", items, n_items)):
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            lo, hi = idx.min(), idx.max()
            raise ValueError(f"log column {name} must lie in [0, {n}); got [{lo}, {hi}]")
    if half_life_days is not None and weights.size:
        if not half_life_days > 0:
            raise ValueError(f"half_life_days must be > 0; got {half_life_days}")
        ts = log["ts"].to_numpy()
        ref = int(ts.max()) if reference_ts is None else int(reference_ts)
        age_days = np.maximum(ref - ts, 0).astype(np.float64) / US_PER_DAY
        weights = (weights * np.exp2(-age_days / half_life_days)).astype(np.float32)
    matrix = sp.csr_matrix(
        (weights, (users, items)), shape=(n_users, n_items), dtype=np.float32
    )  # COO -> CSR sums duplicate (user, item) cells
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    logger.info("confidence matrix: %d x %d, %d non-zeros", n_users, n_items, matrix.nnz)
    return matrix
