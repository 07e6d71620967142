"""`ingest`: validate source tables against the contract and write a data directory.

Every source table is staged first (so a users table can be derived from the others when the
source has none), then tables are checked in contract dependency order so references are
checked against rows that were themselves accepted. Everything is written to a temporary
folder that replaces `out_dir` only when the whole run succeeded, so a failed run leaves the
previous output untouched; `out_dir` itself must be new, empty, or an earlier ingest output
(see `claim_output`).
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

import duckdb
import pyarrow as pa
from tqdm import tqdm

from recsys.circles import default_catalogue_path, load_catalogue
from recsys.contract import TABLES, TableSpec
from recsys.datastore import DataDir, claim_output, mark_output, replace_dir, temp_sibling
from recsys.errors import ConfigError, ContractError, UnusableFileError
from recsys.ingest import rules, sources
from recsys.ingest.column_map import ColumnMap
from recsys.ingest.derived_users import stage_derived_users
from recsys.ingest.report import DERIVED, INGESTED, MISSING, IngestReport, TableReport
from recsys.ingest.sources import CATALOGUE, Source, Staged
from recsys.ingest.sql import read_failure
from recsys.ingest.time_kind import decide_time_kind
from recsys.ingest.writer import write_accepted, write_idmap, write_quarantine
from recsys.memory import duckdb_memory_limit

logger = logging.getLogger(__name__)

COMMAND = "ingest"
#: Tables a source must have; `users`, when absent, is derived from the ids the others name.
REQUIRED_TABLES = ("items", "events")
#: Tables that must have rows when present: without them there is nothing to learn from.
NON_EMPTY_TABLES = ("users", "items", "events")
ID_MAPPED_TABLES = ("circles", "users", "items", "posts")
DEFAULT_MAX_QUARANTINE_SHARE = 0.05
# A DuckDB memory size: a number and a unit. Checked before it reaches DuckDB's settings.
_MEMORY = re.compile(r"[0-9]+(\.[0-9]+)? ?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
#: The default memory limit: half this machine's memory, at least 2GB. DuckDB spills sorts and
#: joins past its limit, but the duplicate check's window over the events needs room to work:
#: at 10M users (100M+ events) a 2GB limit failed with DuckDB's out-of-memory error.
AUTO_MEMORY = "auto"


def ingest(
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    column_map: ColumnMap | None = None,
    circles_path: Path | None = None,
    memory_limit: str = AUTO_MEMORY,
    max_quarantine_share: float = DEFAULT_MAX_QUARANTINE_SHARE,
    force: bool = False,
) -> IngestReport:
    """Validate every source table under `src_dir` and write the accepted rows to `out_dir`.

    Rejected rows go to `quarantine/<table>.parquet` with their file, row, field and reason;
    `ingest_report.json` records read = accepted + quarantined per table and `time_kind`. A
    whole file that cannot be used, including one with rows but none accepted, raises
    UnusableFileError (file, row, field); a table with more than `max_quarantine_share` of its
    rows quarantined raises ContractError; either leaves `out_dir` untouched. `out_dir` may not
    equal, contain or lie inside `src_dir`, and an existing folder that is not an earlier
    ingest output is replaced only with `force`.
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise UnusableFileError(str(src), "source folder not found")
    _check_options(memory_limit, max_quarantine_share)
    inputs = {"source folder": src, "circle catalogue": circles_path}
    out = claim_ingest_output(out_dir, inputs=inputs, force=force)
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
    staging = DataDir(temp_sibling(out, "tmp"))
    work = temp_sibling(out, "work")
    started = time.perf_counter()
    try:
        staging.root.mkdir()
        (work / "spill").mkdir(parents=True)
        with _connect(work, memory_limit) as con:
            staged = _stage_all(con, found, column_map, catalogue)
            reports = {}
            for spec in tqdm(TABLES, desc="ingest", unit="table"):
                if spec.name not in staged:
                    logger.warning(
                        "%s: no source table; references to it will be rejected", spec.name
                    )
                    rules.create_empty(con, spec)
                    reports[spec.name] = TableReport(spec.name, MISSING)
                    continue
                reports[spec.name] = _ingest_table(
                    con, spec, found.get(spec.name), staged[spec.name], column_map, staging,
                    max_quarantine_share,
                )
            kind = decide_time_kind(con, column_map, src)
        report = IngestReport(tables=reports, ignored=ignored, time_kind=kind)
        report.check()
        report.write(staging.report_path)
        mark_output(staging.root, COMMAND)
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


def claim_ingest_output(
    out_dir: str | Path, *, inputs: dict[str, Path | None], force: bool = False
) -> Path:
    """`claim_output` for ingest: data directories written before the marker existed are
    recognised by their ingest report."""
    legacy = DataDir(out_dir).report_path.name
    return claim_output(out_dir, command=COMMAND, inputs=inputs, force=force, legacy=legacy)


def resolve_memory_limit(memory_limit: str) -> str:
    """DuckDB's memory limit: `memory_limit` as given, or for "auto" half this machine's
    memory (at least 2GB)."""
    return memory_limit if memory_limit.lower() != AUTO_MEMORY else duckdb_memory_limit(0.5)


