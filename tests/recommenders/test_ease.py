"""EASE closed form against a float64 reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.recommenders.ease import EASERecommender


def _data(seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((60, 25)) < 0.2) * rng.integers(1, 5, (60, 25))
    return sp.csr_matrix(dense.astype(np.float32))


def _reference(x: np.ndarray, l2: float) -> np.ndarray:
    g = x.T @ x + l2 * np.eye(x.shape[1])
    p = np.linalg.inv(g)
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return b


def test_matches_float64_closed_form() -> None:
    x = _data()
    model = EASERecommender(l2=5.0).fit(x)
    ref = _reference((x.toarray() != 0).astype(np.float64), 5.0)
    assert model.weights_.dtype == np.float32
    np.testing.assert_allclose(model.weights_, ref, atol=1e-5)
    assert np.all(np.diag(model.weights_) == 0)


def test_non_binary_uses_confidence() -> None:
    x = _data()
    model = EASERecommender(l2=5.0, binary=False).fit(x)
    np.testing.assert_allclose(model.weights_, _reference(x.toarray(), 5.0), atol=1e-4)


def test_recommend_excludes_seen_and_follows_scores() -> None:
    x = _data()
    model = EASERecommender(l2=5.0).fit(x)
    ids, scores = model.recommend(np.arange(5), x[:5], k=4)
    assert not np.take_along_axis(x[:5].toarray(), ids, axis=1).any()
    expected = (x[:5].toarray() != 0) @ model.weights_
    np.testing.assert_allclose(scores, np.take_along_axis(expected, ids, axis=1), rtol=1e-5)


def test_refuses_big_catalogue_with_numbers() -> None:
    with pytest.raises(ConfigError, match=r"GB float32.*n_items=25 > max_items=10"):
        EASERecommender(max_items=10).fit(_data())
    with pytest.raises(ConfigError, match="l2"):
        EASERecommender(l2=0)


def test_save_load_roundtrip(tmp_path: Path) -> None:
    x = _data()
    model = EASERecommender(l2=3.0).fit(x)
    model.save(tmp_path)
    loaded = EASERecommender.load(tmp_path)
    assert loaded.get_params() == model.get_params()
    a = model.recommend(np.arange(10), x[:10], k=5)
    b = loaded.recommend(np.arange(10), x[:10], k=5)
    np.testing.assert_array_equal(a[0], b[0])
