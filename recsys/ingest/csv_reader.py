"""Read one CSV file into DuckDB, keeping the lines that do not parse instead of failing on them.

A line with more or fewer cells than the header, or a misplaced quote, is a bad line, not a bad
file: DuckDB skips it (`ignore_errors`) and records it (`store_rejects`) with its line number and
message. It becomes a row of its own, which the rules quarantine as a malformed line, so read
still counts it. Rows are numbered as everywhere in ingest (1-based data rows; the header and
blank lines are not rows), so the rows after a bad line keep their number in the file.

Still unusable as a whole: a header that cannot be read; bytes that are not UTF-8 (a file in
another encoding needs re-encoding, quarantining only its non-ASCII rows would skew the data);
a quote left open past the end of its line (it swallows the following lines as one value, so
the row boundaries after it are lost).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb

from recsys.errors import UnusableFileError
from recsys.ingest.sql import lit, run_read

# DuckDB's error type of a skipped line -> the reason it is quarantined for (see rules.py).
MALFORMED = {
    "TOO MANY COLUMNS": "malformed CSV line: more cells than the header",
    "MISSING COLUMNS": "malformed CSV line: fewer cells than the header",
    "UNQUOTED VALUE": "malformed CSV line: a quoted cell not closed, or text after its quote",
    "LINE SIZE OVER MAXIMUM": "malformed CSV line: longer than the maximum line size",
}
MALFORMED_OTHER = "malformed CSV line"
ENCODING_ERROR = "INVALID ENCODING"  # the same in DuckDB 1.3 and 2.0
QUOTE_ERROR = "UNQUOTED VALUE"

DETAIL_CHARS = 200  # of the bad line quoted in the quarantine reason
HEADER_BYTES = 1 << 20  # the header row is read from the first MiB only
_CHUNK = 1 << 23
_BLANK_LINE = re.compile(rb"\n\r?\n|\r\r")


def csv_header(path: Path, delimiter: str) -> list[str]:
    """The stripped column names of the header row; UnusableFileError when there is none.

    Only the header's own lines are decoded, so a bad byte in a data row is reported at that
    row by the data read, not blamed on the header.
    """
    try:
        with path.open("rb") as f:
            head = f.read(HEADER_BYTES)
        lines = _decoded(head.splitlines(keepends=True))
        header = next(csv.reader(lines, delimiter=delimiter), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UnusableFileError(str(path), f"cannot read the header row: {exc}", row=0) from None
    if not header or not any(h.strip() for h in header):
        raise UnusableFileError(str(path), "empty file: no header row", row=0)
    header = [h.strip() for h in header]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated or "" in header:
        what = f"duplicated column names {duplicated}" if duplicated else "an unnamed column"
        raise UnusableFileError(str(path), f"header row has {what}", row=0)
    return header


def _decoded(lines: Iterable[bytes]) -> Iterator[str]:
    for i, line in enumerate(lines):
        yield line.decode("utf-8-sig" if i == 0 else "utf-8")


def read_csv(
    con: duckdb.DuckDBPyConnection, name: str, path: Path, header: list[str], delimiter: str
) -> str:
    """Create the view `name` over the CSV file `path` and return its name.

    Columns: the header's, as text; `_csv_row`, the data row; `_csv_bad` and `_csv_detail`, for a
    line DuckDB could not parse, its error type and the parser's message with the line (the
    header's columns are then NULL). Raises UnusableFileError for what the module doc lists.
    """
    columns = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in header) + "}"
    rejects = f"{name}_rejects"
    run_read(
        con,
        path,
        f"CREATE TABLE {name}_ok AS SELECT * FROM read_csv({lit(str(path))}, "
        f"columns={columns}, header=true, auto_detect=false, delim={lit(delimiter)}, "
        "quote='\"', escape='\"', strict_mode=true, ignore_errors=true, store_rejects=true, "
        f"rejects_table={lit(rejects)}, rejects_scan={lit(name + '_scans')}, rejects_limit=0)",
    )
    good = f"SELECT *, (rowid + 1)::BIGINT AS _csv_g FROM {name}_ok"
    if not con.execute(f"SELECT count(*) FROM {rejects}").fetchall()[0][0]:
        con.execute(
            f"CREATE VIEW {name} AS SELECT * EXCLUDE (_csv_g), _csv_g AS _csv_row, "
            f"NULL::VARCHAR AS _csv_bad, NULL::VARCHAR AS _csv_detail FROM ({good})"
        )
        return name
    _bad_lines(con, name, path, delimiter)
    _refuse_unusable(con, name, path)
    # Good row g follows every bad line i (in row order) with row_i - i < g, since row_i - i
    # good rows precede bad line i: its data row is g plus the count of those bad lines.
    con.execute(
        f"""
        CREATE TABLE {name}_shift AS
        SELECT k, max(i) AS n FROM (
            SELECT _csv_row - row_number() OVER (ORDER BY _csv_row) AS k,
                   row_number() OVER (ORDER BY _csv_row) AS i
            FROM {name}_bad
        ) GROUP BY k
        """
    )
    con.execute(
        f"""
        CREATE VIEW {name} AS
        SELECT o.* EXCLUDE (_csv_g), (o._csv_g + coalesce(s.n, 0))::BIGINT AS _csv_row,
               NULL::VARCHAR AS _csv_bad, NULL::VARCHAR AS _csv_detail
        FROM ({good}) o ASOF LEFT JOIN {name}_shift s ON o._csv_g > s.k
        UNION ALL BY NAME
        SELECT _csv_row, _csv_bad, _csv_detail FROM {name}_bad
        """
    )
    return name


def _bad_lines(con: duckdb.DuckDBPyConnection, name: str, path: Path, delimiter: str) -> None:
    """`<name>_bad`: one row per line DuckDB skipped, with its data row, type and detail."""
    # DuckDB's line counts the header and blank lines (a quoted line break is not a new line);
    # a data row counts neither, so blank lines before a bad line are subtracted.
    last_line, last_byte = con.execute(
        f"SELECT max(line), max(line_byte_position) FROM {name}_rejects"
    ).fetchall()[0]
    blanks = _blank_lines(path, delimiter, int(last_line), int(last_byte))
    con.execute(f"CREATE TABLE {name}_blanks AS SELECT unnest(?::BIGINT[]) AS line", [blanks])
    text = "trim(csv_line, chr(10) || chr(13))"
    quoted = (
        f"CASE WHEN length({text}) > {DETAIL_CHARS} "
        f"THEN left({text}, {DETAIL_CHARS}) || '...' ELSE {text} END"
    )
    con.execute(
        f"""
        CREATE TABLE {name}_bad AS
        SELECT (line - 1 - (SELECT count(*) FROM {name}_blanks b WHERE b.line < r.line))::BIGINT
                   AS _csv_row,
               error_type::VARCHAR AS _csv_bad,
               'parser: ' || rtrim(error_message, '.') || '; line: ' || {quoted} AS _csv_detail,
               strpos({text}, chr(10)) > 0 OR strpos({text}, chr(13)) > 0 AS _csv_spans
        FROM {name}_rejects r
        QUALIFY row_number() OVER (PARTITION BY line ORDER BY byte_position, column_idx) = 1
        """
    )


def _blank_lines(path: Path, delimiter: str, last_line: int, last_byte: int) -> list[int]:
    """DuckDB line numbers of the blank lines before line `last_line` (at byte `last_byte`).

    A byte scan finds most files have no empty line at all; only when one shows up, a CSV
    parse (which knows a line break inside quotes is not a new line) numbers them.
    """
    # A few bytes past the line's start, in case DuckDB counts its line break into the line.
    if not _has_empty_line(path, last_byte + 4):
        return []
    blanks = []
    limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)  # DuckDB's own maximum line size applies, not csv's 128 KiB
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
            reader = csv.reader(f, delimiter=delimiter, quotechar='"', doublequote=True)
            for line, row in enumerate(reader, start=1):
                if line >= last_line:
                    break
                if not row:
                    blanks.append(line)
    finally:
        csv.field_size_limit(limit)
    return blanks


def _has_empty_line(path: Path, end: int) -> bool:
    """Whether two line breaks follow each other before byte `end` (quoted or not)."""
    with path.open("rb") as f:
        seen, tail = 0, b""
        while seen < end:
            chunk = f.read(min(_CHUNK, end - seen))
            if not chunk:
                return False
            if _BLANK_LINE.search(tail + chunk):
                return True
            seen, tail = seen + len(chunk), chunk[-2:]
    return False


def _refuse_unusable(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> None:
    count, first = con.execute(
        f"SELECT count(*), min(_csv_row) FROM {name}_bad WHERE _csv_bad = {lit(ENCODING_ERROR)}"
    ).fetchall()[0]
    if count:
        raise UnusableFileError(
            str(path),
            f"not UTF-8: bytes that are not UTF-8 in {count:,} row(s), the first here; "
            "re-encode the file as UTF-8 (a file in another encoding is not a few bad rows)",
            row=int(first),
        )
    (first,) = con.execute(
        f"SELECT min(_csv_row) FROM {name}_bad WHERE _csv_bad = {lit(QUOTE_ERROR)} AND _csv_spans"
    ).fetchall()[0]
    if first is not None:
        raise UnusableFileError(
            str(path),
            "a quoted cell opened in this row is not closed on its line and swallows the lines "
            "after it, so where the next rows start is lost; fix the quoting",
            row=int(first),
        )
