"""Most-popular: the same ranking for everyone, the floor every personalised model must beat."""

from __future__ import annotations

from typing import Any, Literal, Self

import numpy as np
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.item_stats import users_per_item
from recsys.recommenders.base import Recommender

Weighting = Literal["count", "weight"]


class PopularityRecommender(Recommender):
    """Rank items by how many users interacted with them ("count") or by summed confidence.

    "count" resists a few heavy users inflating an item; "weight" lets strong actions
    (purchases, group buys) count for more than views.
    """

    name = "popularity"

    def __init__(self, *, weighting: Weighting = "count") -> None:
        if weighting not in ("count", "weight"):
            raise ConfigError(f"weighting must be 'count' or 'weight'; got {weighting!r}")
        self.weighting = weighting

    def fit(self, user_items: sp.csr_matrix, *, show_progress: bool = True) -> Self:
        """Learn item popularity from a (n_users, n_items) confidence matrix (no progress bar)."""
        x = sp.csr_matrix(user_items)
        if self.weighting == "count":
            pop = users_per_item(x)
        else:
            pop = np.asarray(x.sum(axis=0)).ravel()
        self.popularity_ = pop.astype(np.float32)
        self.n_items_ = int(x.shape[1])
        return self

    def _score(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """(n, n_items) float32: the popularity vector repeated for every user."""
        return np.broadcast_to(self.popularity_, (len(user_ids), self.n_items_)).copy()

    def get_params(self) -> dict[str, Any]:
        return {"weighting": self.weighting}

    def _state(self) -> dict[str, np.ndarray]:
        return {"popularity_": self.popularity_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.popularity_ = state["popularity_"]
