"""The combined ingest source of a catalogue refresh: the base data's parts, then the delta's rows.

`recsys refresh` re-runs the normal `ingest` on this folder, so the delta's rows are validated,
quarantined and counted like any other. Base parts are linked (never copied) and listed first,
so base rows keep their dense indices. Delta cells are written as text Parquet parts, which
ingest parses cell by cell exactly as it does a CSV. Afterwards `remap_quarantine` makes the
quarantine and the report name the delta files and rows, not these temporary parts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.contract import TABLES, ItemStatus
from recsys.datastore import DataDir
from recsys.errors import ConfigError, UnusableFileError
from recsys.ingest.column_map import ColumnMap
from recsys.ingest.csv_reader import csv_header
from recsys.ingest.report import IngestReport
from recsys.ingest.sources import CSV, discover
from recsys.ingest.sql import ident, lit

logger = logging.getLogger(__name__)

_STATUSES = tuple(s.value for s in ItemStatus)


@dataclass(frozen=True)
class DeltaPart:
    """One delta file as a Parquet part of the combined source, and where its rows came from."""

    table: str
    name: str  # file name inside the combined source, e.g. items/delta-00-items.parquet
    origin: str  # the delta file it came from, relative to the delta folder
    rows: np.ndarray  # original 1-based row of each row written, in order


@dataclass
class CombinedSource:
    """A source folder for `ingest`: base parts (linked) first, then the delta's rows."""

    root: Path
    parts: list[DeltaPart] = field(default_factory=list)
    delta_rows: dict[str, int] = field(default_factory=dict)  # table -> rows in the delta
    status_updates: int = 0  # delta item rows that updated an existing item's status


# -- 1. the combined source -----------------------------------------------------------------


def build_combined_source(data: DataDir, delta_dir: Path, root: Path) -> CombinedSource:
    """Write `root/<table>/` for every table: links to the base parts, then the delta's rows.

    Delta cells are written as text (VARCHAR Parquet), so ingest parses and judges every cell of
    them exactly as it judges a CSV source, whatever types the delta file had.
    """
    delta_dir = Path(delta_dir)
    if not delta_dir.is_dir():
        raise UnusableFileError(str(delta_dir), "delta folder not found")
    found, ignored = discover(delta_dir, ColumnMap())
    if "circles" in found:
        raise ConfigError("the delta changes the circle catalogue: that needs a full retrain")
    if not found:
        raise UnusableFileError(
            str(delta_dir),
            "no delta table found: expected items.csv, posts.csv, ... "
            "(or .parquet files, or folders of parts)",
        )
    if ignored:
        logger.warning("delta: not contract tables, ignored: %s", list(ignored))
    combined = CombinedSource(root)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    try:
        for spec in TABLES:
            base, source = data.parts(spec.name), found.get(spec.name)
            if not base and source is None:
                continue
            folder = root / spec.name
            folder.mkdir(parents=True)
            for part in base:
                (folder / f"base-{part.name}").symlink_to(part.resolve())
            if source is None:
                continue
            for i, path in enumerate(source.files):
                name = f"{spec.name}/delta-{i:02d}-{path.stem}.parquet"
                combined.parts.append(
                    _write_delta_part(
                        con,
                        data,
                        combined,
                        spec.name,
                        path,
                        source.kind,
                        name,
                        path.relative_to(delta_dir).as_posix(),
                    )
                )
    finally:
        con.close()
    logger.info(
        "combined source: delta rows %s, %d status updates of existing items",
        combined.delta_rows,
        combined.status_updates,
    )
    return combined


def _write_delta_part(
    con: duckdb.DuckDBPyConnection,
    data: DataDir,
    combined: CombinedSource,
    table: str,
    path: Path,
    kind: str,
    name: str,
    origin: str,
) -> DeltaPart:
    _stage_delta(con, path, kind)
    columns = [c for c, *_ in con.execute("DESCRIBE delta").fetchall() if c != "_row"]
    keep = "true"
    if table == "items" and {"item_id", "status"} <= set(columns):
        keep = f"NOT {_apply_status_updates(con, data, combined)}"
    text = ", ".join(f"CAST({ident(c)} AS VARCHAR) AS {ident(c)}" for c in columns)
    out = combined.root / name
    con.execute(
        f"COPY (SELECT {text} FROM delta WHERE {keep} ORDER BY _row) TO {lit(str(out))} "
        "(FORMAT parquet)"
    )
    rows = con.execute(f"SELECT _row FROM delta WHERE {keep} ORDER BY _row").fetchnumpy()["_row"]
    total = con.execute("SELECT count(*) FROM delta").fetchall()[0][0]
    combined.delta_rows[table] = combined.delta_rows.get(table, 0) + int(total)
    return DeltaPart(table, name, origin, np.asarray(rows, dtype=np.int64))


