"""A users table derived from the user ids the other tables name, for sources without one.

A log of events alone is a common source: its users are the ids it names. Each becomes a user
whose `signup_ts` is the first time they appear (the earliest valid time of any row naming
them: an event, a post, a group buy they initiated, a social edge), with no opt-out and no
profile. The result is staged as `stage_users` like a source file, so the usual rules check it
and every reference to it is validated as usual.
"""

from __future__ import annotations

import logging

import duckdb
import pyarrow as pa

from recsys.contract import TABLES, TIMESTAMP, USERS
from recsys.ingest.column_map import ColumnMap
from recsys.ingest.rules import TS_MAX, TS_MIN, normalise_expr, parse_expr
from recsys.ingest.sources import Staged
from recsys.ingest.sql import ident, lit

logger = logging.getLogger(__name__)

#: The name of the derived table's one "file" in the quarantine and the report.
DERIVED_FILE = "(derived)"


def user_references() -> list[tuple[str, str, str]]:
    """(table, user column, time column) for every reference to users in the contract; the
    time is the table's first timestamp (an event's ts, a group buy's creation)."""
    refs = []
    for spec in TABLES:
        times = [f.name for f in spec.schema if isinstance(f.type, pa.TimestampType)]
        for fk in spec.foreign_keys:
            if fk.table == USERS.name and times:
                refs.append((spec.name, fk.column, times[0]))
    return refs


def stage_derived_users(
    con: duckdb.DuckDBPyConnection, staged: dict[str, Staged], column_map: ColumnMap
) -> Staged:
    """Create `stage_users` (and `files_users`) from the staged tables that name users."""
    parts, names = [], []
    for table, column, time in user_references():
        if table not in staged:
            continue
        table_map = column_map.for_table(table)
        types = staged[table].types
        user = parse_expr(
            normalise_expr(column, types[column], table_map), types[column], pa.string(), "auto"
        )
        ts = parse_expr(
            normalise_expr(time, types[time], table_map),
            types[time],
            TIMESTAMP,
            table_map.ts_unit,
        )
        parts.append(f"SELECT {user} AS user_id, {ts} AS ts FROM stage_{table} WHERE _bad IS NULL")
        names.append(f"{table}.{column}")
    valid = f"ts > TIMESTAMPTZ {lit(TS_MIN)} AND ts < TIMESTAMPTZ {lit(TS_MAX)} AND isfinite(ts)"
    nobody = "SELECT NULL::VARCHAR AS user_id, NULL::TIMESTAMPTZ AS ts"
    named = " UNION ALL ".join(parts) if parts else nobody
    con.execute(
        f"""
        CREATE TABLE derived_users AS
        SELECT user_id, min(ts) AS signup_ts FROM ({named})
        WHERE user_id IS NOT NULL AND {valid}
        GROUP BY user_id
        """
    )
    columns = []
    for f in USERS.schema:
        if f.name in ("user_id", "signup_ts"):
            columns.append(ident(f.name))
        elif f.name == "share_opt_out":
            columns.append(f"'false' AS {ident(f.name)}")
        else:
            columns.append(f"NULL::VARCHAR AS {ident(f.name)}")
    con.execute(
        f"""
        CREATE VIEW stage_users AS
        SELECT {", ".join(columns)}, 0::INTEGER AS _src,
            (row_number() OVER (ORDER BY signup_ts, user_id))::BIGINT AS _row,
            NULL::VARCHAR AS _bad, NULL::VARCHAR AS _detail
        FROM derived_users
        """
    )
    con.execute(f"CREATE TABLE files_users AS SELECT 0 AS _src, {lit(DERIVED_FILE)} AS _file")
    types = {name: typ for name, typ, *_ in con.execute("DESCRIBE stage_users").fetchall()}
    (read,) = con.execute("SELECT count(*) FROM derived_users").fetchall()[0]
    logger.info("users: no source table; %d users derived from %s", read, ", ".join(names))
    return Staged(table=USERS.name, read=int(read), types=types, names=tuple(names))
