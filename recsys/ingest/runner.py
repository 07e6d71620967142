"""`ingest`: validate source tables against the contract and write a data directory.

Tables are processed in contract dependency order so references are checked against rows that
were themselves accepted. Everything is written to a temporary folder that replaces `out_dir`
only when the whole run succeeded, so a failed run leaves the previous output untouched.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from recsys.circles import default_catalogue_path, load_catalogue
from recsys.contract import TABLES, TableSpec, conform
from recsys.datastore import DataDir, replace_dir
from recsys.errors import ConfigError, UnusableFileError
from recsys.idmap import IdMap
from recsys.ingest import rules, sources
from recsys.ingest.column_map import ColumnMap
from recsys.ingest.report import INGESTED, MISSING, IngestReport, TableReport
from recsys.ingest.sources import CATALOGUE, Source
from recsys.ingest.sql import ident

logger = logging.getLogger(__name__)

REQUIRED_TABLES = ("users", "items", "events")
ID_MAPPED_TABLES = ("circles", "users", "items", "posts")
BATCH_ROWS = 1_000_000
PART_ROWS = 10_000_000


def ingest(
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    column_map: ColumnMap | None = None,
    circles_path: Path | None = None,
    memory_limit: str = "2GB",
) -> IngestReport:
    """Validate every source table under `src_dir` and write the accepted rows to `out_dir`.

    Rejected rows go to `quarantine/<table>.parquet` with their file, row, field and reason;
    `ingest_report.json` records read = accepted + quarantined per table. A whole file that
    cannot be used, including one with rows but none accepted, raises UnusableFileError (file,
    row, field) and leaves `out_dir` untouched.
    """
    src, out = Path(src_dir), Path(out_dir)
    if not src.is_dir():
        raise UnusableFileError(str(src), "source folder not found")
    if out.resolve() == src.resolve():
        raise ConfigError(f"{out}: the output folder must differ from the source folder")
    column_map = column_map or ColumnMap()
    found, ignored = sources.discover(src, column_map)
    for name in REQUIRED_TABLES:
        if name not in found:
            raise UnusableFileError(
                str(src / name),
                f"required table {name!r} not found: expected {name}.csv, {name}.parquet "
                f"or a folder {name}/ of Parquet parts",
            )
    catalogue = None
    if "circles" not in found:
        path = Path(circles_path) if circles_path is not None else default_catalogue_path()
        catalogue = load_catalogue(path).to_table()
        found["circles"] = Source("circles", CATALOGUE, (path,), (path.name,))

    out.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    staging = DataDir(out.parent / f".{out.name}.tmp-{tag}")
    work = out.parent / f".{out.name}.work-{tag}"
    started = time.perf_counter()
    try:
        staging.root.mkdir()
        (work / "spill").mkdir(parents=True)
        with _connect(work, memory_limit) as con:
            reports = {}
            for spec in tqdm(TABLES, desc="ingest", unit="table"):
                source = found.get(spec.name)
                if source is None:
                    logger.warning(
                        "%s: no source table; references to it will be rejected", spec.name
                    )
                    rules.create_empty(con, spec)
                    reports[spec.name] = TableReport(spec.name, MISSING)
                    continue
                reports[spec.name] = _ingest_table(
                    con,
                    spec,
                    source,
                    column_map,
                    staging,
                    catalogue if spec.name == "circles" else None,
                )
        report = IngestReport(tables=reports, ignored=ignored)
        report.check()
        report.write(staging.report_path)
        replace_dir(staging.root, out)
    except BaseException:
        shutil.rmtree(staging.root, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info(
        "ingested %s into %s in %.1f s (%d rows quarantined)",
        src,
        out,
        time.perf_counter() - started,
        report.total_quarantined,
    )
    return report


def _connect(work: Path, memory_limit: str) -> duckdb.DuckDBPyConnection:
    # In-memory tables spill to the temp directory past memory_limit, so a 100M-row staging
    # table does not exhaust memory, without the cost of writing a database file.
    con = duckdb.connect(
        ":memory:",
        config={
            "memory_limit": memory_limit,
            "temp_directory": str(work / "spill"),
            "preserve_insertion_order": True,
        },
    )
    # Naive timestamps in the sources are read as UTC, and TIMESTAMPTZ leaves DuckDB as UTC.
    con.execute("SET TimeZone = 'UTC'")
    return con


def _ingest_table(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    source: Source,
    column_map: ColumnMap,
    out: DataDir,
    catalogue: pa.Table | None,
) -> TableReport:
    table_map = column_map.for_table(spec.name)
    staged = sources.stage(con, spec, source, table_map, catalogue)
    try:
        book = rules.check(con, spec, staged.types, table_map)
    except (duckdb.IOException, duckdb.InvalidInputException) as exc:
        where = source.files[0] if len(source.files) == 1 else source.files[0].parent
        raise UnusableFileError(str(where), f"cannot read {spec.name}: {exc}") from None
    _refuse_files_with_no_accepted_row(con, spec, source, book)
    accepted = _write_accepted(con, spec, out)
    quarantined = _write_quarantine(con, spec, out)
    if spec.name in ID_MAPPED_TABLES:
        _write_idmap(con, spec, out)
    counts = con.execute(
        f"SELECT _rule, count(*) FROM checked_{spec.name} WHERE _rule IS NOT NULL GROUP BY _rule"
    ).fetchall()
    reasons = {book.label(rule): int(n) for rule, n in counts}
    report = TableReport(
        table=spec.name,
        status=INGESTED,
        sources=staged.names,
        read=staged.read,
        accepted=accepted,
        quarantined=quarantined,
        reasons=reasons,
    )
    logger.info(
        "%s: read %d, accepted %d, quarantined %d", spec.name, report.read, accepted, quarantined
    )
    return report


def _refuse_files_with_no_accepted_row(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, source: Source, book: rules.RuleBook
) -> None:
    """A file with rows but none accepted is unusable: every row failing means a wrong unit,
    format or id space (epoch milliseconds, another system's ids), not a few bad rows; and its
    table's rejection would cascade into quarantining every row that references it.

    Files whose rejected rows are all duplicates of rows kept from an earlier file (a re-sent
    file) are redundant, not unusable, and pass.
    """
    t = spec.name
    found = con.execute(
        f"""
        SELECT _src, count(*) FROM checked_{t} GROUP BY _src
        HAVING count(_rule) = count(*) AND count(*) FILTER (WHERE _rule <> {book.duplicate}) > 0
        ORDER BY _src LIMIT 1
        """
    ).fetchall()
    if not found:
        return
    src, read = found[0]
    row, rule, reason = con.execute(
        f"""
        SELECT c._row, c._rule, r._reason || COALESCE('; ' || s._detail, '')
        FROM checked_{t} c
        JOIN rules_{t} r ON r._rule = c._rule
        JOIN stage_{t} s ON s._src = c._src AND s._row = c._row
        WHERE c._src = {src} ORDER BY c._row LIMIT 1
        """
    ).fetchall()[0]
    common, count = con.execute(
        f"SELECT _rule, count(*) AS n FROM checked_{t} WHERE _src = {src} "
        "GROUP BY _rule ORDER BY n DESC, _rule LIMIT 1"
    ).fetchall()[0]
    most = "" if common == rule else f"; most rows ({count:,}) for {book.label(common)}"
    raise UnusableFileError(
        str(source.files[src]),
        f"no row accepted: all {read:,} rows were rejected{most}; the first: {reason}",
        row=int(row),
        field=book.rules[rule - 1][0],
    )


def _write_accepted(con: duckdb.DuckDBPyConnection, spec: TableSpec, out: DataDir) -> int:
    """Accepted rows in file order as `<table>/part-*.parquet` with exactly the contract schema."""
    total = con.execute(f"SELECT count(*) FROM acc_{spec.name}").fetchall()[0][0]
    folder = out.table_dir(spec.name)
    folder.mkdir()
    columns = ", ".join(ident(f.name) for f in spec.schema)
    reader = _stream(con, f"SELECT {columns} FROM acc_{spec.name} ORDER BY _src, _row")
    written, part, writer = 0, 0, None
    with tqdm(total=total, desc=f"write {spec.name}", unit="row", leave=False) as bar:
        for batch in reader:
            if writer is None or written >= (part + 1) * PART_ROWS:
                if writer is not None:
                    writer.close()
                    part += 1
                writer = pq.ParquetWriter(folder / f"part-{part:05d}.parquet", spec.schema)
            table = conform(pa.Table.from_batches([batch]), spec)
            writer.write_table(table)
            written += table.num_rows
            bar.update(table.num_rows)
    if writer is None:  # no accepted rows: an empty part still carries the schema
        writer = pq.ParquetWriter(folder / "part-00000.parquet", spec.schema)
        writer.write_table(spec.schema.empty_table())
    writer.close()
    return written


def _quarantine_schema(spec: TableSpec) -> pa.Schema:
    fields = [pa.field(f.name, pa.string()) for f in spec.schema]
    fields += [
        pa.field("_file", pa.string(), nullable=False),
        pa.field("_row", pa.int64(), nullable=False),
        pa.field("_field", pa.string(), nullable=False),
        pa.field("_reason", pa.string(), nullable=False),
    ]
    return pa.schema(fields)


def _write_quarantine(con: duckdb.DuckDBPyConnection, spec: TableSpec, out: DataDir) -> int:
    """Rejected rows with their original values as text, file, row, field and reason."""
    out.quarantine_dir.mkdir(exist_ok=True)
    schema = _quarantine_schema(spec)
    originals = ", ".join(
        f"CAST(s.{ident(f.name)} AS VARCHAR) AS {ident(f.name)}" for f in spec.schema
    )
    reader = _stream(
        con,
        f"""
        SELECT {originals}, f._file, s._row, r._field,
            r._reason || COALESCE('; ' || s._detail, '') AS _reason
        FROM (SELECT _src, _row, _rule FROM checked_{spec.name} WHERE _rule IS NOT NULL) c
        JOIN stage_{spec.name} s ON s._src = c._src AND s._row = c._row
        JOIN files_{spec.name} f ON f._src = c._src
        JOIN rules_{spec.name} r ON r._rule = c._rule
        ORDER BY c._src, c._row
        """,
    )
    written = 0
    with pq.ParquetWriter(out.quarantine_path(spec.name), schema) as writer:
        for batch in reader:
            table = pa.Table.from_batches([batch]).cast(schema)
            writer.write_table(table)
            written += table.num_rows
    if written:
        logger.warning(
            "%s: %d rows quarantined to %s", spec.name, written, out.quarantine_path(spec.name).name
        )
    return written


def _write_idmap(con: duckdb.DuckDBPyConnection, spec: TableSpec, out: DataDir) -> None:
    """Dense indices in accepted-row order, so the same input always gives the same indices."""
    key = spec.key[0]
    ids = _stream(con, f"SELECT {ident(key)} FROM acc_{spec.name} ORDER BY _src, _row").read_all()
    out.idmap_dir.mkdir(exist_ok=True)
    column = ids.column(0).to_numpy(zero_copy_only=False) if ids.num_rows else []
    IdMap(column).save(out.idmap_path(spec.name), column=key)


def _stream(con: duckdb.DuckDBPyConnection, sql: str) -> pa.RecordBatchReader:
    """Stream a query as Arrow batches without materialising it (API name varies by version)."""
    relation = con.sql(sql)
    if hasattr(relation, "to_arrow_reader"):
        return relation.to_arrow_reader(BATCH_ROWS)
    return relation.fetch_arrow_reader(BATCH_ROWS)