def _stage_delta(con: duckdb.DuckDBPyConnection, path: Path, kind: str) -> None:
    """View `delta` over one delta file, CSV cells as text, with its 1-based data row `_row`."""
    if kind == CSV:
        delimiter = "\t" if path.suffix == ".tsv" else ","
        header = csv_header(path, delimiter)
        columns = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in header) + "}"
        scan = (
            f"read_csv({lit(str(path))}, columns={columns}, header=true, auto_detect=false, "
            f"delim={lit(delimiter)}, quote='\"', escape='\"', strict_mode=true)"
        )
        # rowid of a table filled from the file is the file order (as in ingest's staging).
        sql = (
            f"CREATE OR REPLACE TABLE delta_raw AS SELECT * FROM {scan}; "
            "CREATE OR REPLACE TABLE delta AS SELECT *, (rowid + 1)::BIGINT AS _row FROM delta_raw"
        )
    else:
        scan = f"read_parquet({lit(str(path))}, file_row_number=true)"
        sql = (
            f"CREATE OR REPLACE TABLE delta AS SELECT * EXCLUDE (file_row_number), "
            f"(file_row_number + 1)::BIGINT AS _row FROM {scan}"
        )
    try:
        con.execute(sql)
    except duckdb.Error as exc:
        detail = str(exc).splitlines()[0]
        raise UnusableFileError(str(path), f"cannot read the delta file: {detail}") from None


def _apply_status_updates(
    con: duckdb.DuckDBPyConnection, data: DataDir, combined: CombinedSource
) -> str:
    """Rewrite the base items part with the delta's valid status for existing items.

    Returns the SQL condition selecting those update rows, which then leave the delta (they
    are applied, not duplicates). A row with an invalid status stays and is judged by ingest.
    """
    folder = combined.root / "items"
    base = [str(folder / f"base-{p.name}") for p in data.parts("items")]
    if not base:
        return "false"
    con.execute(
        "CREATE OR REPLACE TABLE base_items AS SELECT *, row_number() OVER () AS _pos FROM "
        f"read_parquet([{', '.join(map(lit, base))}])"
    )
    allowed = ", ".join(map(lit, _STATUSES))
    cond = (
        f"(trim(CAST(item_id AS VARCHAR)) IN (SELECT item_id FROM base_items) "
        f"AND lower(trim(CAST(status AS VARCHAR))) IN ({allowed}))"
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE updates AS
        SELECT trim(CAST(item_id AS VARCHAR)) AS item_id,
               arg_max(lower(trim(CAST(status AS VARCHAR))), _row) AS status, count(*) AS n
        FROM delta WHERE {cond} GROUP BY 1"""
    )
    n = con.execute("SELECT coalesce(sum(n), 0) FROM updates").fetchall()[0][0]
    if n:
        out = folder / "base-items-updated.parquet"
        con.execute(
            f"""COPY (SELECT b.* EXCLUDE (_pos, status), coalesce(u.status, b.status) AS status
            FROM base_items b LEFT JOIN updates u USING (item_id) ORDER BY b._pos)
            TO {lit(str(out))} (FORMAT parquet)"""
        )
        for link in base:
            Path(link).unlink()
        combined.status_updates += int(n)
    return cond


def remap_quarantine(out: DataDir, combined: CombinedSource, previous: DataDir) -> None:
    """Make quarantine rows and the report name the delta file and row they came from, and keep
    what earlier ingests of `previous` rejected (read and quarantined include those rows)."""
    parts = {p.name: p for p in combined.parts}
    for spec in TABLES:
        path = out.quarantine_path(spec.name)
        new = pq.read_table(path) if path.is_file() else None
        if new is not None and new.num_rows:
            files = new.column("_file").to_numpy(zero_copy_only=False).astype(object)
            rows = new.column("_row").to_numpy().copy()
            for name, part in parts.items():
                hit = files == name
                if hit.any():
                    files[hit] = "delta/" + part.origin
                    rows[hit] = part.rows[rows[hit] - 1]
            new = new.set_column(
                new.schema.get_field_index("_file"), "_file", pa.array(files, type=pa.string())
            )
            new = new.set_column(
                new.schema.get_field_index("_row"), "_row", pa.array(rows, type=pa.int64())
            )
        old_path = previous.quarantine_path(spec.name)
        if old_path.is_file():
            old = pq.read_table(old_path)
            new = old if new is None else pa.concat_tables([old.cast(new.schema), new])
        if new is not None:
            pq.write_table(new, path)
    if not previous.report_path.is_file():
        return
    before = IngestReport.load(previous.report_path)
    now = IngestReport.load(out.report_path)
    origin = {p.name: "delta/" + p.origin for p in combined.parts}
    tables = {}
    for name, r in now.tables.items():
        old = before.tables.get(name)
        sources = tuple(origin.get(s, s.replace("/base-", "/", 1)) for s in r.sources)
        if old is None or not old.quarantined:
            tables[name] = replace(r, sources=sources)
            continue
        reasons = dict(r.reasons)
        for reason, n in old.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + n
        tables[name] = replace(
            r,
            sources=sources,
            read=r.read + old.quarantined,
            quarantined=r.quarantined + old.quarantined,
            reasons=reasons,
        )
    merged = IngestReport(tables=tables, ignored=now.ignored, time_kind=now.time_kind)
    merged.check()
    merged.write(out.report_path)


def from_delta(exc: UnusableFileError, combined: CombinedSource) -> UnusableFileError:
    """The same error naming the delta file (not our temporary copy of it)."""
    for part in combined.parts:
        if exc.path.endswith(part.name):
            row = int(part.rows[exc.row - 1]) if exc.row and exc.row <= len(part.rows) else exc.row
            return UnusableFileError(f"delta/{part.origin}", exc.reason, row=row, field=exc.field)
    return exc
