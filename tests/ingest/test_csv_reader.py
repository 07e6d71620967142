"""A CSV line that does not parse is quarantined, not fatal; rows keep their number in the file."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from recsys.datastore import DataDir
from recsys.errors import UnusableFileError
from recsys.ingest import ingest
from recsys.ingest.csv_reader import csv_header, read_csv
from tests.ingest.conftest import append_rows, quarantine

T = "2024-03-05T10:00:00Z"


def _post(post_id: str, author: str = "u1", text: str = "hi") -> str:
    return f"{post_id},{author},beauty,,{T},{text},false"


def _spoil_posts(src: Path, blank: bool) -> None:
    """posts.csv holds p1..p3; rows 4..9 follow. A quoted cell spanning lines is one row, and
    with `blank`, it holds an empty line and blank lines (not rows) sit between rows."""
    text = '"two\n\nparagraphs"' if blank else '"two\nlines"'
    gap = [""] if blank else []
    lines = [
        _post("p4", text=text),  # row 4, accepted
        *gap,
        _post("p5") + ",extra",  # row 5: one cell too many
        "p6,u1,beauty",  # row 6: too few cells
        _post("p7", text='"hi"x'),  # row 7: text after a closing quote
        *gap,
        _post("p8", author="u99"),  # row 8: parses, but breaks a rule (unknown author)
        _post("p9"),  # row 9, accepted
    ]
    append_rows(src, "posts", lines)


@pytest.mark.parametrize("blank", [False, True], ids=["no-blank-line", "blank-lines"])
def test_malformed_lines_are_quarantined_and_rows_keep_their_number(valid_src, tmp_path, blank):
    _spoil_posts(valid_src, blank)
    report = ingest(valid_src, tmp_path / "out", max_quarantine_share=1.0)

    posts = report["posts"]
    assert (posts.read, posts.accepted, posts.quarantined) == (9, 5, 4)
    rows = quarantine(tmp_path / "out", "posts")
    assert [(r["_row"], r["_field"], r["post_id"]) for r in rows] == [
        (5, "(line)", None),
        (6, "(line)", None),
        (7, "(line)", None),
        (8, "author_id", "p8"),
    ]
    assert all(r["_file"] == "posts.csv" for r in rows)
    more, fewer, quote = (r["_reason"] for r in rows[:3])
    assert more.startswith("malformed CSV line: more cells than the header; parser: ")
    assert "Found: 8" in more and f"line: {_post('p5')},extra" in more
    assert fewer.startswith("malformed CSV line: fewer cells than the header")
    assert "line: p6,u1,beauty" in fewer
    assert "a quoted cell not closed" in quote and '"hi"x' in quote
    assert posts.reasons["(line): malformed CSV line: more cells than the header"] == 1
    accepted = DataDir(tmp_path / "out").read_table("posts").to_pydict()
    assert accepted["post_id"] == ["p1", "p2", "p3", "p4", "p9"]
    assert accepted["text"][3] == ("two\n\nparagraphs" if blank else "two\nlines")


def test_rerun_with_malformed_lines_is_byte_identical(valid_src, tmp_path):
    _spoil_posts(valid_src, blank=True)
    ingest(valid_src, tmp_path / "a", max_quarantine_share=1.0)
    ingest(valid_src, tmp_path / "b", max_quarantine_share=1.0)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.*"))
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_quote_left_open_on_the_last_line_is_quarantined(valid_src, tmp_path):
    append_rows(valid_src, "posts", [_post("p4", text='"never closed')])
    report = ingest(valid_src, tmp_path / "out", max_quarantine_share=1.0)
    assert (report["posts"].read, report["posts"].quarantined) == (4, 1)
    (row,) = quarantine(tmp_path / "out", "posts")
    assert (row["_row"], row["_field"]) == (4, "(line)")
    assert "unterminated quote" in row["_reason"]


def test_quote_that_swallows_the_following_lines_makes_the_file_unusable(valid_src, tmp_path):
    lines = [_post("p4", text='"never closed'), _post("p5"), _post("p6")]
    append_rows(valid_src, "posts", lines)
    with pytest.raises(UnusableFileError, match="swallows the lines after it") as err:
        ingest(valid_src, tmp_path / "out")
    assert (Path(err.value.path).name, err.value.row) == ("posts.csv", 4)
    assert not (tmp_path / "out").exists()


def test_a_file_of_garbage_lines_fails_as_a_whole(valid_src, tmp_path):
    header = (valid_src / "users.csv").read_text(encoding="utf-8").splitlines()[0]
    (valid_src / "users.csv").write_text(f"{header}\nu1;2024-01-05;f\nu2;2024-01-06;m\n")
    with pytest.raises(UnusableFileError, match="no row accepted: all 2 rows") as err:
        ingest(valid_src, tmp_path / "out")
    assert (Path(err.value.path).name, err.value.row, err.value.field) == ("users.csv", 1, "(line)")
    assert "fewer cells than the header" in err.value.reason
    assert not (tmp_path / "out").exists()


def test_a_byte_that_is_not_utf8_is_blamed_on_its_row_not_the_header(valid_src, tmp_path):
    path = valid_src / "users.csv"
    path.write_bytes(path.read_bytes().replace(b"Guangzhou", b"Guangzh\xf4u"))  # data row 2
    with pytest.raises(UnusableFileError, match="not UTF-8") as err:
        ingest(valid_src, tmp_path / "out")
    assert (Path(err.value.path).name, err.value.row) == ("users.csv", 2)
    assert "header" not in err.value.reason


def test_header_is_read_without_decoding_the_rows_after_it(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbfa, b ,c\n1,caf\xe9,3\n")
    assert csv_header(path, ",") == ["a", "b", "c"]


@pytest.mark.parametrize("n", [20_000, pytest.param(1_500_000, marks=pytest.mark.slow)])
def test_row_numbers_match_the_file_around_bad_and_blank_lines(tmp_path, n):
    """Each good row holds its own data row number; DuckDB reads in parallel past one buffer."""
    rng = random.Random(n)
    lines, bad = ["id,text,flag"], []
    for row in range(1, n + 1):
        if rng.random() < 0.002:
            lines.append("")  # a blank line is not a row
        kind = rng.random()
        if kind < 0.003:
            lines.append(f"{row},too,many,cells")
        elif kind < 0.006:
            lines.append(f"{row},too few")
        elif kind < 0.009:
            lines.append(f'{row},"quoted"then text,1')
        elif kind < 0.05:
            lines.append(f'{row},"several\nlines\n\nof text",1')
        else:
            lines.append(f"{row},plain text,1")
        if kind < 0.009:
            bad.append(row)
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    con = duckdb.connect(config={"threads": 4, "preserve_insertion_order": True})
    view = read_csv(con, "raw", path, csv_header(path, ","), ",")
    rows = con.execute(f"SELECT id, _csv_row, _csv_bad FROM {view}").fetchall()

    assert len(rows) == n
    assert [r for i, r, b in rows if b is None] == [int(i) for i, r, b in rows if b is None]
    assert sorted(r for _, r, b in rows if b is not None) == bad
    assert {b for *_, b in rows} == {None, "TOO MANY COLUMNS", "MISSING COLUMNS", "UNQUOTED VALUE"}
