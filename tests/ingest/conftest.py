"""Helpers for ingestion tests: a hand-written valid source set and ways to spoil it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from recsys.datastore import DataDir

DATA = Path(__file__).resolve().parent / "data"
VALID = DATA / "valid"
OWN_LOGS = DATA / "own_logs"
VALID_COUNTS = {"users": 5, "items": 4, "posts": 3, "group_buys": 2, "events": 8, "social_edges": 4}


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
