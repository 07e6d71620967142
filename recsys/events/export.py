"""Export the live rows as a delta folder that `recsys refresh --new` and `recsys ingest` accept.

The folder holds one Parquet file per table with rows (`users.parquet`, `posts.parquet`,
`group_buys.parquet`, `events.parquet`), in the contract's schema, so the next ingest of the
platform's logs, or a refresh, takes them without a quarantined row: every row was judged by the
same rules when it was posted. `users` rows are the users the live rows first named (unknown to
the bundle that judged them), signed up at the first time they appear, without opt-out or
profile, as ingest derives users.

Each export writes the rows stored since the previous one (a cursor per table in the store,
advanced only after the folder is complete), so two exports never repeat a row, and a repeat
would be a quarantined duplicate key. `everything=True` writes all rows again, cursors aside.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys.contract import TIMESTAMP, conform, table_spec
from recsys.datastore import claim_output, mark_output, replace_dir, temp_sibling
from recsys.errors import ConfigError
from recsys.events.store import SQLiteEventStore

logger = logging.getLogger(__name__)

COMMAND = "events export"
#: Tables in the contract's dependency order (a row only names rows of earlier tables).
EXPORTED = ("users", "posts", "group_buys", "events")
_TIMES = {"signup_us": "signup_ts", "created_us": "created_ts", "deadline_us": "deadline_ts",
          "ts_us": "ts"}  # fmt: skip


@dataclass(frozen=True)
class ExportSummary:
    out: Path
    rows: dict[str, int]


def export_delta(
    store: SQLiteEventStore, out: str | Path, *, force: bool = False, everything: bool = False
) -> ExportSummary:
    """Write the rows stored since the last export to `out` (guarded like ingest's --out)."""
    target = claim_output(out, command=COMMAND, inputs={"event store": store.path}, force=force)
    waiting = sorted(p.name for p in target.glob("*.parquet")) if target.is_dir() else []
    if waiting and not force:
        # An earlier export's rows are past the cursor: replacing them would lose them.
        raise ConfigError(
            f"--out {out}: holds an earlier export ({', '.join(waiting)}) that may not have "
            "been ingested yet; write each export to a new folder, or pass --force"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = temp_sibling(target, "tmp")
    staging.mkdir()
    rows, cursors = {}, {}
    try:
        for table in EXPORTED:
            since = 0 if everything else store.cursor(table)
            stored, last = store.after(table, since)
            cursors[table] = last
            rows[table] = stored.num_rows
            if stored.num_rows:
                pq.write_table(contract_rows(table, stored), staging / f"{table}.parquet")
        mark_output(staging, COMMAND)
        replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    store.set_cursors(cursors)
    logger.info("exported %s to %s", rows, target)
    return ExportSummary(target, rows)


def contract_rows(table: str, stored: pa.Table) -> pa.Table:
    """Store rows as the contract table: times from epoch microseconds, flags as booleans,
    columns the store does not keep as null (users: no profile, no opt-out)."""
    spec = table_spec(table)
    columns: dict[str, pa.Array] = {}
    for name in stored.column_names:
        column = stored[name]
        if name in _TIMES:
            columns[_TIMES[name]] = column.cast(TIMESTAMP)
        elif name == "deleted":
            columns[name] = pc.not_equal(column, 0)
        else:
            columns[name] = column
    n = stored.num_rows
    for f in spec.schema:
        if f.name not in columns:
            columns[f.name] = (
                pa.array([False] * n, pa.bool_()) if f.name == "share_opt_out"
                else pa.nulls(n, f.type)
            )
    return conform(pa.table(columns), spec)  # casts sizes to int32 and orders the columns
