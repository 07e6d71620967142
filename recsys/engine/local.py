"""The local engine: every heavy step in this process (DuckDB, implicit, numpy)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.circles import CircleCatalogue
from recsys.datastore import DataDir
from recsys.engine.base import Interactions
from recsys.features.circle_engagement import user_circle_engagement
from recsys.features.interactions import load_interaction_log, purchase_matrix, to_csr
from recsys.idmap import IdMap
from recsys.recipe import TrainConfig
from recsys.recommenders.shipped import ShippedRecommender
from recsys.runtime.exclusion import ExclusionRule


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
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item ids of `users` and their scores, as the runtime ranks them
        (`ExclusionRule`)."""
        return ExclusionRule().recommend(
            model, users, train[users], k, unlisted=unlisted, exclude_items=exclude_items
        )

    def describe(self) -> dict[str, object]:
        return {"name": self.name}
