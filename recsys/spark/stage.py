"""Stage a table's Parquet sources as a Spark DataFrame under contract column names.

Like `ingest.sources.stage`: source values untouched, plus `_src` (index of the file among the
table's sources), `_row` (1-based row in that file, from Spark's `_metadata.row_index`) and
`_bad`/`_detail` (always NULL: only a CSV line can fail to parse, and the Spark engine reads
Parquet). Which contract column comes from which source column is `sources.column_plan`, the
same as the local engine's. The derived users table is built as `derived_users` builds it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from recsys.contract import TIMESTAMP, USERS, TableSpec
from recsys.errors import UnusableFileError
from recsys.ingest.column_map import ColumnMap, TableMap
from recsys.ingest.derived_users import user_references
from recsys.ingest.rule_table import TS_MAX, TS_MIN
from recsys.ingest.sources import CATALOGUE, CSV, DERIVABLE_KEYS, Source, column_plan
from recsys.spark.frames import lookup, with_row_number
from recsys.spark.parse import normalise, parse

logger = logging.getLogger(__name__)

INTERNAL = ("_src", "_row", "_bad", "_detail")


@dataclass(frozen=True)
class SparkStaged:
    """A staged table: its frame, row count, Spark type of each contract column, file names,
    and whether its key column is absent and derived."""

    table: str
    frame: DataFrame
    read: int
    types: dict[str, str]
    names: tuple[str, ...]
    derive_key: bool = False


def stage(
    spark: SparkSession,
    spec: TableSpec,
    source: Source,
    table_map: TableMap,
    catalogue: pa.Table | None = None,
) -> SparkStaged:
    """The staged frame of `spec` over every source file (or the circle catalogue)."""
    if source.kind == CSV:
        raise UnusableFileError(
            str(source.files[0]),
            "the Spark engine reads Parquet sources (<table>.parquet or <table>/ parts); "
            "ingest CSV with --engine local, or convert it to Parquet first",
        )
    if source.kind == CATALOGUE:
        frame, derived = _catalogue_frame(spark, spec, catalogue), False
        read = catalogue.num_rows
    else:
        frame, derived = _parquet_frame(spark, spec, source, table_map)
        # Parquet footers hold the row counts: no Spark job, no scan.
        read = sum(pq.ParquetFile(path).metadata.num_rows for path in source.files)
    types = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    logger.info("%s: staged %d rows from %s", spec.name, read, ", ".join(source.names))
    return SparkStaged(spec.name, frame, int(read), types, source.names, derived)


def _catalogue_frame(spark: SparkSession, spec: TableSpec, catalogue: pa.Table) -> DataFrame:
    rows = pa.array(range(1, catalogue.num_rows + 1), pa.int64())
    table = catalogue.select(spec.schema.names).append_column("_row", rows)
    return spark.createDataFrame(table.to_pandas()).select(
        *spec.schema.names,
        F.lit(0).alias("_src"),
        F.col("_row").cast("bigint"),
        F.lit(None).cast("string").alias("_bad"),
        F.lit(None).cast("string").alias("_detail"),
    )


def _parquet_frame(
    spark: SparkSession, spec: TableSpec, source: Source, table_map: TableMap
) -> tuple[DataFrame, bool]:
    """One read per group of files with the same columns; files numbered in source order."""
    groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
    derive_key = None
    for i, path in enumerate(source.files):
        try:
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise UnusableFileError(
                str(path), f"not a Parquet file, or a damaged one: {exc}"
            ) from None
        header = tuple(schema.names)
        _, derived = column_plan(spec, table_map, list(header), path)
        if derive_key is not None and derived != derive_key:
            raise UnusableFileError(
                str(path),
                f"column {DERIVABLE_KEYS[spec.name]!r} is in some files of {spec.name} and "
                "not in others; expected it in all of them or in none",
                field=DERIVABLE_KEYS[spec.name],
            )
        derive_key = derived
        # Files are read together only when their columns and types agree.
        groups.setdefault(tuple(zip(header, map(str, schema.types), strict=True)), []).append(i)
    frames = []
    for columns_and_types, indices in groups.items():
        header = tuple(name for name, _ in columns_and_types)
        path = source.files[indices[0]]
        plan, _ = column_plan(spec, table_map, list(header), path)
        files = [str(source.files[i]) for i in indices]
        number = {source.files[i].name: i for i in indices}
        src = lookup(F.col("_metadata.file_name"), number).cast("int")
        raw = spark.read.parquet(*files)
        columns = [_planned(raw, target, origin, default) for target, origin, default in plan]
        frames.append(
            raw.select(
                *columns,
                src.alias("_src"),
                (F.col("_metadata.row_index") + 1).cast("bigint").alias("_row"),
                F.lit(None).cast("string").alias("_bad"),
                F.lit(None).cast("string").alias("_detail"),
            )
        )
    return _union_as_text_where_types_differ(frames), bool(derive_key)


def _union_as_text_where_types_differ(frames: list[DataFrame]) -> DataFrame:
    """One frame of files read apart; a column typed differently in two files is read as
    text in all (the local engine's union gives such a column DuckDB's VARCHAR too)."""
    if len(frames) == 1:
        return frames[0]
    kinds: dict[str, set[str]] = {}
    for frame in frames:
        for f in frame.schema.fields:
            kinds.setdefault(f.name, set()).add(f.dataType.simpleString())
    mixed = [name for name, types in kinds.items() if len(types) > 1]
    cast = [
        frame.select(
            *[F.col(c).cast("string").alias(c) if c in mixed else F.col(c) for c in frame.columns]
        )
        for frame in frames
    ]
    frame = cast[0]
    for other in cast[1:]:
        frame = frame.unionByName(other)
    return frame


def _planned(raw: DataFrame, target: str, origin: str | None, default: str | None) -> Column:
    if origin is not None:
        return F.col(f"`{origin}`").alias(target)
    if default is not None:
        return F.lit(default).cast("string").alias(target)
    return F.lit(None).cast("string").alias(target)


def stage_derived_users(
    spark: SparkSession, staged: dict[str, SparkStaged], column_map: ColumnMap
) -> SparkStaged:
    """Users named by the other staged tables, first seen at their earliest valid time."""
    parts, names = [], []
    for table, column, time in user_references():
        if table not in staged:
            continue
        table_map = column_map.for_table(table)
        types = staged[table].types
        user = parse(normalise(column, types[column], table_map), types[column], pa.string(),
                     "auto")
        ts = parse(normalise(time, types[time], table_map), types[time], TIMESTAMP,
                   table_map.ts_unit)
        frame = staged[table].frame.where(F.col("_bad").isNull())
        parts.append(frame.select(user.alias("user_id"), ts.alias("ts")))
        names.append(f"{table}.{column}")
    named = parts[0]
    for other in parts[1:]:
        named = named.unionByName(other)
    valid = (
        (F.col("ts") > F.expr(f"TIMESTAMP '{TS_MIN}'"))
        & (F.col("ts") < F.expr(f"TIMESTAMP '{TS_MAX}'"))
    )
    derived = (
        named.where(F.col("user_id").isNotNull() & valid)
        .groupBy("user_id").agg(F.min("ts").alias("signup_ts"))
    )
    columns = []
    for f in USERS.schema:
        if f.name in ("user_id", "signup_ts"):
            columns.append(F.col(f.name))
        elif f.name == "share_opt_out":
            columns.append(F.lit("false").alias(f.name))
        else:
            columns.append(F.lit(None).cast("string").alias(f.name))
    numbered = with_row_number(derived, "_row", "signup_ts", "user_id")
    frame = numbered.select(
        *columns,
        F.lit(0).alias("_src"),
        F.col("_row"),
        F.lit(None).cast("string").alias("_bad"),
        F.lit(None).cast("string").alias("_detail"),
    ).cache()
    read = frame.count()  # a users table, not events: one count of the cached frame
    types = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    logger.info("users: no source table; %d users derived from %s", read, ", ".join(names))
    return SparkStaged(USERS.name, frame, int(read), types, tuple(names))


