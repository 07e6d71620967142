"""Validated ingestion: source CSV/Parquet -> contract tables, quarantine, id maps and a report.

`ingest(src_dir, out_dir)` is the one entry point; `ColumnMap` maps someone's own column names,
values and timestamp units onto the contract; `IngestReport` says what happened to every row;
`derive_event_ids` gives events without an id the id ingestion would give them.
"""

from recsys.ingest.column_map import ColumnMap, TableMap
from recsys.ingest.event_ids import derive_event_ids
from recsys.ingest.report import IngestReport, TableReport
from recsys.ingest.runner import ingest

__all__ = ["ColumnMap", "IngestReport", "TableMap", "TableReport", "derive_event_ids", "ingest"]
