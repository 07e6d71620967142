"""Validated ingestion: source CSV/Parquet -> contract tables, quarantine, id maps and a report.

`ingest(src_dir, out_dir)` is the one entry point; `ColumnMap` maps someone's own column names,
values and timestamp units onto the contract; `IngestReport` says what happened to every row.
"""

from recsys.ingest.column_map import ColumnMap, TableMap
from recsys.ingest.report import IngestReport, TableReport
from recsys.ingest.runner import ingest

__all__ = ["ColumnMap", "IngestReport", "TableMap", "TableReport", "ingest"]
