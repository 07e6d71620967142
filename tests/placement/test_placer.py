"""CirclePlacer on a planted synthetic problem: beats the baseline, calibrated, persistent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recsys.errors import BundleError, NotFittedError
from recsys.placement import CirclePlacer, placement_features, ugc_labels
from tests.placement.synthetic import make_problem, run_check


@pytest.fixture(scope="module")
def reports() -> dict[str, dict]:
    return run_check(make_problem(seed=0))


@pytest.fixture(scope="module")
def training() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    problem = make_problem(n_users=1500, seed=1)
    eng = problem.engagement
    Y, labelled = ugc_labels(eng["posts_written"], eng["posts_engaged"])
    return placement_features(problem.user_factors, eng), Y, labelled


@pytest.mark.parametrize("subset", ["all", "no_ugc"])
def test_placer_beats_history_frequency_on_macro_f1(reports: dict, subset: str) -> None:
    placer = reports["placer"]["subsets"][subset]
    baseline = reports["baseline"]["subsets"][subset]
    assert placer["macro_f1"] > baseline["macro_f1"] + 0.005
    assert placer["ndcg"] > baseline["ndcg"]


def test_placer_affinities_are_calibrated(reports: dict) -> None:
    for subset in ("all", "ugc", "no_ugc"):
        placer = reports["placer"]["subsets"][subset]
        assert placer["ece"] < 0.08
        assert placer["brier"] < reports["baseline"]["subsets"][subset]["brier"]


def test_report_is_json(reports: dict) -> None:
    json.dumps(reports, allow_nan=False)
    assert set(reports["placer"]["subsets"]["all"]["per_circle"]) == {f"c{j}" for j in range(8)}


def test_deterministic_with_random_state(training: tuple) -> None:
    X, Y, labelled = training
    a = CirclePlacer(random_state=3).fit(X, Y, labelled).predict_proba(X)
    b = CirclePlacer(random_state=3).fit(X, Y, labelled).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    c = CirclePlacer(random_state=4).fit(X, Y, labelled).predict_proba(X)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic", "none"])
def test_save_load_round_trip(training: tuple, tmp_path: Path, calibration: str) -> None:
    X, Y, labelled = training
    model = CirclePlacer(calibration=calibration, max_members=3).fit(X, Y, labelled)
    model.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl"))
    loaded = CirclePlacer.load(tmp_path)
    assert loaded.get_params() == model.get_params()
    proba = model.predict_proba(X)
    assert proba.dtype == np.float32 and ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)
    members = loaded.predict_members(X)
    np.testing.assert_array_equal(members, model.predict_members(X))
    assert (members.sum(axis=1) >= 1).all() and (members.sum(axis=1) <= 3).all()


def test_batches_equal_whole(training: tuple) -> None:
    X, Y, labelled = training
    model = CirclePlacer(calibration="isotonic").fit(X, Y, labelled)
    np.testing.assert_array_equal(model.predict_proba(X, batch_size=97), model.predict_proba(X))


def test_circle_without_positive_labels_is_constant_zero(training: tuple) -> None:
    X, Y, labelled = training
    Y = Y.copy()
    Y[:, 2] = False
    model = CirclePlacer().fit(X, Y, labelled)
    proba = model.predict_proba(X)
    assert (proba[:, 2] == 0).all()
    assert not model.predict_members(X)[:, 2].any()
    assert proba[:, 0].std() > 0


def test_errors(training: tuple, tmp_path: Path) -> None:
    X, Y, labelled = training
    with pytest.raises(NotFittedError):
        CirclePlacer().predict_proba(X)
    with pytest.raises(ValueError, match="calibration"):
        CirclePlacer(calibration="platt").fit(X, Y, labelled)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="labelled users"):
        CirclePlacer().fit(X, Y, np.zeros(len(X), bool))
    bad = X.copy()
    first = int(np.flatnonzero(labelled)[0])
    bad[first, 0] = np.nan
    with pytest.raises(ValueError, match=f"row {first}"):
        CirclePlacer(calibration_fraction=0.01).fit(bad, Y, labelled)
    model = CirclePlacer().fit(X, Y, labelled)
    with pytest.raises(ValueError, match="X must be"):
        model.predict_proba(X[:, :-1])
    with pytest.raises(BundleError, match="params.json"):
        CirclePlacer.load(tmp_path)
    model.save(tmp_path)
    (tmp_path / "coef.npy").unlink()
    with pytest.raises(BundleError, match="coef.npy"):
        CirclePlacer.load(tmp_path)


def test_non_finite_features_at_predict_name_the_row(training: tuple) -> None:
    X, Y, labelled = training
    model = CirclePlacer().fit(X, Y, labelled)
    bad = X.copy()
    bad[123, 4] = np.inf
    with pytest.raises(ValueError, match="row 123"):
        model.predict_proba(bad, batch_size=100)
