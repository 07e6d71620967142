"""End-to-end ingestion: output layout and schema, id maps, report, idempotence, atomic replace."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recsys.contract import TABLES, table_spec
from recsys.datastore import DataDir
from recsys.errors import UnusableFileError
from recsys.idmap import IdMap
from recsys.ingest import IngestReport, ingest
from tests.ingest.conftest import VALID_COUNTS, append_rows, copy_valid


@pytest.fixture(scope="module")
def valid_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IngestReport]:
    root = tmp_path_factory.mktemp("valid")
    src = copy_valid(root / "src")
    (src / "truth").mkdir()  # like `recsys synth` writes: not a contract table
    (src / "truth" / "affinity.parquet").write_bytes(b"not read")
    report = ingest(src, root / "out")
    return root / "out", report


def _file_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_every_table_has_exactly_the_contract_schema(valid_out):
    out, _ = valid_out
    data = DataDir(out)
    for spec in TABLES:
        parts = data.parts(spec.name)
        assert parts, spec.name
        assert pq.read_schema(parts[0]).equals(spec.schema), spec.name
        assert data.read_table(spec.name).num_rows == VALID_COUNTS.get(spec.name, 21)


def test_values_are_parsed_to_contract_types(valid_out):
    out, _ = valid_out
    users = DataDir(out).read_table("users").to_pylist()
    by_id = {u["user_id"]: u for u in users}
    # ISO with offset, epoch seconds, and true/false words all land as UTC / bool values.
    assert by_id["u2"]["signup_ts"].isoformat() == "2024-01-06T01:30:00+00:00"
    assert by_id["u3"]["signup_ts"].isoformat() == "2024-01-06T09:00:00+00:00"
    assert [by_id[u]["share_opt_out"] for u in ("u3", "u4", "u5")] == [True, False, False]
    assert by_id["u3"]["city"] is None
    items = {r["item_id"]: r for r in DataDir(out).read_table("items").to_pylist()}
    assert items["i2"]["title"] == "Wireless earbuds, noise cancelling"
    assert items["i4"]["price"] == 459.0


def test_id_maps_follow_accepted_row_order(valid_out):
    out, _ = valid_out
    data = DataDir(out)
    users = IdMap.load(data.idmap_path("users"))
    assert users.ids.tolist() == ["u1", "u2", "u3", "u4", "u5"]
    assert IdMap.load(data.idmap_path("items")).to_index(["i3", "nope"]).tolist() == [2, -1]
    assert len(IdMap.load(data.idmap_path("circles"))) == 21
    assert len(IdMap.load(data.idmap_path("posts"))) == 3


def test_report_is_written_reconciled_and_lists_ignored_entries(valid_out):
    out, report = valid_out
    loaded = IngestReport.load(DataDir(out).report_path)
    assert loaded.to_dict() == report.to_dict()
    assert report.ignored == ("truth",)
    assert report.missing == []
    for name, count in VALID_COUNTS.items():
        t = report[name]
        assert (t.read, t.accepted, t.quarantined) == (count, count, 0)
    assert report["circles"].sources == ("circles.toml",)


def test_rerun_is_byte_identical_in_a_new_and_in_the_same_folder(tmp_path):
    src = copy_valid(tmp_path / "src")
    append_rows(src, "events", ["e9,u9,i1,,view,,feed,2024-03-05T09:00:00Z"])  # quarantined
    ingest(src, tmp_path / "a", max_quarantine_share=1.0)
    ingest(src, tmp_path / "b", max_quarantine_share=1.0)
    first = _file_bytes(tmp_path / "a")
    assert first == _file_bytes(tmp_path / "b")
    ingest(src, tmp_path / "a", max_quarantine_share=1.0)
    assert first == _file_bytes(tmp_path / "a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "src"]  # no temp leftovers


def test_missing_optional_tables_are_reported_and_references_to_them_quarantined(tmp_path):
    src = copy_valid(tmp_path / "src")
    (src / "posts.csv").unlink()
    (src / "group_buys.csv").unlink()
    report = ingest(src, tmp_path / "out", max_quarantine_share=1.0)
    assert report.missing == ["posts", "group_buys"]
    assert not DataDir(tmp_path / "out").has_table("posts")
    q = pq.read_table(DataDir(tmp_path / "out").quarantine_path("events")).to_pylist()
    fields = sorted({r["_field"] for r in q})
    # e2, e3, e7 name a group; e4, e5, e8 name a post.
    assert fields == ["group_id", "post_id"] and len(q) == 6
    assert report["events"].accepted == 2


def test_parquet_sources_with_native_types_round_trip(valid_out, tmp_path):
    """An ingested data directory is itself a valid source (folders of Parquet parts)."""
    out, _ = valid_out
    src = tmp_path / "src"
    shutil.copytree(out, src)
    # A source with epoch-second integers and int ids instead of text, as real logs have.
    events = pq.read_table(src / "events" / "part-00000.parquet")
    ts = events.column("ts").cast(pa.int64()).to_numpy() // 1_000_000
    events = events.set_column(events.schema.get_field_index("ts"), "ts", pa.array(ts))
    shutil.rmtree(src / "events")
    pq.write_table(events, src / "events.parquet")
    report = ingest(src, tmp_path / "again")
    assert set(report.ignored) == {"idmap", "ingest_report.json", "quarantine"}
    for spec in TABLES:
        before = DataDir(out).read_table(spec.name)
        after = DataDir(tmp_path / "again").read_table(spec.name)
        assert after.equals(before), spec.name


def test_failed_run_leaves_previous_output_untouched(valid_out, tmp_path):
    out, _ = valid_out
    target = tmp_path / "out"
    shutil.copytree(out, target)
    before = _file_bytes(target)
    src = copy_valid(tmp_path / "src")
    (src / "events.csv").write_text("event_id,user_id\ne1,u1\n", encoding="utf-8")
    with pytest.raises(UnusableFileError, match="required column 'item_id'|required column"):
        ingest(src, target)
    assert _file_bytes(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_ids_are_strings_even_from_integer_columns(tmp_path):
    src = copy_valid(tmp_path / "src")
    users = pa.table(
        {
            "user_id": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "signup_ts": pa.array([1704531600] * 5, pa.int64()),
            "share_opt_out": pa.array([False] * 5),
        }
    )
    (src / "users.csv").unlink()
    pq.write_table(users, src / "users.parquet")
    # The CSV tables name the same users as text: "1" instead of "u1".
    for path in src.glob("*.csv"):
        path.write_text(re.sub(r"\bu(\d)\b", r"\1", path.read_text(encoding="utf-8")))
    report = ingest(src, tmp_path / "out")
    got = DataDir(tmp_path / "out").read_table("users")
    assert got.column("user_id").to_pylist() == ["1", "2", "3", "4", "5"]
    assert got.schema.equals(table_spec("users").schema)
    assert report.total_quarantined == 0  # integer ids in Parquet match the text ids in CSV
    ids = IdMap.load(DataDir(tmp_path / "out").idmap_path("users")).ids
    assert np.all(ids == ["1", "2", "3", "4", "5"])


def _ms(iso: str) -> str:
    return str(int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000))


def test_a_file_whose_every_row_is_rejected_fails_the_run(tmp_path):
    """users.csv in epoch milliseconds: no user is accepted, which would quarantine every post,
    event and edge as "unknown user"; the run stops at the cause instead."""
    src = copy_valid(tmp_path / "src")
    users = [
        "user_id,signup_ts,gender,age_band,city,share_opt_out",
        ",2024-01-05T08:00:00Z,f,,,false",  # row 1: fails for another reason than the rest
        *(f"u{i},{_ms(f'2024-01-0{i}T08:00:00Z')},f,,,false" for i in range(2, 6)),
    ]
    (src / "users.csv").write_text("\n".join(users) + "\n", encoding="utf-8")
    target = tmp_path / "out"
    with pytest.raises(UnusableFileError, match="no row accepted: all 5 rows") as err:
        ingest(src, target)
    assert Path(err.value.path).name == "users.csv"
    assert (err.value.row, err.value.field) == (1, "user_id")
    assert "the first: required field is empty" in err.value.reason
    assert "most rows (4) for signup_ts: timestamp outside" in err.value.reason
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_header_only_tables_are_not_unusable(tmp_path):
    src = copy_valid(tmp_path / "src")
    for table in ("posts", "group_buys", "social_edges"):
        path = src / f"{table}.csv"
        path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n")
    report = ingest(src, tmp_path / "out", max_quarantine_share=1.0)
    for table in ("posts", "group_buys", "social_edges"):
        assert (report[table].read, report[table].accepted) == (0, 0)
    # e2, e3, e7 name a group and e4, e5, e8 a post: quarantined, the rest of the file is fine.
    assert (report["events"].accepted, report["events"].quarantined) == (2, 6)


def _events_in_parts(src: Path, second: list[str]) -> None:
    lines = (src / "events.csv").read_text(encoding="utf-8").splitlines()
    (src / "events.csv").unlink()
    (src / "events").mkdir()
    (src / "events" / "part-0.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (src / "events" / "part-1.csv").write_text("\n".join([lines[0], *second]) + "\n")


def test_a_resent_part_of_duplicates_is_redundant_not_unusable(tmp_path):
    src = copy_valid(tmp_path / "src")
    lines = (src / "events.csv").read_text(encoding="utf-8").splitlines()
    _events_in_parts(src, lines[1:])
    report = ingest(src, tmp_path / "out", max_quarantine_share=1.0)
    assert (report["events"].read, report["events"].accepted) == (16, 8)
    assert report["events"].reasons == {
        "event_id: duplicate key: an earlier row with the same key was kept": 8
    }


def test_a_part_with_no_accepted_row_names_the_part(tmp_path):
    src = copy_valid(tmp_path / "src")
    _events_in_parts(src, ["e9,u1,i1,,view,,feed,1709647200000", "e10,u1,i1,,view,,feed,nope"])
    with pytest.raises(UnusableFileError, match="no row accepted: all 2 rows") as err:
        ingest(src, tmp_path / "out")
    assert Path(err.value.path).as_posix().endswith("events/part-1.csv")
    assert (err.value.row, err.value.field) == (1, "ts")


def test_folder_of_csv_parts_names_the_part_and_row(tmp_path):
    src = copy_valid(tmp_path / "src")
    lines = (src / "events.csv").read_text(encoding="utf-8").splitlines()
    (src / "events.csv").unlink()
    (src / "events").mkdir()
    header, rows = lines[0], lines[1:]
    (src / "events" / "part-0.csv").write_text("\n".join([header, *rows[:5]]) + "\n")
    bad = "e99,u1,i1,,view,,feed,not-a-time"
    (src / "events" / "part-1.csv").write_text("\n".join([header, *rows[5:], bad]) + "\n")
    report = ingest(src, tmp_path / "out", max_quarantine_share=1.0)
    assert report["events"].sources == ("events/part-0.csv", "events/part-1.csv")
    (row,) = pq.read_table(DataDir(tmp_path / "out").quarantine_path("events")).to_pylist()
    assert (row["_file"], row["_row"], row["_field"]) == ("events/part-1.csv", 4, "ts")
    events = DataDir(tmp_path / "out").read_table("events").column("event_id").to_pylist()
    assert events == [f"e{i}" for i in range(1, 9)]  # file order, then row order
