"""Helpers for ingestion tests: a hand-written valid source set and ways to spoil it.

The set is tiny (8 events), so one bad row is a large share of its table: tests about
quarantined rows pass `max_quarantine_share=1.0` to look at them instead of failing the run.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import Result

from recsys.datastore import DataDir

DATA = Path(__file__).resolve().parent / "data"
VALID = DATA / "valid"
OWN_LOGS = DATA / "own_logs"
VALID_COUNTS = {"users": 5, "items": 4, "posts": 3, "group_buys": 2, "events": 8, "social_edges": 4}


# A progress bar's segment carries its elapsed time, e.g. "[00:00<00:00, 11.80table/s]";
# nested bars also move the cursor with terminal escapes.
_PROGRESS = re.compile(r"\[\d+:\d\d")
_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def cli_error(result: Result) -> str:
    """The error a failed CLI run printed, checked to be one line and no traceback."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    segments = re.split(r"[\r\n]", _ESCAPE.sub("", result.stderr))
    lines = [seg for seg in segments if seg.strip() and not _PROGRESS.search(seg)]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def copy_valid(dest: Path) -> Path:
    """A private copy of the valid source set, safe to modify."""
    shutil.copytree(VALID, dest)
    return dest


def append_rows(src: Path, table: str, lines: list[str]) -> None:
    with (src / f"{table}.csv").open("a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def quarantine(out: Path, table: str) -> list[dict]:
    return pq.read_table(DataDir(out).quarantine_path(table)).to_pylist()


@pytest.fixture
def valid_src(tmp_path: Path) -> Path:
    return copy_valid(tmp_path / "src")
