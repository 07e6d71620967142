"""Ingest records whether `ts` is a real time, only an order, or nothing (`time_kind`).

Precedence: the mapping's `time_kind`, then the source's `dataset.json` (written by `recsys
import`), then the data (every event at one time means none).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recsys.datastore import DATASET_JSON, DataDir
from recsys.errors import ConfigError
from recsys.ingest import ColumnMap, ingest


def _kind(out: Path) -> str | None:
    kind = DataDir(out).time_kind()
    saved = json.loads(DataDir(out).report_path.read_text(encoding="utf-8"))["time_kind"]
    assert saved == kind
    return kind


def _dataset_json(src: Path, has_timestamps: bool, ordered: bool) -> None:
    info = {"name": "x", "has_timestamps": has_timestamps, "ordered": ordered}
    (src / DATASET_JSON).write_text(json.dumps(info), encoding="utf-8")


def _map(tmp_path: Path, kind: str) -> ColumnMap:
    path = tmp_path / "map.toml"
    path.write_text(f'time_kind = "{kind}"\n', encoding="utf-8")
    return ColumnMap.from_toml(path)


def test_times_that_vary_are_real(valid_src, tmp_path):
    report = ingest(valid_src, tmp_path / "out")
    assert report.time_kind == "real" and _kind(tmp_path / "out") == "real"


def test_every_event_at_one_time_is_no_time(valid_src, tmp_path):
    path = valid_src / "events.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    same = [
        lines[0],
        *(",".join([*ln.split(",")[:-1], "2024-03-05T10:30:00Z"]) for ln in lines[1:]),
    ]
    path.write_text("\n".join(same) + "\n", encoding="utf-8")
    # (one group buy's events now fall outside its lifetime: quarantined, not the point here)
    ingest(valid_src, tmp_path / "out", max_quarantine_share=0.5)
    assert _kind(tmp_path / "out") == "none"


@pytest.mark.parametrize(
    ("has_timestamps", "ordered", "kind"),
    [(False, True, "order"), (False, False, "none"), (True, False, "real")],
)
def test_an_imports_dataset_json_says_what_ts_is(
    valid_src, tmp_path, has_timestamps, ordered, kind
):
    _dataset_json(valid_src, has_timestamps, ordered)
    ingest(valid_src, tmp_path / "out")
    assert _kind(tmp_path / "out") == kind


def test_the_mapping_wins_over_dataset_json_and_the_data(valid_src, tmp_path):
    _dataset_json(valid_src, True, False)
    ingest(valid_src, tmp_path / "out", column_map=_map(tmp_path, "order"))
    assert _kind(tmp_path / "out") == "order"


def test_a_bad_time_kind_in_a_mapping_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="time_kind"):
        _map(tmp_path, "sometimes")


def test_data_without_a_report_has_no_time_kind(tmp_path):
    assert DataDir(tmp_path).time_kind() is None
