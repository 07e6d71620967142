"""The interaction aggregation on Spark: events -> weighted (user, item) pairs, and the other
per-user aggregates training needs, with the local engine's rules (`features.interactions`,
`features.circle_engagement`).

Every event is weighted on the cluster and summed per (user, item); only aggregates leave it,
written as Parquet by Spark and read back by the driver part by part into the sparse matrices
the bundle holds: the confidence matrix, who bought what, user x circle engagement counts, and
per-item totals (before / inside the trending window) for the candidate lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from recsys.circles import CircleCatalogue
from recsys.datastore import DataDir
from recsys.errors import ContractError
from recsys.features import circle_engagement as ce
from recsys.features.interactions import (
    DROP_REASONS,
    PURCHASE_TYPES,
    US_PER_DAY,
    InteractionConfig,
    _no_usable_events,
)
from recsys.recipe import TrainConfig

_DAY_US = US_PER_DAY


@dataclass
class SparkInteractions:
    """What the aggregation hands the driver (see the module doc)."""

    user_items: sp.csr_matrix
    purchases: sp.csr_matrix
    engagement: ce.Engagement
    lists_log: pd.DataFrame  # user_idx, item_idx, ts, weight: two rows per pair at most
    events_read: int
    events_used: int
    dropped: dict[str, int]
    pairs_path: Path  # the (user_idx, item_idx, weight) pairs, for MLlib


def table(spark: SparkSession, data: DataDir, name: str) -> DataFrame | None:
    """The accepted rows of a contract table, or None when the data has none."""
    return spark.read.parquet(*map(str, data.parts(name))) if data.has_table(name) else None


def id_frame(spark: SparkSession, data: DataDir, entity: str, key: str, index: str) -> DataFrame:
    """(key, index) of an id map: the index is the row's position in its one file."""
    frame = spark.read.parquet(str(data.idmap_path(entity)))
    return frame.select(
        F.col(frame.columns[0]).alias(key), F.col("_metadata.row_index").cast("int").alias(index)
    )


def aggregate(
    spark: SparkSession, data: DataDir, n_users: int, n_items: int,
    catalogue: CircleCatalogue, config: TrainConfig, work: Path,
) -> SparkInteractions:
    """Run every aggregation and read the results into driver matrices."""
    cfg = config.interactions
    events = table(spark, data, "events")
    if events is None:
        raise ContractError(
            f"{data.root}: no usable events: no events table ({data.table_dir('events')})"
        )
    user_map = id_frame(spark, data, "users", "user_id", "user_idx")
    item_map = id_frame(spark, data, "items", "item_id", "item_idx")
    weighted = _weighted_events(spark, data, events, user_map, item_map, cfg)
    weighted.write.mode("overwrite").parquet(str(work / "weighted"))
    weighted = spark.read.parquet(str(work / "weighted"))

    counts = dict(weighted.groupBy("reason").count().collect())
    read = int(sum(counts.values()))
    dropped = {r: int(counts.get(i + 1, 0)) for i, r in enumerate(DROP_REASONS)}
    used = int(counts.get(0, 0))
    if used == 0:
        raise ContractError(_no_usable_events(data, dropped, read))
    kept = weighted.where(F.col("reason") == 0)
    first, last = kept.agg(F.min("ts"), F.max("ts")).first()

    weight = F.col("weight")
    if cfg.half_life_days is not None:
        age_days = F.greatest(F.lit(last) - F.col("ts"), F.lit(0)).cast("double") / _DAY_US
        weight = weight * F.pow(F.lit(2.0), -age_days / cfg.half_life_days)
    pairs = (
        kept.groupBy("user_idx", "item_idx").agg(F.sum(weight.cast("float")).alias("weight"))
        .where(F.col("weight") != 0)
    )
    pairs_path = work / "pairs"
    pairs.orderBy("user_idx", "item_idx").write.mode("overwrite").parquet(str(pairs_path))
    user_items = _read_csr(pairs_path, "weight", (n_users, n_items))

    recent = F.col("ts") > F.lit(last - int(config.lists.trending_days * _DAY_US))
    lists = kept.groupBy("user_idx", "item_idx", recent.alias("recent")).agg(
        F.sum("weight").alias("weight")
    ).select(
        "user_idx", "item_idx", F.when(F.col("recent"), F.lit(last)).otherwise(F.lit(first))
        .alias("ts"), "weight",
    )
    lists.write.mode("overwrite").parquet(str(work / "lists"))
    lists_log = _read_frame(work / "lists")

    buys = _purchases(events, user_map, item_map)
    buys.write.mode("overwrite").parquet(str(work / "purchases"))
    purchases = _read_csr(work / "purchases", None, (n_users, n_items))

    engagement = _engagement(spark, data, events, user_map, catalogue, n_users, work)
    return SparkInteractions(
        user_items=user_items, purchases=purchases, engagement=engagement, lists_log=lists_log,
        events_read=read, events_used=used, dropped=dropped, pairs_path=pairs_path,
    )


