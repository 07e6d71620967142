"""The import job: adapter, then the normal ingest (validation, quarantine, id maps)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from pipelines.import_job import import_dataset, run_import
from recsys.adapters import AdapterInfo
from recsys.datastore import DataDir
from tests.conftest import shared_dataset

pytestmark = pytest.mark.datasets


@pytest.mark.parametrize(
    ("format", "name"),
    [("movielens-100k", "movielens_100k"), ("brightkite-gb", "brightkite_gb_j2prec")],
)
def test_import_round_trip_through_ingest(tmp_path, format: str, name: str) -> None:
    out = tmp_path / "data"
    info = run_import(format, shared_dataset(name), out, limit_users=15)
    report = json.loads(DataDir(out).report_path.read_text())["tables"]
    for table, rows in info.counts.items():
        assert report[table]["read"] == rows, table
        assert report[table]["quarantined"] == 0, (table, report[table]["reasons"])
        assert len(DataDir(out).read_table(table)) == rows
    assert AdapterInfo.read(out) == info
    assert set(p.name for p in (out / "meta").iterdir()) == {f"{m}.parquet" for m in info.meta}
    assert not list(tmp_path.glob(".data.source-*")), "temporary source left behind"


def test_cli_reports_missing_times_and_errors(tmp_path) -> None:
    app = typer.Typer()
    app.command()(import_dataset)
    src = shared_dataset("movielens_1m")
    result = CliRunner().invoke(
        app, ["movielens-1m", str(src), "--out", str(tmp_path / "d"), "--limit-users", "5",
              "--keep-source", str(tmp_path / "src")],
    )
    assert result.exit_code == 0, result.output
    assert "no timestamps" in result.output and "meta/split.parquet" in result.output
    assert (tmp_path / "src" / "dataset.json").is_file()
    assert (tmp_path / "d" / "meta" / "split.parquet").is_file()
    bad = CliRunner().invoke(app, ["netflix", str(src), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unknown import format" in bad.output
