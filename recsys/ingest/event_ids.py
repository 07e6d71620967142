"""Event ids derived from the event itself, for logs (and posted events) that carry none.

An event without an id gets `<24 hex digits of the md5 of its contract values>-<n>`, where n
numbers identical events in one file (or one batch) in their order: re-reading the same file
gives the same ids, two identical clicks stay two events (`...-1`, `...-2`), and the same row
sent again in another file gets the same id as before, so it is caught as a duplicate.

The values hashed are the contract values (trimmed text, empty = null, `type` lower-case,
`ts` as epoch microseconds UTC), each written as `<byte length>:<value>` or `-` for null and
joined by `|`, so no two different events share a text, and the id does not depend on DuckDB's
version (md5 of a text we define, not DuckDB's own hash). One SQL expression serves ingestion
(vectorised over the staged table) and `derive_event_ids` (one row or a batch, e.g. events
posted to the API).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from recsys.contract import EVENTS
from recsys.errors import ContractError
from recsys.ingest.sql import ident

ID_FIELDS: tuple[pa.Field, ...] = tuple(f for f in EVENTS.schema if f.name != "event_id")
ID_SCHEMA = pa.schema([f.with_nullable(True) for f in ID_FIELDS])
HEX_DIGITS = 24  # 96 bits: no collision in any realistic log


def event_key_sql() -> str:
    """SQL: the md5 (hex) of a row's contract values; the row has the contract column names,
    strings already normalised (trimmed, empty = NULL, `type` lower-case) as ingest parses them."""
    parts = []
    for f in ID_FIELDS:
        col = ident(f.name)
        if isinstance(f.type, pa.TimestampType):
            parts.append(f"COALESCE(CAST(TRY(epoch_us({col})) AS VARCHAR), '-')")
        else:
            parts.append(f"COALESCE(CAST(strlen({col}) AS VARCHAR) || ':' || {col}, '-')")
    return "md5(" + " || '|' || ".join(parts) + ")"


def _normalised_sql() -> str:
    """SQL: the id columns of `_events` normalised as ingest normalises text cells."""
    columns = []
    for f in ID_FIELDS:
        col = ident(f.name)
        if isinstance(f.type, pa.TimestampType):
            columns.append(col)
        elif f.name == "type":
            columns.append(f"lower(NULLIF(trim({col}), '')) AS {col}")
        else:
            columns.append(f"NULLIF(trim({col}), '') AS {col}")
    return ", ".join(columns)


def derived_id_sql(key: str, *, partition: str | None, order: str) -> str:
    """SQL: the id of a row whose key (`event_key_sql`) is the column `key`; identical rows are
    numbered by `order` within `partition` (the file) in a window over the relation."""
    within = f"PARTITION BY {partition + ', ' if partition else ''}{key}"
    return f"left({key}, {HEX_DIGITS}) || '-' || row_number() OVER ({within} ORDER BY {order})"


def derive_event_ids(events: pa.Table | Sequence[Mapping[str, Any]]) -> pa.Array:
    """The ids ingestion gives these events (one batch, like one file), in their order.

    `events`: a table or a list of dicts with the contract's event columns (event_id aside;
    an absent optional column is null; `ts` a timezone-aware datetime or timestamp). Raises
    ContractError naming a missing required column or a value of the wrong type.
    """
    if isinstance(events, pa.Table):
        names = set(events.column_names)
    else:
        rows = list(events)
        names = {key for row in rows for key in row}
    missing = [f.name for f in ID_FIELDS if not f.nullable and f.name not in names]
    if missing:
        raise ContractError(f"events: cannot derive an event_id without the columns {missing}")
    try:
        if not isinstance(events, pa.Table):
            events = pa.Table.from_pylist(rows, schema=ID_SCHEMA)
        n = events.num_rows
        columns = [
            events.column(f.name).cast(f.type) if f.name in names else pa.nulls(n, f.type)
            for f in ID_FIELDS
        ]
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError) as exc:
        raise ContractError(f"events: not in the contract types: {exc}") from None
    table = pa.Table.from_arrays(columns, schema=ID_SCHEMA).append_column(
        "_pos", pa.array(range(n), pa.int64())
    )
    with duckdb.connect() as con:
        con.register("_events", table)
        ids = con.sql(
            f"SELECT {derived_id_sql('_key', partition=None, order='_pos')} AS event_id "
            f"FROM (SELECT _pos, {event_key_sql()} AS _key FROM "
            f"(SELECT _pos, {_normalised_sql()} FROM _events)) ORDER BY _pos"
        ).to_arrow_table()
    return ids.column(0).combine_chunks().cast(pa.string())
