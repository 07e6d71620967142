"""Find each contract table's source files and stage them in DuckDB under contract column names.

A staged table `stage_<table>` keeps the source values untouched (CSV cells as text, Parquet in
its own types) so a bad cell is judged later, row by row, instead of failing the read. It adds
`_src` (index of the file among the table's sources), `_row` (1-based data row in that file) and,
for a CSV line that did not parse, `_bad` and `_detail` (see csv_reader; its cells are NULL).
Only problems that make a whole file unusable raise here. An events source without an
event_id column is staged with NULL ids, which the rules replace by derived ones (event_ids).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from recsys.contract import TABLES, TableSpec
from recsys.errors import UnusableFileError
from recsys.ingest.column_map import ColumnMap, TableMap
from recsys.ingest.csv_reader import csv_header, read_csv
from recsys.ingest.sql import ident, lit, run_read

logger = logging.getLogger(__name__)

CSV, PARQUET, CATALOGUE = "csv", "parquet", "catalogue"
#: Key columns that may be absent from a source: each row's key is then derived from the row.
DERIVABLE_KEYS = {"events": "event_id"}
_SUFFIXES = {".csv": CSV, ".tsv": CSV, ".txt": CSV, ".parquet": PARQUET}


@dataclass(frozen=True)
class Source:
    """Where one table comes from: files in read order and their names relative to SRC."""

    table: str
    kind: str
    files: tuple[Path, ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class Staged:
    """A staged table: its row count, the source type of each contract column, its file names,
    and whether its key column is absent and has to be derived."""

    table: str
    read: int
    types: dict[str, str]
    names: tuple[str, ...]
    derive_key: bool = False


def discover(src: Path, column_map: ColumnMap) -> tuple[dict[str, Source], tuple[str, ...]]:
    """Each contract table's source under `src`, and the entries that are not table sources."""
    sources: dict[str, Source] = {}
    for spec in TABLES:
        mapped = column_map.for_table(spec.name).file
        if mapped is not None:
            path = src / mapped
            if not path.exists():
                raise UnusableFileError(
                    str(path), f"mapped source of table {spec.name!r} not found"
                )
            candidates = [path]
        else:
            names = (f"{spec.name}.csv", f"{spec.name}.parquet", spec.name)
            candidates = [src / n for n in names if (src / n).exists()]
        if len(candidates) > 1:
            found = ", ".join(p.name for p in candidates)
            raise UnusableFileError(
                str(src / spec.name), f"ambiguous source for table {spec.name!r}: found {found}"
            )
        if candidates:
            sources[spec.name] = _source(spec.name, candidates[0], src)
    claimed = {f for s in sources.values() for f in s.files}
    claimed |= {f.parent for s in sources.values() for f in s.files if f.parent != src}
    ignored = tuple(
        sorted(p.name for p in src.iterdir() if not p.name.startswith(".") and p not in claimed)
    )
    for name in ignored:
        logger.info("ignoring %s in the source folder: not a contract table", name)
    return sources, ignored


def _source(table: str, path: Path, src: Path) -> Source:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES)
        kinds = {_SUFFIXES[p.suffix] for p in files}
        if len(kinds) != 1:
            what = "no .csv or .parquet parts" if not kinds else "both .csv and .parquet parts"
            raise UnusableFileError(str(path), f"source folder of table {table!r} has {what}")
        kind = kinds.pop()
    elif path.suffix in _SUFFIXES:
        files, kind = [path], _SUFFIXES[path.suffix]
    else:
        raise UnusableFileError(str(path), "unsupported source file: expected .csv or .parquet")
    names = tuple(p.relative_to(src).as_posix() for p in files)
    return Source(table=table, kind=kind, files=tuple(files), names=names)


