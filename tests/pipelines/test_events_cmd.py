"""`recsys events export` from the command line: a delta written, one-line errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from recsys.events.store import SQLiteEventStore

runner = CliRunner()


def test_export_writes_the_live_rows(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events" / "events.sqlite3")
    store.add("events", [("e1", "u1", "i1", None, "view", None, None, 1_700_000_000_000_000)],
              [("u1", 1_700_000_000_000_000)])
    result = runner.invoke(app, ["events", "export", "--out", str(tmp_path / "delta"),
                                 "--models-dir", str(tmp_path / "models")])
    assert result.exit_code == 0, result.output
    assert "users 1, posts 0, group_buys 0, events 1" in result.output
    assert sorted(p.name for p in (tmp_path / "delta").glob("*.parquet")) == [
        "events.parquet", "users.parquet"]


def test_export_errors_are_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["events", "export", "--out", str(tmp_path / "d"),
                                 "--store", str(tmp_path / "none.sqlite3")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: --store")
    assert len(result.output.strip().splitlines()) == 1
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep")
    SQLiteEventStore(tmp_path / "s.sqlite3")
    result = runner.invoke(app, ["events", "export", "--out", str(tmp_path / "busy"),
                                 "--store", str(tmp_path / "s.sqlite3")])
    assert result.exit_code == 1 and "--force" in result.output
    assert (tmp_path / "busy" / "mine.txt").read_text() == "keep"
