"""`recsys ingest` prints the per-table counts and fails with the file named on bad input."""

from __future__ import annotations

from typer.testing import CliRunner

from pipelines.cli import app
from tests.ingest.conftest import OWN_LOGS


def test_cli_ingests_with_a_map_and_prints_counts(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["ingest", str(OWN_LOGS), "--out", str(out), "--map", str(OWN_LOGS / "mapping.toml")]
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
