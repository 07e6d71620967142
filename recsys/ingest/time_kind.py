"""Whether the ingested `ts` is a real time, only an order of events, or nothing.

Evaluation splits by time only when times are real (a cut over positions in a sequence, or
over one constant, means nothing), so ingest records the answer as `time_kind` in the report.
Decided, in this order of precedence, by:

1. the mapping's `time_kind` (whoever knows the logs says so);
2. the source's `dataset.json`, written by `recsys import` adapters: `has_timestamps` true is
   "real", else `ordered` true is "order", else "none";
3. the accepted events: one distinct `ts` (or none) is "none", more is "real".
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from recsys.datastore import DATASET_JSON, TIME_KINDS
from recsys.errors import UnusableFileError
from recsys.ingest.column_map import ColumnMap

REAL, ORDER, NONE = TIME_KINDS


def decide_time_kind(con: duckdb.DuckDBPyConnection, column_map: ColumnMap, src: Path) -> str:
    """The time kind of the ingested data (see the module doc); `acc_events` must exist."""
    declared = declared_time_kind(column_map, src)
    if declared is not None:
        return declared
    (distinct,) = con.execute("SELECT count(DISTINCT ts) FROM acc_events").fetchall()[0]
    return from_distinct_times(distinct)


def declared_time_kind(column_map: ColumnMap, src: Path) -> str | None:
    """The time kind the mapping or the source's dataset.json declares (1 and 2 above)."""
    if column_map.time_kind is not None:
        return column_map.time_kind
    info_path = src / DATASET_JSON
    if info_path.is_file():
        return _from_dataset_json(info_path)
    return None


def from_distinct_times(distinct: int) -> str:
    """Rule 3 above, from the number of distinct `ts` of the accepted events."""
    return REAL if distinct > 1 else NONE


def _from_dataset_json(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        has_timestamps, ordered = info["has_timestamps"], info["ordered"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UnusableFileError(
            str(path),
            f"not a readable dataset.json ({exc}); expected has_timestamps and ordered "
            "(true/false), as `recsys import` writes them",
        ) from None
    if not isinstance(has_timestamps, bool) or not isinstance(ordered, bool):
        raise UnusableFileError(
            str(path), "has_timestamps and ordered must be true or false", field="has_timestamps"
        )
    if has_timestamps:
        return REAL
    return ORDER if ordered else NONE
