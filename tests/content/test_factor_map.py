"""ContentToFactorMap: recovers a planted linear map, agrees with sklearn Ridge, saves exactly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from recsys.content.factor_map import ContentToFactorMap
from recsys.errors import BundleError, ContractError, NotFittedError


def _planted(n: int = 400, d: int = 8, f: int = 5, noise: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    coef = rng.normal(size=(d, f))
    intercept = rng.normal(size=f)
    y = x @ coef + intercept + noise * rng.normal(size=(n, f))
    return x, y, coef, intercept


def test_recovers_known_linear_map() -> None:
    x, y, coef, intercept = _planted(noise=0.01)
    fmap = ContentToFactorMap(alpha=1e-6).fit(x, y)
    np.testing.assert_allclose(fmap.coef_, coef, atol=0.01)
    np.testing.assert_allclose(fmap.intercept_, intercept, atol=0.01)
    assert fmap.train_r2_ > 0.999
    pred = fmap.predict(x[:3])
    assert pred.dtype == np.float32 and pred.shape == (3, 5)


def test_matches_sklearn_ridge_with_weights() -> None:
    x, y, _, _ = _planted(noise=0.5, seed=1)
    w = np.random.default_rng(2).uniform(0.1, 3.0, size=len(x))
    ours = ContentToFactorMap(alpha=7.0).fit(x, y, sample_weight=w)
    # Our alpha is defined for weights of mean 1, so rescale them for sklearn.
    ref = Ridge(alpha=7.0).fit(x, y, sample_weight=w * len(w) / w.sum())
    np.testing.assert_allclose(ours.coef_, ref.coef_.T, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)


def test_weight_scale_and_zero_weight_rows_do_not_matter() -> None:
    x, y, _, _ = _planted(noise=0.1)
    junk_x = np.random.default_rng(5).normal(size=(50, x.shape[1]))
    junk_y = np.full((50, y.shape[1]), 100.0)
    w = np.r_[np.ones(len(x)), np.zeros(50)]
    with_junk = ContentToFactorMap(alpha=1.0).fit(np.r_[x, junk_x], np.r_[y, junk_y], w)
    clean = ContentToFactorMap(alpha=1.0).fit(x, y)
    np.testing.assert_allclose(with_junk.coef_, clean.coef_, rtol=1e-8, atol=1e-10)
    scaled = ContentToFactorMap(alpha=1.0).fit(x, y, sample_weight=np.full(len(x), 40.0))
    np.testing.assert_allclose(scaled.coef_, clean.coef_, rtol=1e-8, atol=1e-10)


def test_stronger_penalty_shrinks() -> None:
    x, y, _, _ = _planted(noise=0.1)
    weak = ContentToFactorMap(alpha=0.1).fit(x, y)
    strong = ContentToFactorMap(alpha=1e4).fit(x, y)
    assert np.linalg.norm(strong.coef_) < 0.5 * np.linalg.norm(weak.coef_)


def test_save_load_identical(tmp_path) -> None:
    x, y, _, _ = _planted(noise=0.1)
    fmap = ContentToFactorMap(alpha=2.0).fit(x, y)
    fmap.save(tmp_path / "map")
    loaded = ContentToFactorMap.load(tmp_path / "map")
    assert np.array_equal(fmap.predict(x), loaded.predict(x))
    assert loaded.alpha == 2.0


def test_errors(tmp_path) -> None:
    with pytest.raises(NotFittedError):
        ContentToFactorMap().predict(np.zeros((1, 2)))
    with pytest.raises(ContractError, match="same rows"):
        ContentToFactorMap().fit(np.zeros((3, 2)), np.zeros((4, 2)))
    with pytest.raises(ContractError, match="sample_weight"):
        ContentToFactorMap().fit(np.zeros((3, 2)), np.zeros((3, 2)), np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ContractError, match="finite"):
        ContentToFactorMap().fit(np.full((3, 2), np.nan), np.zeros((3, 2)))
    fmap = ContentToFactorMap().fit(np.eye(3), np.eye(3))
    with pytest.raises(ContractError, match=r"\(m, 3\)"):
        fmap.predict(np.zeros((2, 4)))
    with pytest.raises(BundleError):
        ContentToFactorMap.load(tmp_path / "nothing")
