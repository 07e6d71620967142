"""Segments as files: Parquet or CSV of (user_id, score), best first, and a JSON summary.

A file holds user ids and scores only, never anyone's behaviour. Files are written to a temp
name beside the target and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from recsys.errors import ConfigError
from recsys.segments.build import Segment

FORMATS = (".parquet", ".csv")


def segment_table(segment: Segment) -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array(segment.user_ids.astype(str), type=pa.string()),
            "score": pa.array(segment.scores, type=pa.float32()),
        }
    )


def summary(segment: Segment) -> dict[str, Any]:
    """Everything about a segment but its users, as JSON-ready values."""
    return {
        "model_version": segment.model_version,
        "kind": segment.kind.value,
        "size": len(segment),
        "eligible": segment.eligible,
        "reach": asdict(segment.reach),
    }


def write_segment(segment: Segment, path: str | Path) -> Path:
    """Write the users to `path` (.parquet or .csv, by its suffix), atomically."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ConfigError(f"{path}: a segment is written as {' or '.join(FORMATS)}")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    table = segment_table(segment)
    try:
        if path.suffix.lower() == ".parquet":
            pq.write_table(table, tmp)
        else:
            pacsv.write_csv(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
