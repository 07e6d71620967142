"""Write a checked table from Spark in the layout the local engine writes.

Accepted rows go out as `<table>/part-*.parquet` sorted by (file, row), so part order is file
order. The quarantine and the id maps are one Parquet file each in the local layout: Spark
writes sorted parts to a work folder and the driver appends them, one record batch at a time,
into the single file (a stream through the driver, never a table in its memory).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from recsys.contract import TableSpec
from recsys.datastore import DataDir
from recsys.ingest.rule_table import RuleBook
from recsys.ingest.writer import quarantine_schema
from recsys.spark.frames import lookup
from recsys.spark.stage import SparkStaged
from recsys.spark.types import spark_type


def write_accepted(accepted: DataFrame, spec: TableSpec, out: DataDir) -> None:
    """Accepted rows in file order with the contract's columns and types."""
    columns = [F.col(f"`{f.name}`").cast(spark_type(f.type)).alias(f.name) for f in spec.schema]
    frame = accepted.orderBy("_src", "_row").select(*columns)
    frame.write.parquet(str(out.table_dir(spec.name)))


def write_quarantine(
    spark: SparkSession,
    checked: DataFrame,
    staged: SparkStaged,
    book: RuleBook,
    spec: TableSpec,
    out: DataDir,
    work: Path,
    rejected: int,
) -> None:
    """Rejected rows with their original values as text, file, row, field and reason."""
    out.quarantine_dir.mkdir(exist_ok=True)
    if not rejected:
        pq.write_table(quarantine_schema(spec).empty_table(), out.quarantine_path(spec.name))
        return
    bad = checked.where(F.col("_rule").isNotNull()).select("_src", "_row", "_rule")
    originals = staged.frame.select(
        "_src", "_row", *[F.col(f"`{f.name}`").cast("string").alias(f.name) for f in spec.schema]
    )
    fields = {i + 1: field for i, (field, _) in enumerate(book.rules)}
    reasons = {i + 1: reason for i, (_, reason) in enumerate(book.rules)}
    files = dict(enumerate(staged.names))
    rows = (
        bad.join(originals, ["_src", "_row"])
        .orderBy("_src", "_row")
        .select(
            *spec.schema.names,
            lookup(F.col("_src"), files).alias("_file"),
            F.col("_row"),
            lookup(F.col("_rule"), fields).alias("_field"),
            lookup(F.col("_rule"), reasons).alias("_reason"),
        )
    )
    parts = work / f"quarantine_{spec.name}"
    rows.write.mode("overwrite").parquet(str(parts))
    merge_parts(parts, out.quarantine_path(spec.name), quarantine_schema(spec))


def write_idmap(spec: TableSpec, out: DataDir) -> int:
    """Dense indices in accepted-row order, as the local engine numbers them: the key column
    of the accepted parts just written (in file order), streamed into one file."""
    key = spec.key[0]
    schema = pa.schema([pa.field(key, pa.string())])
    out.idmap_dir.mkdir(exist_ok=True)
    return _append_parts(out.parts(spec.name), out.idmap_path(spec.name), schema)


def merge_parts(parts: Path, dest: Path, schema: pa.Schema) -> int:
    """Append the Parquet parts under `parts` (in name order) into one file `dest` with
    `schema`, batch by batch; removes `parts`. Returns the rows written."""
    written = _append_parts(sorted(parts.glob("part-*.parquet")), dest, schema)
    shutil.rmtree(parts)
    return written


def _append_parts(parts: list[Path], dest: Path, schema: pa.Schema) -> int:
    written = 0
    with pq.ParquetWriter(dest, schema) as writer:
        for part in parts:
            for batch in pq.ParquetFile(part).iter_batches(
                batch_size=1_000_000, columns=schema.names
            ):
                table = pa.Table.from_batches([batch]).cast(schema)
                writer.write_table(table)
                written += table.num_rows
    return written
