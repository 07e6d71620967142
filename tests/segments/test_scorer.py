"""The block scorer on hand-made vectors: exact scores, top-k across blocks, masks, ties."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.errors import InvalidInputError, NotFittedError
from recsys.segments.scorer import Query, SegmentScorer

USERS = np.array(
    [[1, 0], [0, 1], [2, 0], [0, 0], [1, 1], [-1, 0], [0.5, 0.5], [3, 1]], dtype=np.float32
)
ITEMS = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
AFFINITY = np.array([[0.1, 0.9]] * 4 + [[0.8, 0.2]] * 4, dtype=np.float32)


def fitted(**kwargs) -> SegmentScorer:
    # block_cells 1: blocks of the minimum 1024 rows; tiny blocks are tested below with many users
    return SegmentScorer(**kwargs).fit(USERS, ITEMS, AFFINITY)


def test_mean_pooling_is_the_dot_with_the_weighted_mean() -> None:
    s = fitted(pooling="mean").scores(Query("items", np.array([0, 1]), np.array([3.0, 1.0])))
    q = (3 * ITEMS[0] + ITEMS[1]) / 4
    expected = USERS @ q
    expected[3] = -np.inf  # no vector, no rank
    np.testing.assert_allclose(s, expected, rtol=1e-6)


def test_max_pooling_takes_the_best_item() -> None:
    s = fitted(pooling="max").scores(Query("items", np.array([0, 1])))
    expected = (USERS @ ITEMS[:2].T).max(axis=1)
    expected[3] = -np.inf
    np.testing.assert_allclose(s, expected, rtol=1e-6)


def test_seed_centroid_and_knn_are_cosines() -> None:
    unit = USERS / np.maximum(np.linalg.norm(USERS, axis=1, keepdims=True), 1e-12)
    seeds = np.array([0, 1])
    centroid = fitted(seed_method="centroid").scores(Query("seeds", seeds))
    q = unit[seeds].mean(axis=0)
    np.testing.assert_allclose(
        centroid[[0, 1, 2, 4]], (unit @ (q / np.linalg.norm(q)))[[0, 1, 2, 4]], rtol=1e-5
    )
    knn = fitted(seed_method="knn", knn_k=1).scores(Query("seeds", seeds))
    np.testing.assert_allclose(
        knn[[0, 1, 2, 4]], (unit @ unit[seeds].T).max(axis=1)[[0, 1, 2, 4]], rtol=1e-5
    )


def test_circles_take_the_highest_affinity() -> None:
    s = fitted().scores(Query("circles", np.array([0])))
    np.testing.assert_allclose(s, AFFINITY[:, 0])


def test_top_is_exact_across_blocks_with_masks_and_thresholds() -> None:
    rng = np.random.default_rng(0)
    users = rng.normal(size=(5000, 8)).astype(np.float32)
    items = rng.normal(size=(40, 8)).astype(np.float32)
    scorer = SegmentScorer(pooling="max", block_cells=1).fit(users, items)
    query = Query("items", np.arange(10))
    eligible = rng.random(5000) < 0.7
    full = (users @ items[:10].T).max(axis=1)
    full[~eligible] = -np.inf
    got_u, got_s = scorer.top(query, eligible, size=123)
    want = np.lexsort((np.arange(5000), -full))[:123]
    np.testing.assert_array_equal(got_u, want)
    np.testing.assert_allclose(got_s, full[want], rtol=1e-6)
    u, s = scorer.top(query, eligible, size=None, min_score=1.5)
    assert set(u) == set(np.flatnonzero(full >= 1.5)) and (np.diff(s) <= 0).all()
    seen = []
    scorer.top(query, eligible, size=10, progress=seen.append)
    assert sum(seen) == 5000 and len(seen) == 5  # 1024-row blocks


def test_refusals() -> None:
    with pytest.raises(NotFittedError):
        SegmentScorer().scores(Query("items", np.array([0])))
    with pytest.raises(InvalidInputError, match="no seed user has a vector"):
        fitted().scores(Query("seeds", np.array([3])))
    with pytest.raises(InvalidInputError, match="at least one index"):
        fitted().scores(Query("items", np.array([], dtype=np.int64)))
    with pytest.raises(InvalidInputError, match="differ in width"):
        SegmentScorer().fit(USERS, np.ones((2, 3), np.float32))


def test_activity_weight_adds_standardised_recent_activity() -> None:
    rng = np.random.default_rng(1)
    users = rng.normal(size=(3000, 4)).astype(np.float32)
    items = rng.normal(size=(5, 4)).astype(np.float32)
    activity = rng.poisson(3.0, size=3000).astype(np.float32)
    plain = SegmentScorer().fit(users, items, activity=activity)
    query = Query("items", np.array([0, 1]))
    raw = plain.scores(query).astype(np.float64)
    blended = SegmentScorer(activity_weight=0.7, norm_sample=3000).fit(
        users, items, activity=activity
    ).scores(query)
    a = np.log1p(activity.astype(np.float64))
    expected = (raw - raw.mean()) / raw.std() + 0.7 * (a - a.mean()) / a.std()
    np.testing.assert_allclose(blended, expected, rtol=1e-4, atol=1e-4)
    # a sample standardises with estimates: the order is the exact order of those constants
    sampled = SegmentScorer(activity_weight=0.7, norm_sample=500).fit(
        users, items, activity=activity
    )
    u, _ = sampled.top(query, np.ones(3000, bool), size=50)
    np.testing.assert_array_equal(u, np.lexsort((np.arange(3000), -sampled.scores(query)))[:50])
