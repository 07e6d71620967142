"""ShippedRecommender: the recipe's CF plus content-mapped vectors for under-observed items."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.content.cold_start import place_cold_items
from recsys.errors import ContractError, UnknownUserError
from recsys.evaluation.shipped import ShippedRecommender, tune_shipped, with_cf_params
from recsys.recommenders.als import ALSRecommender
from recsys.recommenders.bpr import BPRRecommender
from recsys.training.config import TrainConfig

CONFIG = TrainConfig.model_validate({"cf": {"factors": 6, "iterations": 4}})


@pytest.fixture(scope="module")
def planted() -> tuple[sp.csr_matrix, np.ndarray]:
    """40 users x 30 items in two groups; items 28 and 29 have one user each."""
    rng = np.random.default_rng(0)
    rows, cols = [], []
    for u in range(40):
        own = np.arange(u % 2, 28, 2)
        for i in rng.choice(own, size=8, replace=False):
            rows.append(u)
            cols.append(int(i))
    rows += [0, 1]
    cols += [28, 29]
    x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(40, 30))
    content = np.zeros((30, 3), np.float32)
    content[np.arange(30) % 2 == 0, 0] = 1.0
    content[np.arange(30) % 2 == 1, 1] = 1.0
    content[:, 2] = rng.standard_normal(30) * 0.1
    return x, content


def test_without_content_it_is_the_recipes_cf_model(planted) -> None:
    x, _ = planted
    shipped = ShippedRecommender(config=CONFIG).fit(x)
    als = ALSRecommender(**CONFIG.cf.model_kwargs(CONFIG.seed)).fit(x)
    np.testing.assert_allclose(shipped.item_vectors_, als.item_factors_, rtol=1e-5, atol=1e-6)
    users = np.arange(40)
    assert np.array_equal(shipped.recommend(users, x, k=5)[0], als.recommend(users, x, k=5)[0])
    assert len(shipped.cold_items_) == 0


def test_items_with_too_few_users_get_content_mapped_vectors(planted) -> None:
    x, content = planted
    shipped = ShippedRecommender(config=CONFIG, content=content).fit(x)
    assert shipped.cold_items_.tolist() == [28, 29]  # one user each < warm_min_users = 2
    als = ALSRecommender(**CONFIG.cf.model_kwargs(CONFIG.seed)).fit(x)
    n_users = np.bincount(x.indices, minlength=30)
    expected, _ = place_cold_items(als.item_factors_, content, np.array([28, 29]),
                                   alpha=CONFIG.content.map_alpha, item_weight=np.log1p(n_users))
    np.testing.assert_allclose(shipped.item_vectors_, expected, rtol=1e-4, atol=1e-5)
    warm = np.arange(28)
    np.testing.assert_allclose(shipped.item_vectors_[warm], als.item_factors_[warm], atol=1e-6)
    # a content-mapped item lands with its group: even users score item 28 above item 29
    scores = shipped._score(np.arange(40), x)
    assert (scores[0::2, 28] > scores[0::2, 29]).mean() > 0.8


def test_bpr_recipe_and_warm_threshold_follow_the_config(planted) -> None:
    x, content = planted
    cfg = TrainConfig.model_validate(
        {"cf": {"model": "bpr", "factors": 4, "iterations": 5}, "content": {"warm_min_users": 5}}
    )
    shipped = ShippedRecommender(config=cfg, content=content).fit(x)
    assert shipped.item_vectors_.shape == (30, 5)  # BPR's bias column is mapped too
    n_users = np.bincount(x.indices, minlength=30)
    assert shipped.cold_items_.tolist() == np.flatnonzero(n_users < 5).tolist()
    bpr = BPRRecommender(**cfg.cf.model_kwargs(cfg.seed)).fit(x)
    np.testing.assert_allclose(shipped.user_factors_, bpr.user_factors_)


def test_save_load_round_trip(planted, tmp_path: Path) -> None:
    x, content = planted
    shipped = ShippedRecommender(config=CONFIG, content=content).fit(x)
    shipped.save(tmp_path / "m")
    back = ShippedRecommender.load(tmp_path / "m")
    assert back.config == CONFIG
    users = np.arange(40)
    for a, b in zip(shipped.recommend(users, x, k=7), back.recommend(users, x, k=7), strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_input_is_named(planted) -> None:
    x, content = planted
    with pytest.raises(ContractError, match="content has 29 rows"):
        ShippedRecommender(config=CONFIG, content=content[:29]).fit(x)
    shipped = ShippedRecommender(config=CONFIG).fit(x)
    with pytest.raises(UnknownUserError):
        shipped.recommend([40], x[:1], k=3)


def test_with_cf_params_validates() -> None:
    assert with_cf_params(CONFIG, {"alpha": 7.0}).cf.alpha == 7.0
    with pytest.raises(ValueError):
        with_cf_params(CONFIG, {"alfa": 7.0})


def test_tune_shipped_is_seeded_and_searches_the_cf_space(planted) -> None:
    x, content = planted
    coo = x.tocoo()
    hide = np.random.default_rng(0).random(coo.nnz) < 0.2
    train = sp.csr_matrix((coo.data[~hide], (coo.row[~hide], coo.col[~hide])), shape=x.shape)
    valid = sp.csr_matrix((coo.data[hide], (coo.row[hide], coo.col[hide])), shape=x.shape)
    a = tune_shipped(CONFIG, train, valid, content=content, n_trials=3, seed=5)
    b = tune_shipped(CONFIG, train, valid, content=content, n_trials=3, seed=5)
    assert a.best_params == b.best_params and len(a.trials) == 3
    assert a.best_score == max(t.score for t in a.trials)
    assert a.best_params["factors"] in (32, 64, 128)
    assert 1e-3 <= a.best_params["regularization"] <= 10.0
