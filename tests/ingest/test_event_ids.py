"""A log without event ids gets deterministic ids; a table mostly quarantined fails the run.

The reported case: a log with no event id was given the mapping default `event_id = "e"`, which
made every row a duplicate (511,526 of 511,527 events quarantined) while ingest exited 0.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from recsys.contract import EVENTS
from recsys.datastore import DataDir
from recsys.errors import ContractError
from recsys.ingest import ColumnMap, derive_event_ids, ingest
from tests.ingest.conftest import cli_error, copy_valid, quarantine

CLICK = "u1,i1,,view,,feed,2024-03-05T09:00:00Z"


def _without_event_ids(src: Path, extra: list[str] = ()) -> None:
    """Drop the event_id column of events.csv and append `extra` lines (without ids)."""
    path = src / "events.csv"
    lines = [line.split(",", 1)[1] for line in path.read_text(encoding="utf-8").splitlines()]
    path.write_text("\n".join([*lines, *extra]) + "\n", encoding="utf-8")


def _ids(out: Path) -> list[str]:
    return DataDir(out).read_table("events").column("event_id").to_pylist()


def test_a_log_without_event_ids_gets_deterministic_ids(tmp_path):
    src = copy_valid(tmp_path / "src")
    _without_event_ids(src, [CLICK])  # the same click as the first row, a second time
    report = ingest(src, tmp_path / "a")
    assert (report["events"].read, report["events"].accepted) == (9, 9)
    ids = _ids(tmp_path / "a")
    assert len(set(ids)) == 9 and all(ids)
    assert ids[0] != ids[8]  # two identical clicks stay two events
    ingest(src, tmp_path / "b")
    assert _ids(tmp_path / "b") == ids  # re-ingesting the same file gives the same ids
    appended = copy_valid(tmp_path / "src2")
    _without_event_ids(appended, [CLICK, "u2,i2,,view,,feed,2024-03-09T09:00:00Z"])
    ingest(appended, tmp_path / "c")
    assert _ids(tmp_path / "c")[:9] == ids  # rows added later do not renumber earlier ones


def test_one_row_or_a_batch_gets_the_id_ingestion_gives(tmp_path):
    src = copy_valid(tmp_path / "src")
    _without_event_ids(src, [CLICK])
    ingest(src, tmp_path / "out")
    ingested = DataDir(tmp_path / "out").read_table("events")
    click = {
        "user_id": "u1",
        "item_id": "i1",
        "post_id": None,
        "type": "view",
        "group_id": None,
        "channel": "feed",
        "ts": datetime(2024, 3, 5, 9, tzinfo=UTC),
    }
    (one,) = derive_event_ids([click]).to_pylist()
    assert one == ingested.column("event_id")[0].as_py()
    both = derive_event_ids([click, click]).to_pylist()
    assert both == [one, ingested.column("event_id")[8].as_py()]
    batch = ingested.drop_columns(["event_id"])
    assert derive_event_ids(batch).equals(ingested.column("event_id").combine_chunks())


def test_the_same_row_sent_again_in_another_file_is_a_duplicate(tmp_path):
    src = copy_valid(tmp_path / "src")
    _without_event_ids(src)
    lines = (src / "events.csv").read_text(encoding="utf-8").splitlines()
    (src / "events.csv").unlink()
    (src / "events").mkdir()
    (src / "events" / "part-0.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (src / "events" / "part-1.csv").write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    report = ingest(src, tmp_path / "out", max_quarantine_share=0.5)
    assert (report["events"].accepted, report["events"].quarantined) == (8, 1)
    (row,) = quarantine(tmp_path / "out", "events")
    assert (row["_file"], row["_row"], row["_field"]) == ("events/part-1.csv", 1, "event_id")


def test_a_constant_event_id_default_fails_the_run_in_one_line(tmp_path):
    src = copy_valid(tmp_path / "src")
    _without_event_ids(src)
    mapping = tmp_path / "map.toml"
    mapping.write_text('[events]\ndefaults = { event_id = "e" }\n', encoding="utf-8")
    with pytest.raises(ContractError) as err:
        ingest(src, tmp_path / "out", column_map=ColumnMap.from_toml(mapping))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("events:")
    assert "7 of 8" in message and "87.5%" in message and "duplicate key" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.toml", "src"]  # nothing written


def test_cli_threshold_option(tmp_path):
    src = copy_valid(tmp_path / "src")
    with (src / "events.csv").open("a", encoding="utf-8") as f:
        f.write("e9,u1,i1,,teleport,,feed,2024-03-05T09:00:00Z\n")  # 1 of 9 quarantined: 11%
    out = tmp_path / "out"
    refused = CliRunner().invoke(app, ["ingest", str(src), "--out", str(out)])
    line = cli_error(refused)
    assert refused.exit_code == 1
    assert "events" in line and "11.1%" in line and "type" in line
    assert not out.exists()
    allowed = CliRunner().invoke(
        app, ["ingest", str(src), "--out", str(out), "--max-quarantine-share", "0.2"]
    )
    assert allowed.exit_code == 0, allowed.output


def test_derive_event_ids_takes_contract_columns():
    table = pa.table({"user_id": ["u1"]})
    with pytest.raises(ContractError, match="ts"):
        derive_event_ids(table)
    assert EVENTS.schema.field("event_id").nullable is False  # the contract keeps ids required
