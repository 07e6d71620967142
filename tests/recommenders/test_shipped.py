"""ShippedRecommender: the recipe's CF plus content-mapped vectors, blended with item-kNN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.content.cold_start import place_cold_items
from recsys.errors import ConfigError, ContractError, UnknownUserError
from recsys.recipe import TrainConfig, with_cf_params
from recsys.recommenders.als import ALSRecommender
from recsys.recommenders.blend import blend_scores
from recsys.recommenders.bpr import BPRRecommender
from recsys.recommenders.itemknn import ItemKNNRecommender
from recsys.recommenders.rp3beta import rp3beta_similarity
from recsys.recommenders.shipped import ShippedRecommender
from tests.conftest import RANKED_OFF

# CF alone (the blend is tested with BLEND below).
CONFIG = TrainConfig.model_validate(
    {"cf": {"factors": 6, "iterations": 4}, "item_knn": {"weight": 0.0}}
)


def planted_data() -> tuple[sp.csr_matrix, np.ndarray]:
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


@pytest.fixture(scope="module")
def planted() -> tuple[sp.csr_matrix, np.ndarray]:
    return planted_data()


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
        {"cf": {"model": "bpr", "factors": 4, "iterations": 5}, "content": {"warm_min_users": 5},
         "item_knn": {"weight": 0.0}}
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


BLEND = with_cf_params(CONFIG, {"item_knn.weight": 0.4, "item_knn.k": 10})


def test_blend_scores_cf_and_item_neighbours_per_user(planted) -> None:
    x, content = planted
    shipped = ShippedRecommender(config=BLEND, content=content).fit(x)
    plain = ShippedRecommender(config=CONFIG, content=content).fit(x)
    knn = ItemKNNRecommender(k=10, similarity="cosine").fit(x, show_progress=False)
    users = np.arange(40)
    factor = plain._score(users, x)
    expected = blend_scores(factor, (x @ knn.similarity_).toarray(), 0.4)
    np.testing.assert_allclose(shipped._score(users, x), expected, rtol=1e-5, atol=1e-6)
    assert shipped.similarity_.shape == (30, 30)
    # weight 0 of the same fit ranks exactly as CF alone
    zero = shipped.with_blend_weight(0.0)
    assert np.array_equal(zero.recommend(users, x, k=5)[0], plain.recommend(users, x, k=5)[0])
    assert shipped.config.item_knn.weight == 0.4  # the copy did not touch the original
    with pytest.raises(ConfigError, match="item_knn.weight > 0"):
        plain.with_blend_weight(0.5)


def test_rp3beta_blend_trains_and_evaluates_with_the_recipes_walk_settings(planted) -> None:
    """The shipped scorer (what training, evaluation and the runtime all fit) builds RP3beta
    neighbours with the recipe's alpha and beta, not the defaults."""
    x, _ = planted
    cfg = with_cf_params(BLEND, {"item_knn.similarity": "rp3beta", "item_knn.rp3_alpha": 0.5,
                                 "item_knn.rp3_beta": 0.8})
    expected = rp3beta_similarity(x, k=10, alpha=0.5, beta=0.8)
    assert (ShippedRecommender(config=cfg).fit(x).similarity_ != expected).nnz == 0
    default = rp3beta_similarity(x, k=10, alpha=TrainConfig().item_knn.rp3_alpha,
                                 beta=TrainConfig().item_knn.rp3_beta)
    assert abs(default - expected).max() > 1e-3  # the settings matter on this data


def test_blend_save_load_round_trip(planted, tmp_path: Path) -> None:
    x, content = planted
    shipped = ShippedRecommender(config=BLEND, content=content).fit(x)
    shipped.save(tmp_path / "m")
    back = ShippedRecommender.load(tmp_path / "m")
    assert back.config == BLEND
    assert (back.similarity_ != shipped.similarity_).nnz == 0
    users = np.arange(40)
    for a, b in zip(shipped.recommend(users, x, k=7), back.recommend(users, x, k=7), strict=True):
        np.testing.assert_array_equal(a, b)


def test_with_cf_params_routes_section_keys() -> None:
    cfg = with_cf_params(CONFIG, {"factors": 9, "item_knn.k": 33})
    assert (cfg.cf.factors, cfg.item_knn.k) == (9, 33)
    with pytest.raises(ConfigError, match="unknown config section"):
        with_cf_params(CONFIG, {"itemknn.k": 33})
    with pytest.raises(ValueError):
        with_cf_params(CONFIG, {"item_knn.weight": 1.5})


