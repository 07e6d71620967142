"""Implicit ALS on Spark MLlib, with the recipe's `[cf]` mapped onto MLlib's conventions.

Our recipe follows `implicit` (Hu, Koren & Volinsky 2008 as implicit solves it): an observed cell
of weight r has confidence ``C = alpha * r``, and each user's (and item's) solve is

    (YtY + Yt (C_u - I) Y + lambda I) x_u = Yt C_u p_u              (flat lambda)

MLlib (`ALS(implicitPrefs=True)`) gives an observed cell of rating r' the confidence
``1 + alpha' * r'`` and scales the penalty by the row's count n_u of positive ratings:

    (YtY + Yt (C'_u - I) Y + regParam * n_u I) x_u = Yt C'_u p_u

The mapping (`mllib_params`, `mllib_ratings`):

- confidence, exactly: alpha' = alpha and r' = r - 1/alpha, so 1 + alpha' r' = alpha r. A cell
  with alpha * r <= 1 (a decayed or post-attributed view under a small alpha) would get
  r' <= 0, which MLlib reads as "no preference"; it is kept at r' = `MIN_RATING` instead, a
  confidence just above 1 with preference 1, the nearest MLlib can express.
- regularisation: MLlib's count-scaled penalty cannot be switched off, so regParam =
  lambda / n_ref matches implicit exactly only for rows with n_ref positive cells. n_ref is the
  mean item count (nnz / items with a cell): the item factors are penalised as implicit
  penalises them on average. The user factors are then solved once more on the executors with
  implicit's own flat-lambda normal equations (`solve_users`, the solve `ALSRecommender.fold_in`
  takes), so the users' side follows implicit's convention exactly given those item factors.
  tests/spark/test_als.py measures both on tiny matrices: identical scores (to solver
  tolerance) where every row has n_ref cells, and the measured gap where counts vary;
  docs/spark.md records the numbers.
- factors -> rank, iterations -> maxIter, seed -> seed. MLlib's own initialisation differs
  from implicit's, so the factors are not the same numbers, only the same fit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import scipy.sparse as sp
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from recsys.recipe import CFConfig
from recsys.recommenders.als import ALSRecommender

#: The smallest rating handed to MLlib: a positive preference with confidence ~1.
MIN_RATING = 1e-6


@dataclass(frozen=True)
class MLlibParams:
    """MLlib ALS parameters of a `[cf]` recipe (see the module doc for the mapping)."""

    rank: int
    maxIter: int  # noqa: N815 - MLlib's own parameter names
    regParam: float  # noqa: N815
    alpha: float
    seed: int
    rating_shift: float
    reference_count: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def reference_count(nnz: int, items_with_cells: int) -> float:
    """n_ref: the mean count of positive cells of the items that have one."""
    if nnz == 0 or items_with_cells == 0:
        return 1.0
    return nnz / items_with_cells


def mllib_params(cf: CFConfig, seed: int, n_ref: float) -> MLlibParams:
    """The MLlib parameters matching `cf` for data whose reference row count is `n_ref`."""
    if cf.model != "als":
        raise ValueError(f"the Spark engine fits ALS only; [cf] model = {cf.model!r}")
    return MLlibParams(
        rank=cf.factors,
        maxIter=cf.iterations,
        regParam=cf.regularization / max(n_ref, 1.0),
        alpha=cf.alpha,
        seed=seed,
        rating_shift=1.0 / cf.alpha,
        reference_count=n_ref,
    )


def mllib_ratings(pairs: DataFrame, params: MLlibParams) -> DataFrame:
    """(user_idx, item_idx, weight) pairs as MLlib's (user, item, rating) under the mapping."""
    return pairs.select(
        F.col("user_idx").cast("int").alias("user"),
        F.col("item_idx").cast("int").alias("item"),
        F.greatest(F.col("weight") - F.lit(params.rating_shift), F.lit(MIN_RATING))
        .cast("float")
        .alias("rating"),
    )


def fit_mllib_als(
    pairs: DataFrame, params: MLlibParams, checkpoints: Path, *, blocks: int | None = None
) -> ALSModel:
    """Fit MLlib's implicit ALS on (user_idx, item_idx, weight) pairs.

    `checkpoints`: a folder (shared by the cluster) where MLlib cuts the lineage of its
    iterations every 10; without it many iterations overflow the JVM's stack.
    """
    pairs.sparkSession.sparkContext.setCheckpointDir(str(checkpoints))
    als = ALS(
        rank=params.rank,
        maxIter=params.maxIter,
        regParam=params.regParam,
        alpha=params.alpha,
        implicitPrefs=True,
        seed=params.seed,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        coldStartStrategy="drop",
    )
    if blocks is not None:
        als = als.setNumUserBlocks(blocks).setNumItemBlocks(blocks)
    return als.fit(mllib_ratings(pairs, params))


def factors_to_numpy(frame: DataFrame, n_rows: int, rank: int, work: Path) -> np.ndarray:
    """(n_rows, rank) float32 factors from MLlib's (id, features) frame; rows MLlib has no
    factor for (no cell at all) stay zero, as implicit leaves them. Written by Spark and read
    back by the driver file by file: the factors are bundle content, never collected."""
    out = np.zeros((n_rows, rank), dtype=np.float32)
    frame.write.mode("overwrite").parquet(str(work))
    for part in sorted(work.glob("part-*.parquet")):
        table = pq.read_table(part)
        if not table.num_rows:
            continue
        ids = table.column("id").to_numpy()
        values = table.column("features").combine_chunks().flatten().to_numpy()
        out[ids] = values.reshape(len(ids), rank)
    return out


def solve_users(
    pairs: DataFrame, item_factors: np.ndarray, cf: CFConfig, n_users: int, work: Path
) -> np.ndarray:
    """(n_users, f) user factors solved with implicit's flat-lambda normal equations, item
    factors fixed: each executor task solves its users with `ALSRecommender.fold_in` (the
    local engine's own solver); the item factors travel with the task."""
    n_items, rank = item_factors.shape
    rows = pairs.groupBy("user_idx").agg(
        F.collect_list("item_idx").alias("items"), F.collect_list("weight").alias("weights")
    )

    def solve(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = ALSRecommender(factors=rank, regularization=cf.regularization, alpha=cf.alpha)
        model.item_factors_ = item_factors
        model.n_items_ = n_items
        for batch in batches:
            indptr = np.concatenate([[0], np.cumsum(batch["items"].map(len).to_numpy())])
            cells = sp.csr_matrix(
                (np.concatenate([*batch["weights"], np.empty(0)]).astype(np.float32),
                 np.concatenate([*batch["items"], np.empty(0, np.int64)]).astype(np.int32),
                 indptr),
                shape=(len(batch), n_items),
            )
            cells.sum_duplicates()
            yield pd.DataFrame({"id": batch["user_idx"], "features": list(model.fold_in(cells))})

    solved = rows.mapInPandas(solve, "id int, features array<float>")
    return factors_to_numpy(solved, n_users, rank, work)
