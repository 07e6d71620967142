"""Tuning the shipped scorer like the baselines (`recsys.evaluation.shipped.tune_shipped`)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.evaluation.shipped import BLEND_WEIGHTS, tune_shipped
from recsys.recipe import with_cf_params
from tests.recommenders.test_shipped import CONFIG, planted_data


@pytest.fixture(scope="module")
def planted() -> tuple[sp.csr_matrix, np.ndarray]:
    return planted_data()


def _split(x: sp.csr_matrix) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    coo = x.tocoo()
    hide = np.random.default_rng(0).random(coo.nnz) < 0.2
    train = sp.csr_matrix((coo.data[~hide], (coo.row[~hide], coo.col[~hide])), shape=x.shape)
    valid = sp.csr_matrix((coo.data[hide], (coo.row[hide], coo.col[hide])), shape=x.shape)
    return train, valid


def test_tune_shipped_is_seeded_and_searches_the_cf_space(planted) -> None:
    x, content = planted
    train, valid = _split(x)
    a = tune_shipped(CONFIG, train, valid, content=content, n_trials=3, seed=5)
    b = tune_shipped(CONFIG, train, valid, content=content, n_trials=3, seed=5)
    assert a.best_params == b.best_params
    # three fits, each scored at every blend weight
    assert len(a.trials) == 3 * len(BLEND_WEIGHTS)
    assert a.best_score == max(t.score for t in a.trials)
    # the first fit is the recipe as given, then draws from the space
    assert a.trials[0].params["factors"] == 6 and a.trials[0].params["item_knn.k"] == 300
    assert [t.params["item_knn.weight"] for t in a.trials[:len(BLEND_WEIGHTS)]] == list(
        BLEND_WEIGHTS)
    drawn = a.trials[len(BLEND_WEIGHTS)].params
    assert drawn["factors"] in (32, 64, 128) and 1e-3 <= drawn["regularization"] <= 10.0
    assert 20 <= drawn["item_knn.k"] <= 1000
    tuned = with_cf_params(CONFIG, a.best_params)  # best params are a valid recipe
    assert tuned.item_knn.weight == a.best_params["item_knn.weight"]


def test_tune_shipped_without_blend_keeps_the_configured_weight(planted) -> None:
    x, _ = planted
    train, valid = _split(x)
    space = {"alpha": [1.0, 2.0]}
    result = tune_shipped(CONFIG, train, valid, space=space, n_trials=4, seed=0,
                          blend_weights=None)
    # the recipe's own alpha first, then the two draws; the space is then exhausted
    assert [t.params["alpha"] for t in result.trials][0] == CONFIG.cf.alpha == 5.0
    assert sorted(t.params["alpha"] for t in result.trials[1:]) == [1.0, 2.0]
    assert {t.params["item_knn.weight"] for t in result.trials} == {0.0}


def test_tune_shipped_fits_quietly_under_one_progress_bar(
    planted, capsys: pytest.CaptureFixture[str]
) -> None:
    x, _ = planted
    train, valid = _split(x)
    kwargs = {"space": {"alpha": [1.0, 2.0]}, "n_trials": 2, "seed": 0, "blend_weights": None}
    tune_shipped(CONFIG, train, valid, show_progress=False, **kwargs)
    assert capsys.readouterr().err == ""  # no bar per ALS fit
    tune_shipped(CONFIG, train, valid, **kwargs)
    err = capsys.readouterr().err
    assert "tune shipped" in err and "2/2" in err and "4/4" not in err  # not ALS's 4 iterations


BLEND = with_cf_params(CONFIG, {"item_knn.weight": 0.4, "item_knn.k": 10})


def test_tune_shipped_fits_candidates_after_the_recipe(planted) -> None:
    x, _ = planted
    train, valid = _split(x)
    result = tune_shipped(BLEND, train, valid, n_trials=2, seed=0, blend_weights=(0.0, 1.0),
                          candidates=[{"factors": 5, "item_knn.k": 4}])
    # weights: the sweep plus the recipe's own 0.4; two fits (recipe, then the candidate)
    assert [t.params["item_knn.weight"] for t in result.trials] == [0.0, 0.4, 1.0] * 2
    assert result.trials[0].params["factors"] == 6 and result.trials[0].params["item_knn.k"] == 10
    cand = result.trials[3].params
    assert (cand["factors"], cand["item_knn.k"], cand["alpha"]) == (5, 4, BLEND.cf.alpha)
