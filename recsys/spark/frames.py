"""Small DataFrame helpers the Spark steps share."""

from __future__ import annotations

from itertools import accumulate

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window


def lookup(key: Column, mapping: dict, otherwise: object = None) -> Column:
    """A CASE over a small Python dict (file names -> numbers, rule ids -> labels)."""
    items = list(mapping.items())
    if not items:
        return F.lit(otherwise)
    chain = F.when(key == F.lit(items[0][0]), F.lit(items[0][1]))
    for name, value in items[1:]:
        chain = chain.when(key == F.lit(name), F.lit(value))
    return chain.otherwise(F.lit(otherwise))


def with_row_number(frame: DataFrame, name: str, *order: str) -> DataFrame:
    """`frame` with `name` = 1, 2, ... in `order`, without moving every row to one partition.

    A global window would; here the rows are range-partitioned by the order, numbered inside
    each partition, and shifted by the row counts of the partitions before (one small row per
    partition reaches the driver).
    """
    ordered = frame.orderBy(*order).withColumn("_part", F.spark_partition_id()).cache()
    counts = dict(ordered.groupBy("_part").count().collect())
    parts = sorted(counts)
    offsets = dict(zip(parts, [0, *accumulate(counts[p] for p in parts)][:-1], strict=True))
    within = Window.partitionBy("_part").orderBy(*order)
    return ordered.withColumn(
        name,
        (F.row_number().over(within) + lookup(F.col("_part"), offsets, 0)).cast("bigint"),
    ).drop("_part")
