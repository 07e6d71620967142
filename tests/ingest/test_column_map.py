"""Someone's own logs in their own column names get in through a mapping file, without code."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.datastore import DataDir
from recsys.errors import ConfigError, UnusableFileError
from recsys.ingest import ColumnMap, ingest
from tests.ingest.conftest import OWN_LOGS, quarantine


@pytest.fixture(scope="module")
def own_out(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("own") / "out"
    report = ingest(OWN_LOGS, out, column_map=ColumnMap.from_toml(OWN_LOGS / "mapping.toml"))
    return out, report


def test_own_logs_are_mapped_onto_the_contract(own_out):
    out, report = own_out
    data = DataDir(out)
    users = {u["user_id"]: u for u in data.read_table("users").to_pylist()}
    assert users["1001"]["signup_ts"].isoformat() == "2024-01-01T00:00:00+00:00"  # milliseconds
    assert [users[u]["gender"] for u in ("1001", "1002", "1003")] == ["f", "m", None]
    assert all(u["share_opt_out"] is False for u in users.values())  # default
    items = data.read_table("items").to_pylist()
    assert [(i["item_id"], i["price"], i["status"]) for i in items] == [
        ("s-01", 59.9, "listed"),
        ("s-02", 199.0, "listed"),
    ]
    events = data.read_table("events").to_pylist()
    assert [(e["event_id"], e["type"], e["channel"]) for e in events] == [
        ("b1", "view", "app"),
        ("b2", "purchase", "app"),
        ("b3", "like", "app"),
        ("b5", "view", "app"),
    ]
    assert events[0]["ts"].isoformat() == "2024-03-01T08:00:00+00:00"
    assert report.missing == ["posts", "group_buys", "social_edges"]
    assert report.ignored == ("mapping.toml",)


def test_unmapped_value_is_quarantined_with_the_original_value(own_out):
    out, report = own_out
    (row,) = quarantine(out, "events")
    assert (row["event_id"], row["type"], row["_file"], row["_row"]) == (
        "b4",
        "cart",
        "behaviour.tsv",
        4,
    )
    assert row["_field"] == "type" and row["_reason"].startswith("not one of")
    assert (report["events"].read, report["events"].accepted) == (5, 4)


def test_without_the_map_the_same_logs_are_refused(tmp_path):
    with pytest.raises(UnusableFileError, match="required table 'users' not found"):
        ingest(OWN_LOGS, tmp_path / "out")


def test_missing_required_column_names_the_file_and_field(tmp_path):
    mapping = tmp_path / "map.toml"
    text = (OWN_LOGS / "mapping.toml").read_text(encoding="utf-8")
    text = text.replace('uid = "user_id", ', "")  # forget to rename the users' id column
    mapping.write_text(text, encoding="utf-8")
    with pytest.raises(UnusableFileError) as err:
        ingest(OWN_LOGS, tmp_path / "out", column_map=ColumnMap.from_toml(mapping))
    assert err.value.field == "user_id" and err.value.path.endswith("user_profile.csv")
    assert "--map" in str(err.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[user]\nfile = "u.csv"\n', "user"),  # unknown table
        ('[users]\nrename = { uid = "userid" }\n', "userid"),  # not a contract column
        ("[users]\ndefaults = { age = 3 }\n", "age"),
        ('[events]\nts_unit = "minutes"\n', "ts_unit"),
        ('[events]\nrename = { a = "ts", b = "ts" }\n', "several source columns"),
        ("[events]\nrenames = {}\n", "renames"),  # typo in a key
    ],
)
def test_bad_mapping_files_fail_loudly(tmp_path: Path, text: str, match: str):
    path = tmp_path / "map.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        ColumnMap.from_toml(path)


def test_defaults_render_as_parseable_text():
    tables = ColumnMap.model_validate({"users": {"defaults": {"share_opt_out": True}}})
    assert tables.users.default_literal("share_opt_out") == "true"
    assert tables.users.default_literal("city") is None
