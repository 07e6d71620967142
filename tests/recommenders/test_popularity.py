"""Most-popular baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.recommenders.popularity import PopularityRecommender

# item 0: 3 users, summed weight 3; item 1: 1 user with weight 10; item 2: 2 users, weight 2
X = sp.csr_matrix(
    np.array([[1, 0, 1, 0], [1, 10, 0, 0], [1, 0, 1, 0]], dtype=np.float32)
)


def test_count_vs_weight() -> None:
    by_count = PopularityRecommender(weighting="count").fit(X)
    np.testing.assert_array_equal(by_count.popularity_, [3, 1, 2, 0])
    by_weight = PopularityRecommender(weighting="weight").fit(X)
    np.testing.assert_array_equal(by_weight.popularity_, [3, 10, 2, 0])


def test_recommend_same_order_minus_seen() -> None:
    model = PopularityRecommender().fit(X)
    ids, scores = model.recommend([0, 1], X[[0, 1]], k=3)
    np.testing.assert_array_equal(ids, [[1, 3, -1], [2, 3, -1]])
    assert scores[0, 0] == pytest.approx(1.0)


def test_save_load_roundtrip(tmp_path: Path) -> None:
    model = PopularityRecommender(weighting="weight").fit(X)
    model.save(tmp_path)
    loaded = PopularityRecommender.load(tmp_path)
    assert loaded.weighting == "weight"
    np.testing.assert_array_equal(loaded.recommend([2], X[[2]], k=2)[0], [[1, 3]])


def test_bad_weighting() -> None:
    with pytest.raises(ConfigError, match="weighting"):
        PopularityRecommender(weighting="clicks")  # type: ignore[arg-type]