def test_trained_bundle_serves_the_shipped_blend(tmp_path: Path) -> None:
    """`recsys train` with the blend on saves the neighbours with the scorer (the one class
    training, evaluation and the runtime share); without it the scorer has none."""
    from recsys.bundle.parts import Scorer, UserHistory
    from recsys.ingest import ingest
    from recsys.synth import SynthConfig, generate
    from recsys.training.run import run_training

    generate(SynthConfig(n_users=300, n_items=200, seed=1), tmp_path / "raw")
    ingest(tmp_path / "raw", tmp_path / "data")
    cfg = TrainConfig.model_validate({
        "cf": {"factors": 8, "iterations": 3},
        "item_knn": {"weight": 0.5, "k": 20},
        "content": {"evaluate_cold_start": False, "n_components": 8},
        "holdout_fraction": 0.0,
        "ranked": RANKED_OFF,
    })
    root = run_training(tmp_path / "data", cfg, models_dir=tmp_path / "models")
    scorer = Scorer.load(root).model
    assert scorer.config.item_knn.weight == 0.5
    history = UserHistory.load(root).interacted
    expected = ItemKNNRecommender(k=20).fit(history, show_progress=False).similarity_
    assert abs(scorer.similarity_ - expected).max() < 1e-6
    plain = run_training(tmp_path / "data", with_cf_params(cfg, {"item_knn.weight": 0.0}),
                         models_dir=tmp_path / "models")
    assert Scorer.load(plain).model.similarity_ is None


def test_default_recipe_is_als_alone_with_the_blend_available() -> None:
    """The shipped default serves ALS alone: the blend lost on the platform-like sample
    (see pipelines/configs/default.toml); tuned per-data-set configs may turn it on."""
    cfg = TrainConfig()
    assert cfg.cf.model == "als" and cfg.item_knn.weight == 0.0
    assert cfg.item_knn.k > 0


def test_with_item_vectors_grows_the_catalogue_without_a_refit(planted, tmp_path: Path) -> None:
    x, content = planted
    shipped = ShippedRecommender(config=CONFIG, content=content).fit(x)
    new = np.ones((2, shipped.item_vectors_.shape[1]), np.float32)
    grown = shipped.with_item_vectors(np.vstack([shipped.item_vectors_, new]), [30, 31])
    assert grown.n_items_ == 32 and shipped.n_items_ == 30
    assert {30, 31} <= set(grown.cold_items_.tolist())
    wide = sp.csr_matrix((x.data, x.indices, x.indptr), shape=(40, 32))
    ids, _ = grown.recommend(np.arange(40), wide, k=32)
    assert np.isin([30, 31], ids).all()  # new items compete at once
    # a refresh rewrites the item side only
    shipped.save(tmp_path / "m")
    factors = (tmp_path / "m" / "user_factors_.npy").stat().st_mtime_ns
    grown.save(tmp_path / "m", only=("item_vectors_", "cold_items_"))
    assert (tmp_path / "m" / "user_factors_.npy").stat().st_mtime_ns == factors
    back = ShippedRecommender.load(tmp_path / "m", mmap=True)
    assert back.n_items_ == 32
    np.testing.assert_array_equal(back.item_vectors_, grown.item_vectors_)
    with pytest.raises(ContractError, match="only adds"):
        shipped.with_item_vectors(shipped.item_vectors_[:5], [])


def test_similar_items_by_item_vectors(planted) -> None:
    x, content = planted
    shipped = ShippedRecommender(config=CONFIG, content=content).fit(x)
    ids, scores = shipped.similar_items([0, 28], k=5)
    assert not (ids == np.array([[0], [28]])).any()
    # the content-mapped item 28 (even group) lands among even items
    assert (ids % 2 == 0).mean() > 0.8
    v = shipped.item_vectors_
    cos = v @ v[0] / (np.linalg.norm(v, axis=1) * np.linalg.norm(v[0]))
    cos[0] = -np.inf
    assert ids[0, 0] == int(np.argmax(cos))
    assert scores[0, 0] == pytest.approx(cos.max(), rel=1e-5)
