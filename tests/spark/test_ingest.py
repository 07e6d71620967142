"""Spark ingest against the local engine on the same source: the same rows quarantined for the
same reasons, the same accepted rows, id maps and report (read = accepted + quarantined)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from recsys.contract import TABLES
from recsys.datastore import DataDir
from recsys.errors import UnusableFileError
from recsys.idmap import IdMap
from recsys.spark.ingest import spark_ingest
from tests.spark.dirty import BAD_CIRCLES, BAD_ROWS


def _quarantine(data: DataDir, table: str) -> list[tuple]:
    rows = pq.read_table(data.quarantine_path(table)).to_pylist()
    return [(r["_file"], r["_row"], r["_field"], r["_reason"]) for r in rows]


def test_report_is_the_local_engines(parity_data: dict[str, DataDir]) -> None:
    local, spark = parity_data["local"], parity_data["spark"]
    ours = json.loads(spark.report_path.read_text(encoding="utf-8"))
    theirs = json.loads(local.report_path.read_text(encoding="utf-8"))
    assert ours == theirs
    planted = sum(len(rows) for rows in BAD_ROWS.values()) + len(BAD_CIRCLES)
    quarantined = sum(t["quarantined"] for t in ours["tables"].values())
    # Every planted row is quarantined but five valid ones: users ub6 (Y) and ub7 (padded id,
    # +08:00), item ib6 (1, padded upper-case status), event eb15 (epoch with a fraction,
    # upper-case type) and circle empty_list (no categories).
    assert quarantined == planted - 5
    for table in ours["tables"].values():
        assert table["read"] == table["accepted"] + table["quarantined"]


@pytest.mark.parametrize("table", [t.name for t in TABLES])
def test_same_rows_quarantined_for_the_same_reasons(
    parity_data: dict[str, DataDir], table: str
) -> None:
    local, spark = parity_data["local"], parity_data["spark"]
    assert _quarantine(spark, table) == _quarantine(local, table)


@pytest.mark.parametrize("table", [t.name for t in TABLES])
def test_same_accepted_rows(parity_data: dict[str, DataDir], table: str) -> None:
    local, spark = parity_data["local"], parity_data["spark"]
    assert spark.read_table(table).equals(local.read_table(table))


@pytest.mark.parametrize("entity", ["circles", "users", "items", "posts"])
def test_same_id_maps(parity_data: dict[str, DataDir], entity: str) -> None:
    local, spark = parity_data["local"], parity_data["spark"]
    ours = IdMap.load(spark.idmap_path(entity)).ids
    assert list(ours) == list(IdMap.load(local.idmap_path(entity)).ids)
    assert len(ours) > 0


def test_csv_source_refused_in_one_line(spark: object, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "items.csv").write_text("item_id\ni1\n", encoding="utf-8")
    (src / "events.csv").write_text("event_id\ne1\n", encoding="utf-8")
    with pytest.raises(UnusableFileError, match="Spark engine reads Parquet sources"):
        spark_ingest(spark, src, tmp_path / "out")
