from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError, NotFittedError
from recsys.recommenders._implicit import single_threaded_blas
from recsys.recommenders.als import ALSRecommender
from tests.recommenders.test_contract import checkerboard, group_of_item


def random_matrix(seed: int = 1, shape: tuple[int, int] = (60, 30)) -> sp.csr_matrix:
    m = sp.random(*shape, density=0.2, format="csr", dtype=np.float32, random_state=seed)
    m.data = np.ceil(m.data * 5)
    return m


def fit(x: sp.csr_matrix, **kw) -> ALSRecommender:
    params = {"factors": 6, "iterations": 8, "num_threads": 1} | kw
    return ALSRecommender(**params).fit(x, show_progress=False)


def test_factor_shapes_and_dtypes():
    model = fit(random_matrix())
    assert model.user_factors_.shape == (60, 6) and model.user_factors_.dtype == np.float32
    assert model.item_factors_.shape == (30, 6) and model.item_factors_.dtype == np.float32


def test_same_seed_same_factors_whatever_the_threads():
    x = random_matrix()
    a, b = fit(x, random_state=3), fit(x, random_state=3, num_threads=2)
    np.testing.assert_allclose(a.user_factors_, b.user_factors_, atol=1e-4)
    np.testing.assert_allclose(a.item_factors_, b.item_factors_, atol=1e-4)
    c = fit(x, random_state=4)
    assert not np.allclose(a.item_factors_, c.item_factors_, atol=1e-4)


def test_fold_in_matches_implicits_recalculate_user():
    from implicit.cpu.als import AlternatingLeastSquares

    x = random_matrix()
    model = fit(x, alpha=2.0, regularization=0.1)
    rows = x[:10]
    with single_threaded_blas():
        ref = AlternatingLeastSquares(factors=6, regularization=0.1, alpha=2.0, random_state=0)
    ref.item_factors = model.item_factors_.copy()
    expected = ref.recalculate_user(np.arange(10), rows)
    np.testing.assert_allclose(model.fold_in(rows), expected, rtol=1e-3, atol=1e-4)


def test_fold_in_heavy_rows_and_empty_rows(monkeypatch):
    x = random_matrix()
    model = fit(x)
    expected = model.fold_in(x)
    # A budget of one cell per factor pair makes every non-empty row "heavy".
    monkeypatch.setattr("recsys.recommenders.als._FOLD_IN_CELLS", 1)
    np.testing.assert_allclose(model.fold_in(x), expected, rtol=1e-4, atol=1e-6)
    empty = sp.csr_matrix((2, 30), dtype=np.float32)
    np.testing.assert_array_equal(model.fold_in(empty), 0)
    assert model.fold_in(empty[:0]).shape == (0, 6)


def test_unknown_users_are_folded_in():
    x = checkerboard()
    model = ALSRecommender(factors=2, iterations=10, num_threads=1).fit(x, show_progress=False)
    # Users -1 and 999 are not in the model: their rows (a group-0 and a group-1 user's
    # history) decide their recommendations.
    ids, _ = model.recommend([-1, 999], x[[0, 39]], k=3)
    assert (group_of_item(ids[0]) == 0).all() and (group_of_item(ids[1]) == 1).all()
    known, _ = model.recommend([0, 39], x[[0, 39]], k=3)
    np.testing.assert_array_equal(ids, known)


def test_bad_input_and_params():
    with pytest.raises(ConfigError, match="factors"):
        ALSRecommender(factors=0)
    with pytest.raises(ValueError, match="empty"):
        ALSRecommender().fit(sp.csr_matrix((0, 3), dtype=np.float32))
    bad = random_matrix()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ALSRecommender().fit(bad)
    with pytest.raises(NotFittedError):
        ALSRecommender().fold_in(random_matrix())
    with pytest.raises(ValueError, match="columns"):
        fit(random_matrix()).fold_in(random_matrix(shape=(3, 7)))


def test_no_blas_thread_warning_in_a_fresh_process():
    code = (
        "import numpy as np, scipy.sparse as sp\n"
        "from recsys.recommenders.als import ALSRecommender\n"
        "x = sp.random(20, 10, density=0.3, format='csr', dtype=np.float32, random_state=0)\n"
        "ALSRecommender(factors=2, iterations=2).fit(x, show_progress=False)\n"
    )
    run = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", code],
        capture_output=True,
        text=True,
        env={"OPENBLAS_NUM_THREADS": "2", "PATH": ""},
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "OpenBLAS" not in run.stderr
