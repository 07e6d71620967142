"""Pair features: layout by hand, centroids, batches equal the whole, bad input refused."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.placement.features import (
    PER_KIND,
    circle_centroids,
    circle_priors,
    lift,
    n_pair_features,
    pair_features,
    smoothed_shares,
)

COUNTS = {
    "purchases": np.array([[2, 0], [0, 0], [1, 1]], dtype=np.float32),
    "posts_written": sp.csr_matrix(np.array([[5, 0], [0, 0], [0, 0]])),
}
FACTORS = np.array([[0.5, -1.0], [0.0, 0.0], [1.0, 2.0]], dtype=np.float32)


def test_smoothed_shares_by_hand() -> None:
    shares = smoothed_shares(np.array([[2, 0], [0, 0]]), prior_strength=2.0)
    # (2 + 1) / 4, (0 + 1) / 4; an empty row is the uniform mix.
    np.testing.assert_allclose(shares, [[0.75, 0.25], [0.5, 0.5]])


def test_layout_by_hand() -> None:
    F = pair_features(COUNTS, None, None, kinds=["purchases", "posts_written"], prior_strength=2.0)
    assert F.shape == (3, 2, n_pair_features(2, with_cf=False)) and F.dtype == np.float32
    # purchases block of user 0, circle 0: share, log1p count, log1p total, is top, then the
    # raw share (2 of 2 events) and the plain rule's test, each times log1p total.
    w = np.log1p(2)
    np.testing.assert_allclose(F[0, 0, :PER_KIND], [0.75, w, w, 1, w, w], rtol=1e-6)
    np.testing.assert_allclose(F[0, 1, :PER_KIND], [0.25, 0, w, 0, 0, 0], rtol=1e-6)
    # summed block: 7 events in circle 0; an empty user is never "top".
    np.testing.assert_allclose(F[0, 0, 2 * PER_KIND + 1], np.log1p(7), rtol=1e-6)
    assert F[1, :, 3].sum() == 0


def test_cf_block_ranks_the_nearest_centroid_first() -> None:
    centroids = np.array([[1.0, 0.0], [0.0, 1.0]])
    F = pair_features(COUNTS, FACTORS, centroids, kinds=["purchases"])
    assert F.shape[2] == n_pair_features(1, with_cf=True)
    cf = F[:, :, -4]
    np.testing.assert_allclose(cf[2], [1.0, 2.0])
    assert F[2, 1, -3] == 0 and F[2, 0, -3] < 0  # affinity minus the user's best


def test_centroids_follow_the_shares() -> None:
    counts = sp.csr_matrix(np.array([[3, 0], [0, 1], [0, 0]]))
    factors = np.array([[2.0, 0.0], [0.0, -5.0], [7.0, 7.0]])
    whole = circle_centroids(factors, counts)
    np.testing.assert_allclose(whole, [[1, 0], [0, -1]])
    np.testing.assert_allclose(circle_centroids(factors, counts, batch_size=1), whole)
    with pytest.raises(ValueError, match="2 rows"):
        circle_centroids(factors[:2], counts)


def test_batches_equal_whole() -> None:
    centroids = circle_centroids(FACTORS, sp.csr_matrix(COUNTS["purchases"]))
    whole = pair_features(COUNTS, FACTORS, centroids, kinds=["purchases", "posts_written"])
    parts = [
        pair_features({k: v[rows] for k, v in COUNTS.items()}, FACTORS[rows], centroids,
                      kinds=["purchases", "posts_written"])
        for rows in (slice(0, 2), slice(2, 3))
    ]  # fmt: skip
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_bad_input_is_refused() -> None:
    with pytest.raises(KeyError, match="clicks"):
        pair_features(COUNTS, None, None, kinds=["clicks"])
    with pytest.raises(ValueError, match="prior_strength"):
        pair_features(COUNTS, None, None, kinds=["purchases"], prior_strength=0)
    with pytest.raises(ValueError, match="one row per user"):
        pair_features(COUNTS, FACTORS[:2], np.eye(2), kinds=["purchases"])


def test_circle_priors_and_lift_by_hand() -> None:
    counts = {"a": sp.csr_matrix(np.array([[3, 0], [1, 0]])), "b": sp.csr_matrix(np.eye(2))}
    priors = circle_priors(counts, ["a", "b"])
    # Add-one: a [4, 0] -> [5, 1] / 6, b [1, 1] -> [2, 2] / 4, summed [5, 1] -> [6, 2] / 8.
    np.testing.assert_allclose(priors, [[5 / 6, 1 / 6], [0.5, 0.5], [0.75, 0.25]])
    value = lift(np.array([[1, 0], [0, 0]]), np.array([0.75, 0.25]), prior_strength=1.0)
    # (1 + 0.75) / (2 * 0.75) and (0 + 0.25) / (2 * 0.25); no events: lift 0.
    np.testing.assert_allclose(value, [[np.log(1.75 / 1.5), np.log(0.5)], [0, 0]], atol=1e-6)


def test_lift_block_layout() -> None:
    kinds = ["purchases", "posts_written"]
    priors = circle_priors(COUNTS, kinds)
    F = pair_features(COUNTS, FACTORS, np.eye(2), kinds=kinds, priors=priors)
    assert F.shape[2] == n_pair_features(2, with_cf=True, with_lift=True)
    plain = pair_features(COUNTS, FACTORS, np.eye(2), kinds=kinds)
    np.testing.assert_array_equal(F[:, :, : plain.shape[2]], plain)
    summed = sum(np.asarray(sp.csr_matrix(COUNTS[k]).toarray(), np.float32) for k in kinds)
    np.testing.assert_allclose(F[:, :, -1], lift(summed, priors[-1], 3.0), rtol=1e-6)
    with pytest.raises(ValueError, match="priors must be"):
        pair_features(COUNTS, None, None, kinds=kinds, priors=priors[:2])