def _weighted_events(
    spark: SparkSession, data: DataDir, events: DataFrame, user_map: DataFrame,
    item_map: DataFrame, cfg: InteractionConfig,
) -> DataFrame:
    """One row per event: user_idx, item_idx, ts (epoch us), weight, reason (0 kept, then
    `DROP_REASONS` in order), as `features.interactions` weighs them."""
    weights = spark.createDataFrame(
        pd.DataFrame({"type": list(cfg.weights), "w": [float(v) for v in cfg.weights.values()]})
    )
    posts = table(spark, data, "posts")
    if posts is not None:
        live = F.lit(True) if cfg.include_deleted_posts else ~F.col("deleted")
        post_items = posts.where(F.col("item_id").isNotNull() & live).select(
            F.col("post_id").alias("p_post"), F.col("item_id").alias("p_item")
        )
    else:
        post_items = spark.createDataFrame([], "p_post string, p_item string")
    post_map = item_map.select(F.col("item_id").alias("pi_id"), F.col("item_idx").alias("pi_idx"))
    e = (
        events.select("user_id", "item_id", "post_id", "type", "ts")
        .join(user_map, "user_id", "left")
        .join(weights, "type", "left")
        .join(item_map, "item_id", "left")
        .join(post_items, F.col("post_id") == F.col("p_post"), "left")
        .join(post_map, F.col("p_item") == F.col("pi_id"), "left")
    )
    direct = F.col("item_idx").isNotNull()
    factor = F.when(direct, F.lit(1.0)).otherwise(F.lit(cfg.post_item_factor))
    w = F.coalesce(F.col("w"), F.lit(0.0)) * factor
    item = F.coalesce(F.col("item_idx"), F.col("pi_idx"))
    reason: Column = (
        F.when(F.col("user_idx").isNull(), 1)
        .when(F.col("w").isNull(), 2)
        .when(item.isNull(), 3)
        .when(w <= 0, 4)
        .otherwise(0)
    )
    return e.select(
        F.coalesce(F.col("user_idx"), F.lit(-1)).alias("user_idx"),
        F.coalesce(item, F.lit(-1)).alias("item_idx"),
        F.unix_micros("ts").alias("ts"),
        w.cast("float").alias("weight"),
        reason.alias("reason"),
    )


def _purchases(events: DataFrame, user_map: DataFrame, item_map: DataFrame) -> DataFrame:
    """Distinct (user_idx, item_idx) of spending events naming a known user and item."""
    return (
        events.where(F.col("type").isin(*PURCHASE_TYPES))
        .join(user_map, "user_id").join(item_map, "item_id")
        .select("user_idx", "item_idx").distinct()
    )


