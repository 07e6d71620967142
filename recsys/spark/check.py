"""Validation as Spark jobs: each staged row gets the id of the first rule it breaks.

The rules, their order, fields and reasons are `ingest.rule_table`'s, built for the Spark SQL
dialect; only the plumbing is Spark's: normalise and parse (`parse.py`), the per-row CASE, left
joins to the accepted rows of earlier tables, a window for duplicate keys, and the two rules
over accepted rows (one start per group buy, one circle per category) as joins. The checked
table (contract columns, `_src`, `_row`, `_rule`; NULL = accepted) is written to `work` and
read back, so the tables after it join a materialised result, not a re-run of the plan.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from recsys.contract import TableSpec
from recsys.ingest.column_map import TableMap
from recsys.ingest.event_ids import HEX_DIGITS, ID_FIELDS
from recsys.ingest.rule_table import (
    CATEGORY_OWNERS,
    GROUP_STARTS,
    SPARK,
    START,
    RuleBook,
    rule_book,
)
from recsys.spark.parse import normalise, parse
from recsys.spark.stage import SparkStaged
from recsys.spark.types import spark_schema


def check(
    spark: SparkSession,
    spec: TableSpec,
    staged: SparkStaged,
    table_map: TableMap,
    accepted: dict[str, DataFrame],
    work: Path,
) -> tuple[DataFrame, RuleBook]:
    """The checked frame of `spec` (materialised under `work`) and its rule book.

    `accepted` holds the accepted frames of the tables checked before (contract dependency
    order), which the references join.
    """
    book = rule_book(spec, table_map, SPARK)
    enums = {column for column, _ in spec.enums}
    frame = staged.frame
    normalised = [
        normalise(
            f.name, staged.types[f.name], table_map,
            enum=f.name in enums, is_list=pa.types.is_list(f.type),
        ).alias(f.name + "__s")
        for f in spec.schema
    ]
    n = frame.select("_src", "_row", "_bad", *normalised)
    parsed = [
        parse(F.col(f"`{f.name}__s`"), staged.types[f.name], f.type, table_map.ts_unit)
        .alias(f.name)
        for f in spec.schema
    ]
    p = n.select("_src", "_row", "_bad", *[f"{f.name}__s" for f in spec.schema], *parsed)
    if staged.derive_key:
        p = _with_derived_ids(p)
    v = p.withColumn("_r1", F.expr(_case(book.checks))).alias("v")
    joined = v
    for alias, table, column, ref_key in book.joins:
        ref = accepted[table]
        wanted = [ref_key] + (
            ["item_id", "initiator_id", "created_ts", "deadline_ts"]
            if table == "group_buys" and spec.name == "events" else []
        )
        ref = ref.select(*wanted).alias(alias)
        joined = joined.join(
            ref, F.col(f"v.`{column}`") == F.col(f"{alias}.`{ref_key}`"), "left"
        )
    names = [f.name for f in spec.schema]
    j = joined.select(
        *[F.col(f"v.`{c}`").alias(c) for c in names],
        F.col("v._src").alias("_src"),
        F.col("v._row").alias("_row"),
        F.coalesce(F.col("v._r1"), F.expr(_case(book.references))).alias("_r2"),
    )
    first = Window.partitionBy(*[F.col(f"`{k}`") for k in spec.key], F.col("_r2").isNull())
    first = first.orderBy("_src", "_row")
    checked = j.select(
        *names, "_src", "_row",
        F.coalesce(
            F.col("_r2"), F.when(F.row_number().over(first) > 1, F.lit(book.duplicate))
        ).cast("int").alias("_rule"),
    )
    if spec.name in ("circles", "events"):
        # The post rule reads the checked rows twice (all of them, and the accepted ones it
        # flags): materialise them first, or every row is parsed and checked twice.
        checked = _materialised(spark, checked, work / f"prechecked_{spec.name}")
    if spec.name == "circles":
        checked = _post_rule(checked, _category_claimants(checked), book.post[CATEGORY_OWNERS])
    if spec.name == "events":
        checked = _post_rule(checked, _later_starts(checked), book.post[GROUP_STARTS])
    return _materialised(spark, checked, work / f"checked_{spec.name}"), book


def _materialised(spark: SparkSession, frame: DataFrame, path: Path) -> DataFrame:
    """`frame` written under `path` and read back: later plans start from its rows."""
    frame.write.mode("overwrite").parquet(str(path))
    return spark.read.parquet(str(path))


def _case(checks: list[tuple[str, int]]) -> str:
    if not checks:
        return "CAST(NULL AS INT)"
    whens = " ".join(f"WHEN {cond} THEN {rule}" for cond, rule in checks)
    return f"CASE {whens} END"


def _with_derived_ids(p: DataFrame) -> DataFrame:
    """A missing event_id (and its text) replaced by the id `ingest.event_ids` derives."""
    parts = []
    for f in ID_FIELDS:
        col = F.col(f"`{f.name}`")
        if isinstance(f.type, pa.TimestampType):
            parts.append(F.coalesce(F.unix_micros(col).cast("string"), F.lit("-")))
        else:
            text = F.concat(F.octet_length(col).cast("string"), F.lit(":"), col)
            parts.append(F.coalesce(text, F.lit("-")))
    key = F.md5(F.concat_ws("|", *parts))
    keyed = p.withColumn("_key", key)
    same = Window.partitionBy("_src", "_key").orderBy("_row")
    event_id = F.concat(
        F.substring("_key", 1, HEX_DIGITS), F.lit("-"), F.row_number().over(same).cast("string")
    )
    # A row that has an id keeps it (as the local engine's `_with_derived_ids`).
    return (
        keyed.withColumn("_id", event_id)
        .withColumn("event_id", F.coalesce(F.col("event_id"), F.col("_id")))
        .withColumn("event_id__s", F.coalesce(F.col("event_id__s"), F.col("_id")))
        .drop("_key", "_id")
    )


def _post_rule(checked: DataFrame, bad: DataFrame, rule: int) -> DataFrame:
    """Give `rule` to the accepted rows `bad` selects (by _src, _row)."""
    flagged = bad.select("_src", "_row").distinct().withColumn("_post", F.lit(rule))
    return (
        checked.join(flagged, ["_src", "_row"], "left")
        .withColumn("_rule", F.coalesce("_rule", "_post").cast("int"))
        .drop("_post")
    )


def _later_starts(checked: DataFrame) -> DataFrame:
    """A group buy starts once: of its valid starts the first by time, then file order, stays."""
    starts = checked.where(F.col("_rule").isNull() & (F.col("type") == START))
    order = Window.partitionBy("group_id").orderBy("ts", "_src", "_row")
    return starts.withColumn("_n", F.row_number().over(order)).where(F.col("_n") > 1)


def _category_claimants(checked: DataFrame) -> DataFrame:
    """A category seeds one circle only: later circles claiming it are quarantined."""
    c = checked.where(F.col("_rule").isNull()).select(
        "_src", "_row", "circle_id", F.explode("categories").alias("cat")
    )
    first = Window.partitionBy("cat").orderBy("_src", "_row")
    owner = c.withColumn("_n", F.row_number().over(first)).where(F.col("_n") == 1).select(
        "cat", F.col("circle_id").alias("owner")
    )
    return c.join(owner, "cat").where(F.col("circle_id") != F.col("owner"))


def accepted_frame(checked: DataFrame) -> DataFrame:
    return checked.where(F.col("_rule").isNull())


def empty_checked(spark: SparkSession, spec: TableSpec) -> DataFrame:
    """An empty checked frame for an absent optional table, so references to it fail."""
    schema = spark_schema(spec, extra=(("_src", "int"), ("_row", "bigint"), ("_rule", "int")))
    return spark.createDataFrame([], schema)

