"""Placement features: layout, smoothing, label sources left out, batches equal the whole."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.placement.features import (
    placement_feature_batches,
    placement_features,
    smoothed_shares,
)

ENGAGEMENT = {
    "purchases": sp.csr_matrix(np.array([[2, 0], [0, 0], [1, 1]])),
    "posts_engaged": sp.csr_matrix(np.array([[0, 6], [1, 0], [0, 0]])),
    "posts_written": sp.csr_matrix(np.array([[5, 0], [0, 0], [0, 0]])),
}
FACTORS = np.array([[0.5, -1.0], [0.0, 0.0], [1.0, 2.0]], dtype=np.float32)


def test_smoothed_shares_by_hand() -> None:
    shares = smoothed_shares(np.array([[2, 0], [0, 0]]), prior_strength=2.0)
    # (2 + 1) / 4, (0 + 1) / 4; an empty row is the uniform mix.
    np.testing.assert_allclose(shares, [[0.75, 0.25], [0.5, 0.5]])


def test_layout_leaves_out_label_sources() -> None:
    X = placement_features(FACTORS, ENGAGEMENT, prior_strength=2.0)
    # Sorted kinds without posts_written: posts_engaged (2 shares, log total), purchases, factors.
    assert X.shape == (3, 2 * 3 + 2) and X.dtype == np.float32
    np.testing.assert_allclose(X[0, :3], [1 / 8, 7 / 8, np.log1p(6)], rtol=1e-6)
    np.testing.assert_allclose(X[0, 3:6], [0.75, 0.25, np.log1p(2)], rtol=1e-6)
    np.testing.assert_array_equal(X[:, 6:], FACTORS)


def test_explicit_kinds_and_no_factors() -> None:
    X = placement_features(None, ENGAGEMENT, kinds=["posts_written"])
    assert X.shape == (3, 3)
    with pytest.raises(KeyError, match="clicks"):
        placement_features(None, ENGAGEMENT, kinds=["clicks"])


def test_row_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="user_factors has 2 rows"):
        placement_features(FACTORS[:2], ENGAGEMENT)


def test_batches_equal_whole() -> None:
    whole = placement_features(FACTORS, ENGAGEMENT)
    parts = list(placement_feature_batches(FACTORS, ENGAGEMENT, batch_size=2))
    assert [rows for rows, _ in parts] == [slice(0, 2), slice(2, 3)]
    np.testing.assert_array_equal(np.vstack([x for _, x in parts]), whole)
