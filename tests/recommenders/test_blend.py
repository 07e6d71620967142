"""The factor + item-kNN blend of the shipped scorer: per-user normalisation and the mix."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.recommenders.blend import blend_scores, neighbour_scores, normalise_per_user


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
