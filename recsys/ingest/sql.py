"""SQL text helpers shared by the ingest modules: quoting, and running a read of one file.

A read that DuckDB refuses becomes UnusableFileError naming the file (and the row when DuckDB
says which line), so every whole-file failure reaches the user in the same form: one line with
DuckDB's reason, without the SQL it ran (which means nothing to the user).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from recsys.errors import UnusableFileError


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_LINE = re.compile(r"Line: (\d+)")
# "Invalid Input Error: ..." -> "...": the class of DuckDB's error says nothing to the user.
_ERROR_CLASS = re.compile(r"^[A-Z][A-Za-z ]* Error: ")


def run_read(con: duckdb.DuckDBPyConnection, path: Path, sql: str) -> duckdb.DuckDBPyConnection:
    """Execute `sql`; a read failure becomes UnusableFileError naming the file and data row."""
    try:
        return con.execute(sql)
    except (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        match = _LINE.search(str(exc))
        # DuckDB counts the header as line 1; the data row is one less.
        row = int(match.group(1)) - 1 if match else None
        raise UnusableFileError(str(path), read_failure(path, str(exc)), row=row) from None


def read_failure(path: Path, message: str) -> str:
    """DuckDB's message on one line, without its SQL ("LINE 1: ...", the caret under it)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    kept = [
        _ERROR_CLASS.sub("", ln)
        for ln in lines[:4]
        if not ln.startswith(("Possible", "LINE ")) and set(ln) - {"^", " "}
    ]
    detail = "; ".join(kept)
    if path.suffix == ".parquet":
        return f"not a Parquet file, or a damaged one: {detail}"
    return f"cannot read the file: {detail}"
