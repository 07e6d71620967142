"""Seeded random search and the tuned-config file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.evaluation import tuning as t


def _train_valid() -> tuple[sp.csr_matrix, sp.csr_matrix]:
    rng = np.random.default_rng(0)
    dense = np.zeros((60, 20), np.float32)
    dense[:30, :10] = rng.random((30, 10)) < 0.5
    dense[30:, 10:] = rng.random((30, 10)) < 0.5
    mask = rng.random(dense.shape) < 0.25
    return sp.csr_matrix(dense * ~mask), sp.csr_matrix(dense * mask)


def test_range_sampling() -> None:
    rng = np.random.default_rng(0)
    draws = [t.Range(1.0, 1000.0, log=True).sample(rng) for _ in range(400)]
    assert min(draws) >= 1.0 and max(draws) <= 1000.0
    assert np.median(draws) < 100  # log-uniform: median near sqrt(1000) ~ 32, not 500
    ints = {t.Range(1, 3, integer=True).sample(rng) for _ in range(50)}
    assert ints <= {1, 2, 3}
    with pytest.raises(ConfigError, match="bad range"):
        t.Range(0.0, 1.0, log=True)


def test_tune_is_seeded_and_picks_the_best_trial() -> None:
    train, valid = _train_valid()
    space = {"l2": t.Range(0.1, 500.0, log=True), "binary": True}
    a = t.tune("ease", space, train, valid, n_trials=4, seed=7)
    b = t.tune("ease", space, train, valid, n_trials=4, seed=7)
    assert [x.params for x in a.trials] == [x.params for x in b.trials]
    assert len(a.trials) == 4
    assert a.best_score == max(x.score for x in a.trials)
    assert a.best_params in [x.params for x in a.trials]
    assert all(x.metrics["ndcg@10"] == x.score for x in a.trials)


def test_discrete_space_stops_when_exhausted() -> None:
    train, valid = _train_valid()
    result = t.tune(
        "popularity", {"weighting": ["count", "weight"]}, train, valid, n_trials=6, seed=0,
        metric="recall@5",
    )
    assert sorted(x.params["weighting"] for x in result.trials) == ["count", "weight"]


def test_bad_names_fail_before_fitting() -> None:
    train, valid = _train_valid()
    with pytest.raises(ConfigError, match="unknown recommender"):
        t.tune("easy", {}, train, valid, n_trials=1, seed=0)
    with pytest.raises(ConfigError, match="metric"):
        t.tune("ease", {}, train, valid, n_trials=1, seed=0, metric="ndcg")


def test_write_tuned_config_merges_tables(tmp_path: Path) -> None:
    train, valid = _train_valid()
    result = t.tune("ease", {"l2": [1.0, 10.0]}, train, valid, n_trials=2, seed=0)
    path = tmp_path / "tuned" / "toy.toml"
    t.write_tuned_config(path, "toy", {"als": {"factors": 32, "alpha": 2.5}})
    t.write_tuned_config(path, "toy", {"ease": result})
    data = tomllib.loads(path.read_text())
    assert data["als"] == {"factors": 32, "alpha": 2.5}
    assert data["ease"] == result.best_params
    assert data["tuning"]["ease"]["n_trials"] == 2
    assert data["tuning"]["ease"]["metric"] == "ndcg@10"
    with pytest.raises(ConfigError, match="cannot write"):
        t.write_tuned_config(path, "toy", {"x": {"bad": [1, 2]}})


def test_trials_fit_quietly_under_one_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    train, valid = _train_valid()
    space = {"factors": [2, 4], "iterations": 3}
    kwargs = {"n_trials": 2, "seed": 0, "fixed_params": {"num_threads": 1}}
    t.tune("als", space, train, valid, show_progress=False, **kwargs)
    assert capsys.readouterr().err == ""  # implicit draws no bar per fit
    t.tune("als", space, train, valid, **kwargs)
    err = capsys.readouterr().err
    assert "tune als" in err and "2/2" in err  # one bar over the trials ...
    assert "3/3" not in err  # ... and none over a fit's 3 iterations
