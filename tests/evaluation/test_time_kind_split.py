"""`--split auto` follows the ingest report's `time_kind`: ts that is only an order is never
split by time, even when it varies and no dataset.json says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.adapters.common import DATASET_JSON
from recsys.evaluation.harness import prepare
from recsys.ingest import ColumnMap, ingest
from tests.evaluation.test_harness import make_data_dir


@pytest.mark.parametrize(("kind", "method"), [("order", "random"), ("real", "temporal")])
def test_auto_split_follows_the_ingested_time_kind(tmp_path: Path, kind: str, method: str):
    src = make_data_dir(tmp_path / "src")  # events an hour apart: ts varies
    (src / DATASET_JSON).unlink()  # nothing but the mapping says what ts is
    mapping = tmp_path / "map.toml"
    mapping.write_text(f'time_kind = "{kind}"\n', encoding="utf-8")
    ingest(src, tmp_path / "data", column_map=ColumnMap.from_toml(mapping))
    prepared = prepare(tmp_path / "data", split="auto", with_content=False)
    assert prepared.split.info["method"] == method
    assert prepared.split.info["has_timestamps"] is (kind == "real")
    if kind == "order":
        assert "time_kind" in prepared.split.info["fallback"]
