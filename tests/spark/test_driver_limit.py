"""No Spark step brings the events to the driver: on data whose events alone exceed the
session's `spark.driver.maxResultSize` (64m), collecting them fails, and the training
aggregation (every event read, weighted and summed) still runs.

The data is written on the Spark side straight into the ingested layout: ingesting 1M events
on local[2] takes minutes, past the Spark tests' budget (the ingest's own driver traffic is
counts per file and rule, and the quarantine and id maps read part by part).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from recsys.circles import CircleCatalogue, default_catalogue_path, load_catalogue
from recsys.contract import EVENTS, ITEMS, USERS, TableSpec
from recsys.datastore import DataDir
from recsys.idmap import IdMap
from recsys.recipe import TrainConfig
from recsys.spark.interactions import aggregate
from recsys.spark.types import spark_schema

N_EVENTS = 1_000_000
# Spark compresses task results, so the rows must not compress away: each event's channel is
# 128 hex digits of a hash (~64 bytes of entropy), ~90 MB of events after compression, past the
# 64 MB limit.
N_USERS, N_ITEMS = 20_000, 2_000
TYPES = ["view", "like", "purchase", "share"]


def _write(frame: DataFrame, spec_name: str, root: Path) -> None:
    frame.write.parquet(str(root / spec_name))


def _typed(frame: DataFrame, spec: TableSpec) -> DataFrame:
    """`frame`'s columns in the contract's Spark types."""
    return frame.select(
        *[F.col(f.name).cast(t.dataType).alias(f.name)
          for f, t in zip(spec.schema, spark_schema(spec).fields, strict=True)]
    )


@pytest.fixture(scope="module")
def big_data(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    """A data directory made on the Spark side: 1M events over 20k users and 2k items."""
    root = tmp_path_factory.mktemp("big") / "data"
    ts0 = 1_704_067_200  # 2024-01-01
    ids = spark.range(N_EVENTS, numPartitions=4)
    catalogue = load_catalogue(default_catalogue_path())
    categories = [c for circle in catalogue.to_table().column("categories").to_pylist()
                  for c in circle]
    events = ids.select(
        F.format_string("e%010d", "id").alias("event_id"),
        F.format_string("u%06d", (F.col("id") * 7919) % N_USERS).alias("user_id"),
        F.format_string("i%05d", (F.col("id") * 104729) % N_ITEMS).alias("item_id"),
        F.lit(None).cast("string").alias("post_id"),
        F.element_at(F.array(*map(F.lit, TYPES)), (F.col("id") % 4 + 1).cast("int"))
        .alias("type"),
        F.lit(None).cast("string").alias("group_id"),
        F.sha2(F.col("id").cast("string"), 512).alias("channel"),
        F.timestamp_seconds(F.lit(ts0) + F.col("id") % (180 * 86_400)).alias("ts"),
    )
    _write(_typed(events, EVENTS), "events", root)
    users = spark.range(N_USERS, numPartitions=1).select(
        F.format_string("u%06d", "id").alias("user_id"),
        F.timestamp_seconds(F.lit(ts0 - 86_400)).alias("signup_ts"),
        *[F.lit(None).cast("string").alias(c) for c in ("gender", "age_band", "city")],
        F.lit(False).alias("share_opt_out"),
    )
    _write(_typed(users, USERS), "users", root)
    items = spark.range(N_ITEMS, numPartitions=1).select(
        F.format_string("i%05d", "id").alias("item_id"),
        F.format_string("item %d", "id").alias("title"),
        F.element_at(F.array(*map(F.lit, categories)), (F.col("id") % len(categories) + 1)
                     .cast("int")).alias("category"),
        F.lit(None).cast("string").alias("brand"),
        F.lit("m1").alias("merchant_id"),
        F.lit(10.0).alias("price"),
        F.lit(False).alias("is_group_buy"),
        F.timestamp_seconds(F.lit(ts0 - 86_400)).alias("created_ts"),
        F.lit("listed").alias("status"),
    )
    _write(_typed(items, ITEMS), "items", root)
    data = DataDir(root)
    data.idmap_dir.mkdir()
    IdMap([f"u{i:06d}" for i in range(N_USERS)]).save(data.idmap_path("users"), "user_id")
    IdMap([f"i{i:05d}" for i in range(N_ITEMS)]).save(data.idmap_path("items"), "item_id")
    data.write_table("circles", catalogue.to_table())
    return data


def test_collecting_the_events_exceeds_the_limit(spark: SparkSession, big_data: DataDir) -> None:
    """The guard is real: the events do not fit through the driver."""
    assert spark.conf.get("spark.driver.maxResultSize") == "64m"
    events = spark.read.parquet(str(big_data.table_dir("events")))
    with pytest.raises(Exception, match="maxResultSize"):
        events.collect()


def test_aggregation_runs_within_it(
    spark: SparkSession, big_data: DataDir, tmp_path: Path
) -> None:
    data = big_data
    users = IdMap.load(data.idmap_path("users"))
    items = IdMap.load(data.idmap_path("items"))
    catalogue = CircleCatalogue.from_table(data.read_table("circles"))
    result = aggregate(spark, data, len(users), len(items), catalogue, TrainConfig(),
                       tmp_path / "work")
    assert result.events_used == N_EVENTS
    assert result.user_items.shape == (N_USERS, N_ITEMS)
    # every event weighted: views 1, likes 2, purchases 8, shares 4, a quarter of each
    assert result.user_items.sum() == pytest.approx(N_EVENTS / 4 * (1 + 2 + 8 + 4), rel=1e-4)
    assert result.purchases.nnz > 0
