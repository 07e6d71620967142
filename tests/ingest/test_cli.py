"""`recsys ingest` prints the per-table counts and fails with the file named on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.ingest.conftest import OWN_LOGS, cli_error


def test_cli_ingests_with_a_map_and_prints_counts(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["ingest", str(OWN_LOGS), "--out", str(out), "--map", str(OWN_LOGS / "mapping.toml"),
         "--max-quarantine-share", "0.25"],  # 1 of 5 rows: a sample, not a log
    )
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.strip()}
    assert lines["events"][1:4] == ["5", "4", "1"]
    assert "type: not one of view" in result.stdout
    assert (out / "ingest_report.json").is_file()


def test_cli_fails_with_a_clear_message(valid_src, tmp_path):
    (valid_src / "users.csv").write_text("", encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(valid_src), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "users.csv" in result.stderr and "empty file: no header row" in result.stderr


def _garbage_parquet(src: Path) -> None:
    (src / "posts.csv").unlink()
    (src / "posts.parquet").write_bytes(b"PAR1 not really a parquet file, just words" * 3)


def _header_only_events(src: Path) -> None:
    path = src / "events.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")


def _mapping(text: str):
    def write(src: Path) -> list[str]:
        path = src.parent / "map.toml"
        path.write_text(text.replace("SRC", src.as_posix()), encoding="utf-8")
        return ["--map", str(path)]

    return write


# (case, change to the source or extra arguments, fragments the one error line must hold)
BAD_INPUTS = [
    ("memory-limit-word", ["--memory-limit", "lots"], ["--memory-limit", "'lots'", "2GB"]),
    (
        "memory-limit-sql",
        ["--memory-limit", "1GB'; SELECT 42; --"],
        ["--memory-limit", "expected a size"],
    ),
    ("garbage-parquet", _garbage_parquet, ["posts.parquet", "not a Parquet file"]),
    ("header-only-events", _header_only_events, ["events.csv", "events table is empty"]),
    (
        "unknown-table",
        _mapping('[bogus]\nfile = "x.csv"\n'),
        ["map.toml", "bogus", "not a contract table", "events"],
    ),
    (
        "absolute-path",
        _mapping('[events]\nfile = "SRC/events.csv"\n'),
        ["map.toml", "[events] file", "relative"],
    ),
    (
        "parent-path",
        _mapping('[events]\nfile = "../../elsewhere.csv"\n'),
        ["map.toml", "[events] file", "inside"],
    ),
    (
        "bad-default-type",
        _mapping("[users]\ndefaults = { city = { a = 1 } }\n"),
        ["map.toml", "[users] defaults.city", "expected"],
    ),
]


@pytest.mark.parametrize(
    ("case", "change", "fragments"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_is_one_line_naming_file_field_and_expectation(
    valid_src, tmp_path, case, change, fragments
):
    args = change if isinstance(change, list) else (change(valid_src) or [])
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["ingest", str(valid_src), "--out", str(out), *args])
    line = cli_error(result)
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    for leak in ("LINE 1", "SELECT", "read_parquet", "pydantic", "Traceback"):
        assert leak not in line.replace("SELECT 42", ""), line
    assert not out.exists()


def test_an_empty_optional_table_is_only_reported(valid_src, tmp_path):
    path = valid_src / "social_edges.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(valid_src), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "social_edges" in result.stdout