def _check_options(memory_limit: str, max_quarantine_share: float) -> None:
    if not isinstance(memory_limit, str) or not (
        memory_limit.lower() == AUTO_MEMORY or _MEMORY.fullmatch(memory_limit)
    ):
        raise ConfigError(
            f"--memory-limit {memory_limit!r}: expected a size such as 2GB, 512MB or 1.5GiB, "
            "or auto"
        )
    if not 0.0 <= max_quarantine_share <= 1.0:
        raise ConfigError(
            f"--max-quarantine-share {max_quarantine_share}: expected a share from 0 to 1 "
            "(0.05 = 5%)"
        )


def _stage_all(
    con: duckdb.DuckDBPyConnection,
    found: dict[str, Source],
    column_map: ColumnMap,
    catalogue: pa.Table | None,
) -> dict[str, Staged]:
    """Stage every source table, and the derived users table when the source has none.

    A required table (or users, when given) without rows stops the run here, before any work.
    """
    staged = {}
    for spec in TABLES:
        source = found.get(spec.name)
        if source is None:
            continue
        table_map = column_map.for_table(spec.name)
        table_catalogue = catalogue if spec.name == "circles" else None
        staged[spec.name] = sources.stage(con, spec, source, table_map, table_catalogue)
        if spec.name in NON_EMPTY_TABLES and staged[spec.name].read == 0:
            hint = ""
            if spec.name == "users":
                hint = "; remove it to derive users from the other tables"
            raise UnusableFileError(
                str(_where(source)),
                f"the {spec.name} table is empty (no rows); expected at least one row{hint}",
            )
    if "users" not in staged:
        staged["users"] = stage_derived_users(con, staged, column_map)
    return staged


def _where(source: Source) -> Path:
    """The file of a one-file source, else the folder of its parts."""
    return source.files[0] if len(source.files) == 1 else source.files[0].parent


def _connect(work: Path, memory_limit: str) -> duckdb.DuckDBPyConnection:
    # In-memory tables spill to the temp directory past memory_limit, so a 100M-row staging
    # table does not exhaust memory, without the cost of writing a database file.
    con = duckdb.connect(
        ":memory:",
        config={
            "memory_limit": resolve_memory_limit(memory_limit),
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
    source: Source | None,
    staged: Staged,
    column_map: ColumnMap,
    out: DataDir,
    max_quarantine_share: float,
) -> TableReport:
    """Check one staged table and write its accepted rows, quarantine and id map.

    `source` is None for a derived table (it has no file that could be unusable).
    """
    table_map = column_map.for_table(spec.name)
    try:
        book = rules.check(con, spec, staged.types, table_map, derive_ids=staged.derive_key)
    except (duckdb.IOException, duckdb.InvalidInputException) as exc:
        where = _where(source) if source is not None else Path(spec.name)
        raise UnusableFileError(str(where), read_failure(where, str(exc))) from None
    if source is not None:
        _refuse_files_with_no_accepted_row(con, spec, source, book)
    _refuse_a_mostly_quarantined_table(con, spec, book, max_quarantine_share)
    accepted = write_accepted(con, spec, out)
    quarantined = write_quarantine(con, spec, out)
    if spec.name in ID_MAPPED_TABLES:
        write_idmap(con, spec, out)
    counts = con.execute(
        f"SELECT _rule, count(*) FROM checked_{spec.name} WHERE _rule IS NOT NULL GROUP BY _rule"
    ).fetchall()
    reasons = {book.label(rule): int(n) for rule, n in counts}
    report = TableReport(
        table=spec.name,
        status=INGESTED if source is not None else DERIVED,
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


def _refuse_a_mostly_quarantined_table(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, book: rules.RuleBook, limit: float
) -> None:
    """More than `limit` of a table quarantined is a wrong mapping or export (every row a
    duplicate of a constant id, a unit mistaken), not a few bad rows: stop before writing."""
    t = spec.name
    read, rejected = con.execute(f"SELECT count(*), count(_rule) FROM checked_{t}").fetchall()[0]
    if not read or rejected / read <= limit:
        return
    rule, count = con.execute(
        f"SELECT _rule, count(*) AS n FROM checked_{t} WHERE _rule IS NOT NULL "
        "GROUP BY _rule ORDER BY n DESC, _rule LIMIT 1"
    ).fetchall()[0]
    raise mostly_quarantined(t, read, rejected, limit, book.label(rule), count)


def mostly_quarantined(
    table: str, read: int, rejected: int, limit: float, label: str, count: int
) -> ContractError:
    """The error of a table with more than `limit` of its rows quarantined (both engines)."""
    rows = "row" if count == 1 else "rows"
    return ContractError(
        f"{table}: {rejected:,} of {read:,} rows quarantined ({rejected / read:.1%}), more than "
        f"the {limit:.1%} allowed (--max-quarantine-share); most often {label} "
        f"({count:,} {rows}); nothing was written"
    )


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
    raise no_row_accepted(source.files[src], read, book, rule, reason, int(row), common, count)


def no_row_accepted(
    path: Path, read: int, book: rules.RuleBook, rule: int, reason: str, row: int,
    common: int, count: int,
) -> UnusableFileError:
    """The error of a file with rows but none accepted (both engines): its first row's `rule`
    and `reason`, and the `common`est rule with its `count` when that is another."""
    most = "" if common == rule else f"; most rows ({count:,}) for {book.label(common)}"
    return UnusableFileError(
        str(path),
        f"no row accepted: all {read:,} rows were rejected{most}; the first: {reason}",
        row=row,
        field=book.rules[rule - 1][0],
    )
