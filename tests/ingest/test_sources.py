"""Whole files that cannot be used stop the run with the file, row and field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.errors import ConfigError, UnusableFileError
from recsys.ingest import ingest


def _spoil(src: Path, name: str, content: bytes) -> None:
    (src / name).write_bytes(content)


@pytest.mark.parametrize(
    ("name", "content", "reason", "row", "field"),
    [
        ("users.csv", b"", "empty file: no header row", 0, None),
        ("users.csv", b"\n\n", "empty file: no header row", 0, None),
        ("users.csv", b"user_id,user_id\n", "duplicated column names", 0, None),
        (
            "events.csv",
            b"event_id,user_id,item_id\ne1,u1,i1\n",
            "required column 'type'",
            None,
            "type",
        ),
        # Not UTF-8: the data row holding the byte is named, not the header.
        ("users.csv", "user_id,city\nu1,caf\xe9\n".encode("latin-1"), "not UTF-8", 1, None),
        ("users.csv", "user_id,caf\xe9\nu1,x\n".encode("latin-1"), "header row", 0, None),
    ],
    ids=["empty", "blank-lines", "duplicate-header", "missing-column", "latin1", "latin1-header"],
)
def test_unusable_csv_names_file_row_and_field(
    valid_src, tmp_path, name, content, reason, row, field
):
    _spoil(valid_src, name, content)
    with pytest.raises(UnusableFileError, match=reason) as err:
        ingest(valid_src, tmp_path / "out")
    assert Path(err.value.path).name == name
    assert err.value.row == row
    assert err.value.field == field
    assert not (tmp_path / "out").exists()


def test_garbage_parquet_is_unusable(valid_src, tmp_path):
    (valid_src / "users.csv").unlink()
    _spoil(valid_src, "users.parquet", b"PAR1 this is not parquet")
    with pytest.raises(UnusableFileError, match="not a Parquet file") as err:
        ingest(valid_src, tmp_path / "out")
    assert Path(err.value.path).name == "users.parquet"


def test_missing_required_table(valid_src, tmp_path):
    (valid_src / "items.csv").unlink()
    with pytest.raises(UnusableFileError, match="required table 'items' not found"):
        ingest(valid_src, tmp_path / "out")


def test_two_sources_for_one_table_are_ambiguous(valid_src, tmp_path):
    (valid_src / "users").mkdir()
    with pytest.raises(UnusableFileError, match="ambiguous source for table 'users'"):
        ingest(valid_src, tmp_path / "out")


def test_folder_without_parts_is_unusable(valid_src, tmp_path):
    (valid_src / "social_edges.csv").unlink()
    (valid_src / "social_edges").mkdir()
    (valid_src / "social_edges" / "notes.md").write_text("x", encoding="utf-8")
    with pytest.raises(UnusableFileError, match="no .csv or .parquet parts"):
        ingest(valid_src, tmp_path / "out")


def test_output_must_differ_from_source(valid_src):
    with pytest.raises(ConfigError, match="is the source folder"):
        ingest(valid_src, valid_src)


def test_missing_source_folder(tmp_path):
    with pytest.raises(UnusableFileError, match="source folder not found"):
        ingest(tmp_path / "nope", tmp_path / "out")
