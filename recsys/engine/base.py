"""The interface of an execution engine: what `run_training` (and `run_evaluation`) ask of it.

An engine does three things: aggregate the interactions (events -> the confidence matrix,
purchases, circle engagement, the per-item totals of the candidate lists), fit the shipped
scorer's CF, and rank held-out users for the validation metrics. Everything else (content map,
placement, indexes, lists, the bundle) runs in the calling process on what the engine returns,
so every engine writes the same bundle. `describe()` is recorded in the manifest (`engine`):
which parts ran where. Engines: `local.LocalEngine` (this process) and
`recsys.spark.training.SparkEngine` (Apache Spark, `--engine spark`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.circles import CircleCatalogue
from recsys.datastore import DataDir
from recsys.idmap import IdMap
from recsys.recipe import TrainConfig
from recsys.recommenders.shipped import ShippedRecommender


@dataclass
class Interactions:
    """The aggregates training needs from the events.

    `log` has one row per event (local) or per (user, item, inside the trending window or not)
    (Spark): the candidate lists give the same answer for both.
    """

    user_items: sp.csr_matrix
    engagement: dict[str, sp.csr_matrix]
    purchases: sp.csr_matrix
    log: pd.DataFrame
    events_used: int


class TrainingEngine(Protocol):
    name: str

    def interactions(
        self, data: DataDir, users: IdMap, items: IdMap, catalogue: CircleCatalogue,
        config: TrainConfig,
    ) -> Interactions: ...

    def fit_scorer(
        self, user_items: sp.csr_matrix, content: np.ndarray | None, config: TrainConfig
    ) -> ShippedRecommender: ...

    def rank(
        self, model: ShippedRecommender, users: np.ndarray, train: sp.csr_matrix, k: int, *,
        unlisted: np.ndarray, exclude_items: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def describe(self) -> dict[str, object]: ...
