"""`ingest --engine spark`: the local ingest's validation and quarantine as Spark jobs.

Same input layout (Parquet sources; the circle catalogue when the source has no circles), same
rules (`ingest.rule_table`), same output layout, report and refusals as `ingest.ingest`: read =
accepted + quarantined, the same rows quarantined for the same reasons. What reaches the driver
is counts per table, file and rule, and the quarantine and id maps streamed into their files.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from recsys.circles import default_catalogue_path, load_catalogue
from recsys.contract import TABLES, TableSpec
from recsys.datastore import DataDir, mark_output, replace_dir, temp_sibling
from recsys.errors import ConfigError, UnusableFileError
from recsys.ingest import sources
from recsys.ingest.column_map import ColumnMap
from recsys.ingest.report import DERIVED, INGESTED, MISSING, IngestReport, TableReport
from recsys.ingest.rule_table import RuleBook
from recsys.ingest.runner import (
    COMMAND,
    DEFAULT_MAX_QUARANTINE_SHARE,
    ID_MAPPED_TABLES,
    NON_EMPTY_TABLES,
    REQUIRED_TABLES,
    claim_ingest_output,
    mostly_quarantined,
    no_row_accepted,
)
from recsys.ingest.sources import CATALOGUE, Source
from recsys.ingest.time_kind import declared_time_kind, from_distinct_times
from recsys.spark.check import accepted_frame, check, empty_checked
from recsys.spark.stage import SparkStaged, stage, stage_derived_users
from recsys.spark.write import write_accepted, write_idmap, write_quarantine

logger = logging.getLogger(__name__)


def spark_ingest(
    spark: SparkSession,
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    column_map: ColumnMap | None = None,
    circles_path: Path | None = None,
    max_quarantine_share: float = DEFAULT_MAX_QUARANTINE_SHARE,
    force: bool = False,
) -> IngestReport:
    """Validate every source table under `src_dir` on Spark and write `out_dir`.

    The contract of `recsys.ingest.ingest` (see there), with Parquet sources only: a CSV
    source is refused in one line naming the file.
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise UnusableFileError(str(src), "source folder not found")
    if not 0.0 <= max_quarantine_share <= 1.0:
        raise ConfigError(
            f"--max-quarantine-share {max_quarantine_share}: expected a share from 0 to 1"
        )
    out = claim_ingest_output(
        out_dir, inputs={"source folder": src, "circle catalogue": circles_path}, force=force
    )
    column_map = column_map or ColumnMap()
    found, ignored = sources.discover(src, column_map)
    for name in REQUIRED_TABLES:
        if name not in found:
            raise UnusableFileError(
                str(src / name),
                f"required table {name!r} not found: expected {name}.parquet "
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
    staged: dict[str, SparkStaged] = {}
    try:
        staging.root.mkdir()
        work.mkdir()
        for spec in TABLES:
            if spec.name in found:
                table_catalogue = catalogue if spec.name == "circles" else None
                staged[spec.name] = stage(
                    spark, spec, found[spec.name], column_map.for_table(spec.name),
                    table_catalogue,
                )
                _refuse_empty(spec, staged[spec.name], found[spec.name])
        if "users" not in staged:
            staged["users"] = stage_derived_users(spark, staged, column_map)
        reports: dict[str, TableReport] = {}
        accepted: dict[str, DataFrame] = {}
        for spec in TABLES:
            if spec.name not in staged:
                logger.warning("%s: no source table; references to it will be rejected",
                               spec.name)
                accepted[spec.name] = empty_checked(spark, spec)
                reports[spec.name] = TableReport(spec.name, MISSING)
                continue
            reports[spec.name], accepted[spec.name] = _ingest_table(
                spark, spec, found.get(spec.name), staged[spec.name], column_map, staging,
                work, accepted, max_quarantine_share,
            )
        kind = declared_time_kind(column_map, src)
        if kind is None:
            distinct = accepted["events"].select(F.countDistinct("ts")).first()[0]
            kind = from_distinct_times(int(distinct))
        report = IngestReport(tables=reports, ignored=ignored, time_kind=kind)
        report.check()
        report.write(staging.report_path)
        mark_output(staging.root, COMMAND)
        replace_dir(staging.root, out)
    except BaseException:
        shutil.rmtree(staging.root, ignore_errors=True)
        raise
    finally:
        for frame in staged.values():
            frame.frame.unpersist()
        shutil.rmtree(work, ignore_errors=True)
    logger.info("ingested %s into %s on Spark in %.1f s (%d rows quarantined)", src, out,
                time.perf_counter() - started, report.total_quarantined)
    return report


def _refuse_empty(spec: TableSpec, staged: SparkStaged, source: Source) -> None:
    if spec.name in NON_EMPTY_TABLES and staged.read == 0:
        hint = "; remove it to derive users from the other tables" if spec.name == "users" else ""
        where = source.files[0] if len(source.files) == 1 else source.files[0].parent
        raise UnusableFileError(
            str(where),
            f"the {spec.name} table is empty (no rows); expected at least one row{hint}",
        )


def _ingest_table(
    spark: SparkSession,
    spec: TableSpec,
    source: Source | None,
    staged: SparkStaged,
    column_map: ColumnMap,
    out: DataDir,
    work: Path,
    accepted: dict[str, DataFrame],
    max_quarantine_share: float,
) -> tuple[TableReport, DataFrame]:
    table_map = column_map.for_table(spec.name)
    checked, book = check(spark, spec, staged, table_map, accepted, work)
    # One small aggregate: rows per (file, rule); everything the refusals and report need.
    counts = checked.groupBy("_src", "_rule").count().collect()
    by_rule: dict[int, int] = {}
    for row in counts:
        if row["_rule"] is not None:
            by_rule[row["_rule"]] = by_rule.get(row["_rule"], 0) + row["count"]
    if source is not None:
        _refuse_files_with_no_accepted_row(checked, staged, source, book, counts)
    rejected = sum(by_rule.values())
    read = staged.read
    if read and rejected / read > max_quarantine_share:
        rule, count = min(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))
        raise mostly_quarantined(
            spec.name, read, rejected, max_quarantine_share, book.label(rule), count
        )
    good = accepted_frame(checked)
    write_accepted(good, spec, out)
    write_quarantine(spark, checked, staged, book, spec, out, work, rejected)
    if spec.name in ID_MAPPED_TABLES:
        write_idmap(spec, out)
    report = TableReport(
        table=spec.name,
        status=INGESTED if source is not None else DERIVED,
        sources=staged.names,
        read=read,
        accepted=read - rejected,
        quarantined=rejected,
        reasons={book.label(rule): n for rule, n in by_rule.items()},
    )
    logger.info("%s: read %d, accepted %d, quarantined %d", spec.name, read, report.accepted,
                rejected)
    return report, good


def _refuse_files_with_no_accepted_row(
    checked: DataFrame, staged: SparkStaged, source: Source, book: RuleBook, counts: list
) -> None:
    """As the local engine: a file with rows but none accepted is unusable, unless every
    rejected row is a duplicate of a row kept from an earlier file."""
    files: dict[int, dict[int | None, int]] = {}
    for row in counts:
        files.setdefault(row["_src"], {})[row["_rule"]] = row["count"]
    for src in sorted(files):
        rules = files[src]
        if None in rules or not any(r != book.duplicate for r in rules):
            continue
        first = (
            checked.where(F.col("_src") == src).orderBy("_row").select("_row", "_rule").first()
        )
        common, count = min(rules.items(), key=lambda kv: (-kv[1], kv[0]))
        raise no_row_accepted(
            source.files[src], sum(rules.values()), book, first["_rule"],
            book.rules[first["_rule"] - 1][1], int(first["_row"]), common, count,
        )
