"""evaluate_model / compare_models / share targeting against direct metric calls."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.evaluation import evaluate as ev
from recsys.item_stats import users_per_item
from recsys.metrics import ranking as m
from recsys.recommenders.ease import EASERecommender
from recsys.recommenders.popularity import PopularityRecommender


def _split(seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    rng = np.random.default_rng(seed)
    cells = rng.random((80, 30)) < 0.25
    in_test = rng.random((80, 30)) < 0.25
    in_test[5] = False  # a user with nothing to evaluate
    train = sp.csr_matrix((cells & ~in_test).astype(np.float32))
    test = sp.csr_matrix((cells & in_test).astype(np.float32))
    return train, test


def test_matches_direct_metric_calls_and_ignores_batching() -> None:
    train, test = _split()
    model = EASERecommender(l2=10.0).fit(train)
    result = ev.evaluate_model(model, train, test, ks=(3, 5), batch=7)
    users = np.flatnonzero(np.diff(test.indptr))
    assert 5 not in users
    ids, _ = model.recommend(users, train[users], k=5)
    assert result["n_users"] == len(users)
    assert result["ndcg@5"] == pytest.approx(m.ndcg_at_k(ids, test[users]))
    assert result["recall@3"] == pytest.approx(m.recall_at_k(ids, test[users], k=3))
    assert result["map@5"] == pytest.approx(m.map_at_k(ids, test[users]))
    exposure = m.exposure_counts(ids, 30)
    assert result["coverage@5"] == pytest.approx(m.catalog_coverage(exposure))
    assert result["gini@5"] == pytest.approx(m.gini_exposure(exposure))
    one_batch = ev.evaluate_model(model, train, test, ks=(3, 5), batch=10_000)
    assert one_batch == pytest.approx(result)


def test_personalised_model_beats_popularity_on_structured_data() -> None:
    # two taste groups: users 0-39 like items 0-9, users 40-79 like items 10-19
    rng = np.random.default_rng(1)
    dense = np.zeros((80, 20), np.float32)
    dense[:40, :10] = rng.random((40, 10)) < 0.6
    dense[40:, 10:] = rng.random((40, 10)) < 0.6
    dense[40:50, 10:] = 0  # group one is bigger, so popularity favours its items
    mask = rng.random(dense.shape) < 0.3
    train = sp.csr_matrix(dense * ~mask)
    test = sp.csr_matrix(dense * mask)
    pop = ev.evaluate_model(PopularityRecommender().fit(train), train, test, ks=(5,))
    ease = ev.evaluate_model(EASERecommender(l2=1.0).fit(train), train, test, ks=(5,))
    assert ease["ndcg@5"] > pop["ndcg@5"] + 0.1


def test_overlap_with_train_is_left_out() -> None:
    train = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 0, 0]], np.float32))
    test = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 0]], np.float32))
    model = PopularityRecommender().fit(train)
    result = ev.evaluate_model(model, train, test, ks=(1, 10))
    # user 0: only item 1 is reachable and it is first (popularity tie -> lower index)
    assert result["recall@1"] == pytest.approx(1.0)
    assert result["hit_rate@10"] == pytest.approx(1.0)
    assert result["coverage@10"] == pytest.approx(1.0)


def test_compare_models_and_errors() -> None:
    train, test = _split()
    models = {
        "popularity": PopularityRecommender().fit(train),
        "ease": EASERecommender(l2=10.0).fit(train),
    }
    comp = ev.compare_models(models, train, test, ks=(5,))
    assert set(comp.metrics) == {"popularity", "ease"}
    assert comp.exposure["ease"].sum() == 5 * comp.metrics["ease"]["n_users"]
    np.testing.assert_array_equal(comp.item_popularity, users_per_item(train))
    with pytest.raises(ValueError, match="same shape"):
        ev.evaluate_model(models["ease"], train, test[:10])
    with pytest.raises(ValueError, match="no user has a test item"):
        ev.evaluate_model(models["ease"], train, sp.csr_matrix(test.shape, dtype=np.float32))


def test_long_tail_head_is_made_of_interactions_not_users() -> None:
    # item 0: one user with 40 events; items 1-3: users 1-4, one event each; item 4: user 5
    train = np.zeros((6, 5), np.float32)
    train[0, 0] = 40.0
    train[1:5, 1:4] = 1.0
    train[5, 4] = 1.0
    train = sp.csr_matrix(train)
    test = sp.csr_matrix(([1.0] * 6, ([0, 1, 2, 3, 4, 5], [3, 0, 0, 0, 0, 3])), shape=(6, 5))
    events = np.array([40, 4, 4, 4, 1])
    model = {"popularity": PopularityRecommender().fit(train)}
    by_events = ev.compare_models(model, train, test, ks=(2,), item_interactions=events)
    by_users = ev.compare_models(model, train, test, ks=(2,))
    # popularity (users) recommends items 0 and 4 to users 1-4, items 1 and 2 to users 0, 5
    np.testing.assert_array_equal(by_events.exposure["popularity"], [4, 2, 2, 0, 4])
    # head by events: items 0, 1 (44 of 53 >= 80%); by users: items 1, 2, 3 (12 of 14)
    assert by_events.metrics["popularity"]["long_tail_share@2"] == pytest.approx(6 / 12)
    assert by_users.metrics["popularity"]["long_tail_share@2"] == pytest.approx(8 / 12)
    np.testing.assert_array_equal(by_users.item_interactions, users_per_item(train))
    # novelty keeps counting users (a probability): the same either way
    assert by_events.metrics["popularity"]["novelty@2"] == pytest.approx(
        by_users.metrics["popularity"]["novelty@2"])
    with pytest.raises(ValueError, match="item_interactions"):
        ev.compare_models(model, train, test, ks=(2,), item_interactions=events[:3])
