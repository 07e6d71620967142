"""RP3beta on hand-computed cases, against a dense reference, and through `ItemKNNRecommender`."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.recommenders.itemknn import ItemKNNRecommender
from recsys.recommenders.rp3beta import _row_blocks, rp3beta_similarity
from tests.recommenders.test_contract import checkerboard

# user 0 has items {0, 1}, user 1 has items {1, 2}. By hand, alpha 1:
#   P_ui = [[1/2, 1/2, 0], [0, 1/2, 1/2]];  P_iu = [[1, 0], [1/2, 1/2], [0, 1]]
#   P_iu @ P_ui = [[1/2, 1/2, 0], [1/4, 1/2, 1/4], [0, 1/2, 1/2]], then the diagonal is dropped.
TWO_USERS = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float32))


def dense(x: sp.csr_matrix, **kwargs) -> np.ndarray:
    return rp3beta_similarity(x, **kwargs).toarray()


def test_plain_walk_matches_hand_computation() -> None:
    expected = [[0, 1 / 2, 0], [1 / 4, 0, 1 / 4], [0, 1 / 2, 0]]
    np.testing.assert_allclose(dense(TWO_USERS, k=5, alpha=1.0, beta=0.0), expected, rtol=1e-6)


def test_beta_divides_each_neighbour_by_its_popularity() -> None:
    # item 1 has 2 users: its column is divided by 2 ** 0.5; items 0 and 2 (1 user) stay.
    expected = [[0, 0.5 / np.sqrt(2), 0], [1 / 4, 0, 1 / 4], [0, 0.5 / np.sqrt(2), 0]]
    np.testing.assert_allclose(dense(TWO_USERS, k=5, alpha=1.0, beta=0.5), expected, rtol=1e-6)


def test_alpha_powers_the_transitions_and_k_breaks_ties_by_column() -> None:
    # alpha 2: P_ui = [[1/4, 1/4, 0], [0, 1/4, 1/4]], P_iu = [[1, 0], [1/4, 1/4], [0, 1]];
    # row 1 = [1/16, 1/8, 1/16] -> without its diagonal two equal values; k 1 keeps column 0.
    expected = [[0, 1 / 4, 0], [1 / 16, 0, 0], [0, 1 / 4, 0]]
    np.testing.assert_allclose(dense(TWO_USERS, k=1, alpha=2.0, beta=0.0), expected, rtol=1e-6)


def test_confidences_weight_both_steps_of_the_walk() -> None:
    # user 0: item 0 weight 3, item 1 weight 1 -> P_ui[0] = [3/4, 1/4]; the items' only user is 0
    x = sp.csr_matrix(np.array([[3, 1]], dtype=np.float32))
    np.testing.assert_allclose(dense(x, k=5, alpha=1.0, beta=0.0), [[0, 1 / 4], [3 / 4, 0]],
                               rtol=1e-6)


def reference(x: sp.csr_matrix, k: int, alpha: float, beta: float) -> np.ndarray:
    """The definition, dense: normalise, power, multiply, penalise, drop diagonal, top-k."""
    d = x.toarray().astype(np.float64)

    def l1(m: np.ndarray) -> np.ndarray:
        s = m.sum(axis=1, keepdims=True)
        return np.divide(m, s, out=np.zeros_like(m), where=s > 0)

    popularity = (d > 0).sum(axis=0)
    penalty = np.where(popularity > 0, np.maximum(popularity, 1) ** -beta, 0.0)
    w = (l1(d.T) ** alpha) @ (l1(d) ** alpha) * penalty
    np.fill_diagonal(w, 0)
    out = np.zeros_like(w)
    for i, row in enumerate(w):
        best = np.lexsort((np.arange(len(row)), -row))[:k]
        best = best[row[best] > 0]
        out[i, best] = row[best]
    return out


@pytest.mark.parametrize("max_block_nnz", [1, 50, 10**9])
def test_row_blocks_of_any_size_give_the_reference(max_block_nnz: int) -> None:
    rng = np.random.default_rng(0)
    x = sp.random(120, 90, density=0.06, random_state=1, format="csr", dtype=np.float32)
    x.data = rng.integers(1, 5, x.nnz).astype(np.float32)
    x = x.tolil()
    x[5] = 0  # a user without items, and an item without users
    x[:, 7] = 0
    x = x.tocsr()
    x.data[0] = 0.0  # an explicit zero, which the caller's matrix must keep
    before = (x.data.copy(), x.indices.copy(), x.indptr.copy())
    w = rp3beta_similarity(x, k=6, alpha=0.7, beta=0.3, max_block_nnz=max_block_nnz)
    for array, copy in zip((x.data, x.indices, x.indptr), before, strict=True):
        np.testing.assert_array_equal(array, copy)
    assert w.shape == (90, 90) and w.dtype == np.float32 and w.has_sorted_indices
    assert (np.diff(w.indptr) <= 6).all() and w.diagonal().max() == 0
    np.testing.assert_allclose(w.toarray(), reference(x, 6, 0.7, 0.3), rtol=1e-5, atol=1e-9)


def test_blocks_respect_the_budget() -> None:
    assert _row_blocks(np.array([3, 3, 3, 10, 1, 1]), 6) == [(0, 2), (2, 3), (3, 4), (4, 6)]


def test_negative_confidences_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        rp3beta_similarity(sp.csr_matrix(np.array([[1.0, -1.0]])), k=2, alpha=1.0, beta=0.0)


def test_itemknn_rp3beta_is_the_similarity_and_its_scores() -> None:
    x = checkerboard()
    model = ItemKNNRecommender(k=5, similarity="rp3beta", rp3_alpha=0.6, rp3_beta=0.4)
    model.fit(x, show_progress=False)
    expected = rp3beta_similarity(x, k=5, alpha=0.6, beta=0.4)
    assert (model.similarity_ != expected).nnz == 0
    np.testing.assert_allclose(model._score(np.arange(3), x[:3]), (x[:3] @ expected).toarray(),
                               rtol=1e-6)
    assert model.get_params()["rp3_alpha"] == 0.6 and model.get_params()["rp3_beta"] == 0.4
    # the penalty matters: beta 0 keeps other neighbours than beta 1 on the skewed checkerboard
    other = ItemKNNRecommender(k=5, similarity="rp3beta", rp3_alpha=0.6, rp3_beta=1.0).fit(x)
    assert not np.allclose(other.similarity_.toarray(), model.similarity_.toarray())


@pytest.mark.parametrize("kwargs", [{"rp3_alpha": 0.0}, {"rp3_beta": -0.1}])
def test_itemknn_rejects_bad_rp3_settings(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match="rp3_alpha"):
        ItemKNNRecommender(similarity="rp3beta", **kwargs)
