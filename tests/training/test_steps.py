"""Training steps measured on arrays: index recall queries and the cold-item choice."""

from __future__ import annotations

import numpy as np

from recsys.content.cold_start import choose_cold_items
from recsys.index.vector_index import IndexConfig
from recsys.recipe import TrainConfig
from recsys.training.steps import build_indexes


def test_index_recall_ignores_users_without_interactions() -> None:
    """A user without interactions has an all-zero factor: every item ties at 0, so no index
    can match the exact (arbitrary) top-10. Such users must not drag the recorded recall down."""
    rng = np.random.default_rng(0)
    items = rng.normal(size=(3000, 16)).astype(np.float32)
    users = rng.normal(size=(2000, 16)).astype(np.float32)
    users[rng.random(2000) < 0.3] = 0.0
    config = TrainConfig(index=IndexConfig(kind="hnsw"))
    item_index, metrics = build_indexes(items, users, config)
    assert item_index.kind_ == "hnsw"
    assert metrics["recall_queries"]["users"] == 1000
    for retrieval in ("user_to_item", "item_to_item"):
        assert metrics[f"{retrieval}_recall@10"] >= 0.95, retrieval


def test_cold_items_are_the_newest_eligible_ones() -> None:
    users_per_item = np.array([5, 1, 5, 5, 5, 0, 5, 5, 5, 5])
    created = np.arange(10)  # item 9 is the newest
    cold = choose_cold_items(
        users_per_item, created, share=0.25, min_users=2, rng=np.random.default_rng(0)
    )
    # 8 eligible items (1 and 5 have too few users): the newest 2 of them
    np.testing.assert_array_equal(cold, [8, 9])
    random_pick = choose_cold_items(
        users_per_item, None, share=0.25, min_users=2, rng=np.random.default_rng(0)
    )
    assert len(random_pick) == 2 and set(random_pick) <= {0, 2, 3, 4, 6, 7, 8, 9}
