"""A log of events alone needs no hand-written users table: users are derived from the ids the
other tables name, and the report says so."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pipelines.cli import app
from recsys.datastore import DataDir
from recsys.idmap import IdMap
from recsys.ingest import IngestReport, ingest
from recsys.ingest.report import DERIVED
from tests.ingest.conftest import copy_valid


def test_users_are_derived_from_the_ids_the_other_tables_name(tmp_path):
    src = copy_valid(tmp_path / "src")
    (src / "users.csv").unlink()
    report = ingest(src, tmp_path / "out")
    users = {u["user_id"]: u for u in DataDir(tmp_path / "out").read_table("users").to_pylist()}
    # events name u1..u5; posts, group buys and edges name no other user.
    assert sorted(users) == ["u1", "u2", "u3", "u4", "u5"]
    # signup = the first time the user appears in any table: u1's first row is a friend edge
    # (2024-01-10), before their post (03-01) and first event (03-05); u3's is post p3 (03-03).
    assert users["u1"]["signup_ts"].isoformat() == "2024-01-10T00:00:00+00:00"
    assert users["u3"]["signup_ts"].isoformat() == "2024-03-03T12:00:00+00:00"
    assert all(u["share_opt_out"] is False for u in users.values())
    assert all(u["gender"] is None and u["city"] is None for u in users.values())
    t = report["users"]
    assert t.status == DERIVED
    assert (t.read, t.accepted, t.quarantined) == (5, 5, 0)
    assert "events.user_id" in t.sources
    assert report.total_quarantined == 0
    assert report["events"].accepted == 8
    saved = json.loads(DataDir(tmp_path / "out").report_path.read_text(encoding="utf-8"))
    assert saved["tables"]["users"]["status"] == "derived"
    assert IngestReport.load(DataDir(tmp_path / "out").report_path)["users"].status == DERIVED
    assert len(IdMap.load(DataDir(tmp_path / "out").idmap_path("users"))) == 5


def test_derived_users_are_printed_as_derived(tmp_path):
    src = copy_valid(tmp_path / "src")
    (src / "users.csv").unlink()
    result = CliRunner().invoke(app, ["ingest", str(src), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    (line,) = [ln for ln in result.stdout.splitlines() if ln.startswith("users")]
    assert "derived" in line


def test_derivation_is_deterministic(tmp_path):
    src = copy_valid(tmp_path / "src")
    (src / "users.csv").unlink()
    ingest(src, tmp_path / "a")
    ingest(src, tmp_path / "b")
    for name in ("users/part-00000.parquet", "idmap/users.parquet", "ingest_report.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