def _engagement(
    spark: SparkSession, data: DataDir, events: DataFrame, user_map: DataFrame,
    catalogue: CircleCatalogue, n_users: int, work: Path,
) -> ce.Engagement:
    """The four user x circle count matrices of `features.circle_engagement`."""
    shape = (n_users, len(catalogue))
    result = ce.Engagement({name: sp.csr_matrix(shape, dtype=np.float32) for name in ce.MATRICES})
    result.dropped = {}
    circles = spark.createDataFrame(pd.DataFrame(
        {"circle_id": list(catalogue.ids), "circle_idx": np.arange(len(catalogue), dtype=np.int32)}
    ))
    mapping = catalogue.category_to_circle()
    categories = spark.createDataFrame(
        pd.DataFrame({"category": list(mapping),
                      "circle_idx": [catalogue.index_of(c) for c in mapping.values()]}),
        "category string, circle_idx int",
    )
    posts = table(spark, data, "posts")
    items = table(spark, data, "items")
    if posts is not None:
        live = posts.where(~F.col("deleted"))  # moderated posts count nowhere (as local)
        written = (
            live.join(user_map, live.author_id == user_map.user_id, "left")
            .join(circles, "circle_id", "left")
            .groupBy("user_idx", "circle_idx").agg(F.count("*").alias("n"))
        )
        result["posts_written"] = _counts_csr(written, "n", shape, "posts_written", result, work)
        engaging = [t.value for t in ce.ENGAGING_POST_EVENTS]
        engaged = (
            events.where(F.col("type").isin(*engaging)).select("user_id", "post_id")
            .join(live.select("post_id", "circle_id"), "post_id")
            .join(user_map, "user_id", "left")
            .join(circles, "circle_id", "left")
            .groupBy("user_idx", "circle_idx").agg(F.count("*").alias("n"))
        )
        result["posts_engaged"] = _counts_csr(engaged, "n", shape, "posts_engaged", result, work)
    item_cat = (items.select("item_id", "category") if items is not None
                else spark.createDataFrame([], "item_id string, category string"))
    by_item = (
        events.where(F.col("item_id").isNotNull()).select("user_id", "item_id", "type")
        .join(item_cat, "item_id", "left")
        .join(categories, "category", "left")
        .join(user_map, "user_id", "left")
        .groupBy("user_idx", "circle_idx")
        .agg(
            F.count(F.when(F.col("type") == "purchase", 1)).alias("purchases"),
            F.count("*").alias("item_events"),
        )
    )
    by_item.write.mode("overwrite").parquet(str(work / "by_item"))
    grouped = _grouped(work / "by_item")
    for name in ("purchases", "item_events"):
        result[name] = ce._to_csr(grouped, name, shape, name, result.dropped)
    return result


def _counts_csr(
    frame: DataFrame, column: str, shape: tuple[int, int], name: str,
    result: ce.Engagement, work: Path,
) -> sp.csr_matrix:
    frame.write.mode("overwrite").parquet(str(work / name))
    return ce._to_csr(_grouped(work / name), column, shape, name, result.dropped)


def _grouped(path: Path) -> dict[str, np.ndarray]:
    """Aggregated counts with NULL indices (unresolved rows) as -1, as `_grouped` gives them."""
    frame = _read_frame(path)
    return {c: frame[c].fillna(-1).to_numpy(dtype=np.int64) for c in frame.columns}


def _parts(path: Path) -> Iterator[pa.Table]:
    for part in sorted(path.glob("part-*.parquet")):
        yield pq.read_table(part)


def _read_frame(path: Path) -> pd.DataFrame:
    tables = list(_parts(path))
    return pa.concat_tables(tables).to_pandas() if tables else pd.DataFrame()


def _read_csr(path: Path, values: str | None, shape: tuple[int, int]) -> sp.csr_matrix:
    """A float32 CSR from (user_idx, item_idx[, values]) parts, read one part at a time."""
    rows, cols, data = [], [], []
    for t in _parts(path):
        rows.append(t.column("user_idx").to_numpy().astype(np.int32))
        cols.append(t.column("item_idx").to_numpy().astype(np.int32))
        data.append(
            t.column(values).to_numpy().astype(np.float32) if values
            else np.ones(t.num_rows, np.float32)
        )
    if not rows:
        return sp.csr_matrix(shape, dtype=np.float32)
    matrix = sp.csr_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=shape,
        dtype=np.float32,
    )
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    return matrix
