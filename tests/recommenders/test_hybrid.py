"""ALS + item-kNN blend: per-user normalisation, the blend, and the hybrid recommender."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.recommenders.als import ALSRecommender
from recsys.recommenders.hybrid import (
    HybridRecommender,
    blend_scores,
    neighbour_scores,
    normalise_per_user,
)
from recsys.recommenders.itemknn import ItemKNNRecommender
from tests.recommenders.test_contract import checkerboard, group_of_item, group_of_user

FAST = {"factors": 2, "regularization": 0.01, "iterations": 10, "k": 20, "num_threads": 1}


def test_normalise_per_user_scales_each_row_by_its_largest_magnitude() -> None:
    scores = np.array([[2.0, -4.0, 1.0], [0.0, 0.0, 0.0], [3.0, -np.inf, 1.5]])
    out = normalise_per_user(scores)
    np.testing.assert_allclose(out[0], [0.5, -1.0, 0.25])
    np.testing.assert_array_equal(out[1], [0.0, 0.0, 0.0])  # no division by zero
    np.testing.assert_allclose(out[2], [1.0, -np.inf, 0.5])  # -inf ignored for the scale


def test_blend_is_a_weighted_sum_of_normalised_scores() -> None:
    a = np.array([[10.0, 5.0, 0.0]])
    b = np.array([[0.0, 1.0, 2.0]])
    np.testing.assert_allclose(blend_scores(a, b, 0.5), [[0.5, 0.5, 0.5]])
    np.testing.assert_allclose(blend_scores(a, b, 0.0), [[1.0, 0.5, 0.0]])
    np.testing.assert_allclose(blend_scores(a, b, 1.0), [[0.0, 0.5, 1.0]])
    # the scale of either model does not matter, only the per-user shape
    np.testing.assert_allclose(blend_scores(a * 1e3, b * 1e-3, 0.25), blend_scores(a, b, 0.25))
    with pytest.raises(ConfigError, match="in \\[0, 1\\]"):
        blend_scores(a, b, 1.2)
    with pytest.raises(ValueError, match="shapes differ"):
        blend_scores(a, b[:, :2], 0.5)


def test_neighbour_scores_give_items_unknown_to_the_similarity_zero() -> None:
    s = sp.csr_matrix(np.array([[0.0, 1.0], [0.5, 0.0]], np.float32))
    x = sp.csr_matrix(np.array([[1.0, 0.0, 1.0], [0.0, 2.0, 0.0]], np.float32))
    np.testing.assert_allclose(neighbour_scores(x, s), [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def test_hybrid_recommends_the_users_own_group_and_matches_its_parts() -> None:
    x = checkerboard()
    model = HybridRecommender(**FAST, weight=0.3).fit(x, show_progress=False)
    users = np.arange(x.shape[0])
    ids, _ = model.recommend(users, x, k=3)
    assert (group_of_item(ids) == group_of_user(users)[:, None]).mean() > 0.95
    als = ALSRecommender(factors=2, regularization=0.01, iterations=10, num_threads=1).fit(x)
    knn = ItemKNNRecommender(k=20, num_threads=1, similarity="bm25").fit(x)
    expected = blend_scores(als._score(users, x), knn._score(users, x), 0.3)
    np.testing.assert_allclose(model._score(users, x), expected, rtol=1e-5, atol=1e-6)
    assert model.similarity_.shape == (x.shape[1], x.shape[1])


def test_hybrid_save_load_round_trip(tmp_path: Path) -> None:
    x = checkerboard()
    model = HybridRecommender(**FAST, weight=0.6).fit(x, show_progress=False)
    model.save(tmp_path / "h")
    back = HybridRecommender.load(tmp_path / "h")
    assert back.get_params() == model.get_params()
    users = np.arange(x.shape[0])
    for a, b in zip(model.recommend(users, x, k=5), back.recommend(users, x, k=5), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not list((tmp_path / "h").glob("*.pkl"))


def test_bad_settings_fail_at_construction() -> None:
    with pytest.raises(ConfigError, match="weight"):
        HybridRecommender(weight=-0.1)
    with pytest.raises(ConfigError, match="similarity"):
        HybridRecommender(similarity="jaccard")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        HybridRecommender(factors=0)
