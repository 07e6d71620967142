"""Where training's heavy steps run: this machine (`LocalEngine`) or a Spark cluster
(`recsys.spark.training.SparkEngine`, behind `--engine spark`).

An engine does three things for `run_training`: aggregate the interactions (events -> the
confidence matrix, purchases, circle engagement, the per-item totals of the candidate lists),
fit the shipped scorer's CF, and rank held-out users for the validation metrics. Everything
else (content map, placement, indexes, lists, the bundle) runs in the training process on what
the engine returns, so both engines write the same bundle. `describe()` is recorded in the
manifest (`engine`): which parts ran where.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.circles import CircleCatalogue
from recsys.datastore import DataDir
from recsys.features.circle_engagement import user_circle_engagement
from recsys.features.interactions import load_interaction_log, purchase_matrix, to_csr
from recsys.idmap import IdMap
from recsys.recipe import TrainConfig
from recsys.recommenders.shipped import ShippedRecommender
from recsys.runtime.exclusion import ExclusionRule


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
    ) -> np.ndarray: ...

    def describe(self) -> dict[str, object]: ...


class LocalEngine:
    """Every step in this process: DuckDB aggregations, implicit's ALS, numpy ranking."""

    name = "local"

    def interactions(
        self, data: DataDir, users: IdMap, items: IdMap, catalogue: CircleCatalogue,
        config: TrainConfig,
    ) -> Interactions:
        log = load_interaction_log(data, users, items, config.interactions)
        user_items = to_csr(
            log, len(users), len(items), half_life_days=config.interactions.half_life_days
        )
        return Interactions(
            user_items=user_items,
            engagement=user_circle_engagement(data, users, catalogue),
            purchases=purchase_matrix(data, users, items),
            log=log,
            events_used=int(len(log)),
        )

    def fit_scorer(
        self, user_items: sp.csr_matrix, content: np.ndarray | None, config: TrainConfig
    ) -> ShippedRecommender:
        """The shipped scorer: the recipe's CF, content-mapped vectors for under-observed
        items, item-item neighbours when ``item_knn.weight > 0``."""
        return ShippedRecommender(config=config, content=content).fit(user_items)

    def rank(
        self, model: ShippedRecommender, users: np.ndarray, train: sp.csr_matrix, k: int, *,
        unlisted: np.ndarray, exclude_items: np.ndarray,
    ) -> np.ndarray:
        """Top-k item ids of `users` as the runtime ranks them (`ExclusionRule`)."""
        ids, _ = ExclusionRule().recommend(
            model, users, train[users], k, unlisted=unlisted, exclude_items=exclude_items
        )
        return ids

    def describe(self) -> dict[str, object]:
        return {"name": self.name}
