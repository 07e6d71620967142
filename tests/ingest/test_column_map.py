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
    mapping = ColumnMap.from_toml(OWN_LOGS / "mapping.toml")
    # One "cart" row of five is quarantined on purpose: 20% of a sample, allowed here.
    report = ingest(OWN_LOGS, out, column_map=mapping, max_quarantine_share=0.25)
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
    with pytest.raises(UnusableFileError, match="required table 'items' not found"):
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


def test_circles_with_only_ids_and_names_get_an_empty_category_list(valid_src, tmp_path):
    (valid_src / "circles.csv").write_text(
        "circle_id,name_zh,name_en\nbeauty,美妆,Beauty\ndigital,数码,Digital\n"
        "mother_baby,母婴,Mother & Baby\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "map.toml"
    mapping.write_text("[circles]\ndefaults = { categories = [] }\n", encoding="utf-8")
    report = ingest(valid_src, tmp_path / "out", column_map=ColumnMap.from_toml(mapping))
    circles = DataDir(tmp_path / "out").read_table("circles").to_pylist()
    assert [(c["circle_id"], c["categories"]) for c in circles] == [
        ("beauty", []), ("digital", []), ("mother_baby", []),
    ]
    assert report.total_quarantined == 0


def test_a_list_default_fills_a_list_column():
    tables = ColumnMap.model_validate({"circles": {"defaults": {"categories": ["a", "b"]}}})
    assert tables.circles.default_literal("categories") == "a;b"
    with pytest.raises(ConfigError, match="city is not a list column"):
        ColumnMap.model_validate({"users": {"defaults": {"city": ["a"]}}})


@pytest.mark.parametrize(
    ("file", "match"),
    [
        ("/etc/events.csv", "relative"),
        ("../../elsewhere.csv", "inside"),
        ("a/../../b.csv", "inside"),
        ("C:\\\\logs\\\\events.csv", "relative"),
    ],
)
def test_a_mapped_file_stays_inside_the_source_folder(tmp_path, file, match):
    path = tmp_path / "map.toml"
    path.write_text(f'[events]\nfile = "{file}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as err:
        ColumnMap.from_toml(path)
    assert "\n" not in str(err.value) and "[events] file" in str(err.value)


def test_errors_of_a_mapping_file_are_one_line(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text('[events]\nts_unit = "minutes"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        ColumnMap.from_toml(path)
    message = str(err.value)
    assert "\n" not in message and "[events] ts_unit" in message and "'ms'" in message
    assert str(path) in message
