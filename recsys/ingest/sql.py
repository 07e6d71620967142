"""SQL text helpers shared by the ingest modules: quoting, and running a read of one file.

A read that DuckDB refuses becomes UnusableFileError naming the file (and the row when DuckDB
says which line), so every whole-file failure reaches the user in the same form.
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


def run_read(con: duckdb.DuckDBPyConnection, path: Path, sql: str) -> duckdb.DuckDBPyConnection:
    """Execute `sql`; a read failure becomes UnusableFileError naming the file and data row."""
    try:
        return con.execute(sql)
    except (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        match = _LINE.search(str(exc))
        # DuckDB counts the header as line 1; the data row is one less.
        row = int(match.group(1)) - 1 if match else None
        detail = "; ".join(ln for ln in lines[:4] if not ln.startswith("Possible"))
        raise UnusableFileError(str(path), f"cannot read the file: {detail}", row=row) from None
