"""`train --engine spark`: the training engine whose heavy steps run on Spark.

On the cluster: the interaction aggregation (events -> confidence pairs, purchases, circle
engagement, candidate-list totals), the CF fit (MLlib implicit ALS under the `[cf]` mapping of
`als.py`) and the batch scoring of held-out users. On the driver, as on one machine: the parts
without a Spark implementation (item catalogue, social graph, content map, placement fit on the
UGC-labelled users, faiss indexes, the lists from per-item totals), on what the cluster
returned. `describe()` says so in the manifest.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pyspark.sql import DataFrame, SparkSession

from recsys.circles import CircleCatalogue
from recsys.datastore import DataDir, temp_sibling
from recsys.engine.base import Interactions
from recsys.idmap import IdMap
from recsys.recipe import CFConfig, TrainConfig
from recsys.recommenders.shipped import ShippedRecommender
from recsys.runtime.exclusion import ExclusionRule
from recsys.spark.als import (
    MLlibParams,
    factors_to_numpy,
    fit_mllib_als,
    mllib_params,
    solve_users,
)
from recsys.spark.als import reference_count as _reference_count
from recsys.spark.interactions import aggregate

#: Held-out users per scoring task.
SCORING_BLOCK = 2_000

ON_SPARK = {
    "interactions": "events weighted and summed per (user, item) on the cluster",
    "purchases": "distinct (user, item) of spending events",
    "circle_engagement": "user x circle counts",
    "lists_totals": "per (user, item) totals before / inside the trending window",
    "cf": "MLlib implicit ALS on the cluster's pairs (parameters under `mllib`)",
    "holdout_scoring": "top-10 of the held-out users, scored in blocks on the executors",
}
ON_DRIVER = {
    "item_catalogue": "all items (one row per item)",
    "social": "all social edges",
    "content": "all item texts: encoder and content -> factor map",
    "validation_split": "cells held out on the driver (the local engine's draw); the "
    "training cells go back to the cluster for the validation fit",
    "cold_start": "the validation model's cold items ranked for a sample of buyers "
    "(content.cold_max_pairs)",
    "placement": "fitted on the UGC-labelled users, every user placed",
    "indexes": "faiss over all item and user vectors",
    "lists": "built from the cluster's per-item totals",
}


class MLlibCF:
    """An unfitted CF estimator for `ShippedRecommender(cf=...)`: `fit` trains MLlib's ALS on
    a pairs frame on the cluster, then solves the users with implicit's flat penalty
    (`als.solve_users`), and brings back the factors."""

    def __init__(
        self, pairs: DataFrame, params: MLlibParams, cf: CFConfig, work: Path, blocks: int
    ) -> None:
        self.pairs = pairs
        self.cf = cf
        self.params = params
        self.work = work
        self.blocks = blocks

    def fit(self, user_items: sp.csr_matrix, *, show_progress: bool = True) -> MLlibCF:
        n_users, n_items = user_items.shape
        model = fit_mllib_als(
            self.pairs, self.params, self.work / "checkpoints", blocks=self.blocks
        )
        self.item_factors_ = factors_to_numpy(
            model.itemFactors, n_items, self.params.rank, self.work / "item_factors"
        )
        self.user_factors_ = solve_users(
            self.pairs, self.item_factors_, self.cf, n_users, self.work / "user_factors"
        )
        return self


class SparkEngine:
    """Training's heavy steps on `spark` (see the module doc); `work` is a scratch folder the
    cluster and the driver share, removed by `close`; `blocks`: MLlib's user/item blocks."""

    name = "spark"

    def __init__(self, spark: SparkSession, work: Path, *, blocks: int | None = None) -> None:
        self.spark = spark
        # MLlib's user and item blocks: one per core the cluster offers by default (MLlib's
        # own default of 10 makes ten tiny tasks per step on a small cluster).
        self.blocks = blocks or max(1, spark.sparkContext.defaultParallelism)
        self.work = Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self._full: sp.csr_matrix | None = None
        self._pairs: Path | None = None
        self._fits = 0
        self._params: dict[str, Any] = {}

    def interactions(
        self, data: DataDir, users: IdMap, items: IdMap, catalogue: CircleCatalogue,
        config: TrainConfig,
    ) -> Interactions:
        result = aggregate(
            self.spark, data, len(users), len(items), catalogue, config,
            self.work / "interactions",
        )
        self._full, self._pairs = result.user_items, result.pairs_path
        return Interactions(
            user_items=result.user_items,
            engagement=result.engagement,
            purchases=result.purchases,
            log=result.lists_log,
            events_used=result.events_used,
        )

    def fit_scorer(
        self, user_items: sp.csr_matrix, content: np.ndarray | None, config: TrainConfig
    ) -> ShippedRecommender:
        """The shipped scorer with MLlib's ALS as its CF: on the cluster's own pairs for the
        full matrix, on the given cells otherwise (the validation split)."""
        self._fits += 1
        work = self.work / f"fit-{self._fits}"
        if user_items is self._full and self._pairs is not None:
            pairs = self.spark.read.parquet(str(self._pairs))
            label = "final"
        else:
            pairs = self._frame_of(user_items, work / "pairs")
            label = "validation"
        params = mllib_params(config.cf, config.seed, reference_count(user_items))
        self._params[label] = params.as_dict()
        cf = MLlibCF(pairs, params, config.cf, work, self.blocks)
        scorer = ShippedRecommender(config=config, content=content, cf=cf).fit(user_items)
        scorer.cf = scorer.cf_ = None  # a fitted scorer needs no cluster handle (and must pickle)
        return scorer

    def rank(
        self, model: ShippedRecommender, users: np.ndarray, train: sp.csr_matrix, k: int, *,
        unlisted: np.ndarray, exclude_items: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ids of `users` and their scores under the runtime's `ExclusionRule`, scored
        on the executors in blocks of `SCORING_BLOCK` users (the model travels to them with
        the task)."""
        rows = train[users]
        frame = pd.DataFrame({
            "user_idx": users.astype(np.int32),
            "items": np.split(rows.indices.astype(np.int32), rows.indptr[1:-1]),
            "weights": np.split(rows.data.astype(np.float32), rows.indptr[1:-1]),
        })
        n_items = train.shape[1]
        n_blocks = max(1, -(-len(users) // SCORING_BLOCK))

        def score(batches: Any) -> Any:
            rule = ExclusionRule()
            for batch in batches:
                lengths = batch["items"].map(len).to_numpy()
                indptr = np.concatenate([[0], np.cumsum(lengths)])
                cells = sp.csr_matrix(
                    (np.concatenate([*batch["weights"], np.empty(0, np.float32)]),
                     np.concatenate([*batch["items"], np.empty(0, np.int32)]), indptr),
                    shape=(len(batch), n_items),
                )
                ids, scores = rule.recommend(
                    model, batch["user_idx"].to_numpy(), cells, k, unlisted=unlisted,
                    exclude_items=exclude_items,
                )
                yield pd.DataFrame({"user_idx": batch["user_idx"], "ids": list(ids),
                                    "scores": list(np.asarray(scores, np.float32))})

        scored = (
            self.spark.createDataFrame(frame)
            .repartition(n_blocks)
            .mapInPandas(score, "user_idx int, ids array<int>, scores array<float>")
        )
        path = self.work / f"scored-{self._fits}"
        scored.write.mode("overwrite").parquet(str(path))
        table = pd.concat([pd.read_parquet(p) for p in sorted(path.glob("part-*.parquet"))])
        table = table.set_index("user_idx").loc[users]
        return (np.stack(table["ids"].to_numpy()).astype(np.int64),
                np.stack(table["scores"].to_numpy()).astype(np.float32))  # fmt: skip

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "master": self.spark.sparkContext.master,
            "spark_version": self.spark.version,
            "on_spark": ON_SPARK,
            "on_driver": ON_DRIVER,
            "mllib": self._params,
        }

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    def _frame_of(self, user_items: sp.csr_matrix, path: Path) -> DataFrame:
        """The cells of a driver matrix as a pairs frame (written, then read by the cluster)."""
        coo = user_items.tocoo()
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({
            "user_idx": coo.row.astype(np.int32), "item_idx": coo.col.astype(np.int32),
            "weight": coo.data.astype(np.float32),
        }).to_parquet(path.with_suffix(".parquet"), index=False)
        return self.spark.read.parquet(str(path.with_suffix(".parquet")))


def reference_count(user_items: sp.csr_matrix) -> float:
    """The `als.reference_count` of a confidence matrix."""
    positive = sp.csr_matrix(user_items > 0)
    return _reference_count(int(positive.nnz), int((positive.getnnz(axis=0) > 0).sum()))


@contextmanager
def spark_engine(spark: SparkSession, data_dir: Path) -> Iterator[SparkEngine]:
    """A `SparkEngine` whose scratch folder sits beside the data directory (a place the
    cluster and the driver both reach) and is removed afterwards, even on failure."""
    work = temp_sibling(Path(data_dir).resolve(), "work")
    engine = SparkEngine(spark, work)
    try:
        yield engine
    finally:
        engine.close()