def stage(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    source: Source,
    table_map: TableMap,
    catalogue: pa.Table | None = None,
) -> Staged:
    """Create the view `stage_<table>` over every source file of `spec`."""
    parts, derive_key = [], False
    for i, path in enumerate(source.files):
        raw = f"raw_{spec.name}_{i}"
        # Only a CSV has lines that did not parse: `bad` is DuckDB's error type, `detail` its
        # message and the line (see csv_reader).
        bad = detail = "NULL::VARCHAR"
        if source.kind == CATALOGUE:
            con.register("_catalogue", catalogue)
            con.execute(f"CREATE TABLE {raw} AS SELECT * FROM _catalogue")
            con.unregister("_catalogue")
            scan, row = raw, "rowid + 1"
        elif source.kind == CSV:
            delimiter = table_map.delimiter or ("\t" if path.suffix == ".tsv" else ",")
            header = csv_header(path, delimiter)
            scan = read_csv(con, raw, path, header, delimiter)
            row, bad, detail = "_csv_row", "_csv_bad", "_csv_detail"
        else:
            scan = f"read_parquet({lit(str(path))}, file_row_number=true)"
            row = "file_row_number + 1"
        if source.kind != CSV:
            header = _columns(con, path, f"SELECT * FROM {scan}")
            header = [c for c in header if c != "file_row_number"]
        select, derived = _select_list(spec, table_map, header, path)
        if i > 0 and derived != derive_key:
            raise UnusableFileError(
                str(path),
                f"column {DERIVABLE_KEYS[spec.name]!r} is in some files of {spec.name} and "
                "not in others; expected it in all of them or in none",
                field=DERIVABLE_KEYS[spec.name],
            )
        derive_key = derived
        parts.append(
            f"SELECT {select}, {i}::INTEGER AS _src, ({row})::BIGINT AS _row, "
            f"{bad} AS _bad, {detail} AS _detail FROM {scan}"
        )
    con.execute(f"CREATE VIEW stage_{spec.name} AS " + " UNION ALL BY NAME ".join(parts))
    files = ", ".join(f"({i}, {lit(n)})" for i, n in enumerate(source.names))
    con.execute(f"CREATE TABLE files_{spec.name} AS SELECT * FROM (VALUES {files}) t(_src, _file)")
    types = {name: typ for name, typ, *_ in con.execute(f"DESCRIBE stage_{spec.name}").fetchall()}
    count = f"SELECT count(*) FROM stage_{spec.name}"
    read = run_read(con, source.files[0], count).fetchall()[0][0]
    logger.info("%s: staged %d rows from %s", spec.name, read, ", ".join(source.names))
    return Staged(
        table=spec.name, read=int(read), types=types, names=source.names, derive_key=derive_key
    )


def _select_list(
    spec: TableSpec, table_map: TableMap, header: list[str], path: Path
) -> tuple[str, bool]:
    """Contract columns selected from `header` after renaming; defaults or NULL for the rest.

    Also whether the table's derivable key column is absent (see DERIVABLE_KEYS).
    """
    select = []
    plan, derived = column_plan(spec, table_map, header, path)
    for target, origin, default in plan:
        if origin is not None:
            select.append(f"{ident(origin)} AS {ident(target)}")
        elif default is not None:
            select.append(f"{lit(default)}::VARCHAR AS {ident(target)}")
        else:
            select.append(f"NULL::VARCHAR AS {ident(target)}")
    return ", ".join(select), derived


def column_plan(
    spec: TableSpec, table_map: TableMap, header: list[str], path: Path
) -> tuple[list[tuple[str, str | None, str | None]], bool]:
    """Where each contract column comes from: (column, source column or None, default text or
    None; both None = NULL) in contract order, and whether the derivable key is absent.

    Shared by the engines; raises UnusableFileError for two source columns mapped to one
    contract column and for a required column with neither a source column nor a default.
    """
    contract = set(spec.schema.names)
    origin: dict[str, str] = {}
    for column in header:
        target = table_map.rename.get(column, column)
        if target not in contract:
            continue
        if target in origin:
            raise UnusableFileError(
                str(path),
                f"columns {origin[target]!r} and {column!r} both map to {target!r}",
                field=target,
            )
        origin[target] = column
    unused = [c for c in header if table_map.rename.get(c, c) not in contract]
    if unused:
        logger.info("%s: columns not in the contract, not read: %s", path.name, unused)
    plan: list[tuple[str, str | None, str | None]] = []
    derived = False
    for field in spec.schema:
        default = table_map.default_literal(field.name)
        if field.name in origin:
            plan.append((field.name, origin[field.name], None))
        elif default is not None:
            plan.append((field.name, None, default))
        elif DERIVABLE_KEYS.get(spec.name) == field.name:
            logger.info("%s: no %s column; deriving one from each row", path.name, field.name)
            plan.append((field.name, None, None))
            derived = True
        elif not field.nullable:
            example = "[]" if pa.types.is_list(field.type) else "..."
            raise UnusableFileError(
                str(path),
                f"required column {field.name!r} is missing (columns found: {header}); "
                f"rename a source column or give a default with --map "
                f"([{spec.name}] defaults = {{ {field.name} = {example} }})",
                field=field.name,
            )
        else:
            plan.append((field.name, None, None))
    return plan, derived


def _columns(con: duckdb.DuckDBPyConnection, path: Path, query: str) -> list[str]:
    return [r[0] for r in run_read(con, path, f"DESCRIBE {query}").fetchall()]
