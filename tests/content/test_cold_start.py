"""Cold-item split, placement and evaluation on hand-built cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.content.cold_start import (
    evaluate_cold_items,
    heldout_interactions,
    place_cold_items,
    split_cold_items,
)
from recsys.errors import ConfigError, ContractError


def _matrix(seed: int = 0, n_users: int = 60, n_items: int = 30) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < np.linspace(0.02, 0.5, n_items)).astype(np.float32)
    return sp.csr_matrix(dense)


def test_split_hides_whole_columns_of_eligible_items() -> None:
    x = _matrix()
    train, cold = split_cold_items(x, share=0.2, min_interactions=5, seed=1)
    counts = np.bincount(x.indices, minlength=x.shape[1])
    eligible = np.flatnonzero(counts >= 5)
    assert len(cold) == round(0.2 * len(eligible))
    assert np.isin(cold, eligible).all() and np.all(np.diff(cold) > 0)
    assert train[:, cold].nnz == 0
    warm = np.setdiff1d(np.arange(x.shape[1]), cold)
    assert (train[:, warm] != x[:, warm]).nnz == 0
    held = heldout_interactions(x, cold)
    assert held.nnz + train.nnz == x.nnz and held[:, warm].nnz == 0


def test_split_is_seeded_and_prefers_newest() -> None:
    x = _matrix()
    a = split_cold_items(x, share=0.2, seed=4)[1]
    assert np.array_equal(a, split_cold_items(x, share=0.2, seed=4)[1])
    assert not np.array_equal(a, split_cold_items(x, share=0.2, seed=5)[1])
    created = np.arange(x.shape[1])  # item j created at time j: the last ones are newest
    newest = split_cold_items(x, created, share=0.2, min_interactions=1)[1]
    assert np.array_equal(newest, np.arange(x.shape[1] - len(newest), x.shape[1]))


def test_split_errors() -> None:
    with pytest.raises(ConfigError):
        split_cold_items(_matrix(), share=1.5)
    with pytest.raises(ContractError, match="nothing to hold out"):
        split_cold_items(_matrix(), min_interactions=10_000)


def _hand_case():
    """One category of 5 items (0..4) plus one item (5) in another category.

    The user vector is e0; item 4 (cold, held out) is exactly e0, the others are orthogonal.
    Popularity: items 0..3 have 5, 4, 3, 2 training interactions, item 4 none.
    """
    user = np.array([[1.0, 0.0, 0.0]])
    items = np.array(
        [[0, 1, 0], [0, 0, 1], [0, 1, 1], [0, -1, 0], [1, 0, 0], [9, 0, 0]], dtype=np.float32
    )
    category = np.array([7, 7, 7, 7, 7, 8])
    popularity = np.array([5, 4, 3, 2, 0, 100])
    heldout = sp.csr_matrix(([1.0], ([0], [4])), shape=(1, 6))
    return user, items, heldout, category, popularity


def test_matching_vector_ranks_first_and_popularity_last() -> None:
    user, items, heldout, category, popularity = _hand_case()
    m = evaluate_cold_items(user, items, heldout, category, popularity, k=2)
    assert m["n_pairs"] == 1 and m["mean_candidates"] == 5  # item 5 is another category
    assert m["model_mrr"] == 1.0 and m["model_hit@2"] == 1.0 and m["model_auc"] == 1.0
    assert m["popularity_mrr"] == pytest.approx(1 / 5)
    assert m["popularity_auc"] == 0.0 and m["popularity_hit@2"] == 0.0


def test_seen_items_leave_the_candidates() -> None:
    user, items, heldout, category, popularity = _hand_case()
    seen = sp.csr_matrix(([1.0, 1.0], ([0, 0], [0, 1])), shape=(1, 6))
    m = evaluate_cold_items(user, items, heldout, category, popularity, seen=seen)
    assert m["mean_candidates"] == 3
    assert m["popularity_mrr"] == pytest.approx(1 / 3)


def test_popularity_ties_are_broken_at_random() -> None:
    """Two cold items tie at zero popularity below four warm ones: rank 5 or 6, half each."""
    n_users = 4000
    items = np.eye(6, dtype=np.float32)
    category = np.zeros(6, dtype=np.int64)
    popularity = np.array([9, 8, 7, 0, 0, 6])
    heldout = sp.csr_matrix(
        (np.ones(n_users), (np.arange(n_users), np.full(n_users, 3))), shape=(n_users, 6)
    )
    users = np.tile(np.eye(6, dtype=np.float32)[3], (n_users, 1))
    m = evaluate_cold_items(users, items, heldout, category, popularity, seed=0)
    assert m["popularity_mrr"] == pytest.approx((1 / 5 + 1 / 6) / 2, abs=0.005)
    assert m["popularity_auc"] == pytest.approx(0.1, abs=0.01)  # (6-5)/5 or 0
    assert m["random_auc"] == pytest.approx(0.5, abs=0.02)
    assert m["model_auc"] == 1.0
    again = evaluate_cold_items(users, items, heldout, category, popularity, seed=0)
    assert again == m


def test_evaluation_errors() -> None:
    user, items, heldout, category, popularity = _hand_case()
    with pytest.raises(ContractError, match="item_category"):
        evaluate_cold_items(user, items, heldout, category[:3], popularity)
    with pytest.raises(ContractError, match="finite"):
        evaluate_cold_items(user * np.nan, items, heldout, category, popularity)
    lonely = np.array([7, 7, 7, 7, 9, 8])  # the held-out item is alone in its category
    with pytest.raises(ContractError, match="two or more candidates"):
        evaluate_cold_items(user, items, heldout, lonely, popularity)


def test_place_cold_items_maps_only_cold_rows() -> None:
    rng = np.random.default_rng(0)
    content = rng.normal(size=(50, 6)).astype(np.float32)
    true_map = rng.normal(size=(6, 3))
    factors = (content @ true_map).astype(np.float32)
    cold = np.array([3, 10, 40])
    broken = factors.copy()
    broken[cold] = 0.0  # what ALS gives items without interactions
    weight = np.ones(50)
    weight[7] = 0.0  # a warm item without interactions must not teach the map
    broken[7] = 100.0
    vectors, fmap = place_cold_items(broken, content, cold, alpha=1e-6, item_weight=weight)
    warm = np.setdiff1d(np.arange(50), cold)
    assert np.array_equal(vectors[warm], broken[warm])
    np.testing.assert_allclose(vectors[cold], factors[cold], atol=1e-3)
    assert fmap.coef_.shape == (6, 3)
