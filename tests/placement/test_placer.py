"""CirclePlacer on a planted problem and on pipeline-shaped inputs: beats the baseline,
calibrated, deterministic, persistent, refuses bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import BundleError, NotFittedError
from recsys.evaluation.circle_metrics import macro_f1
from recsys.placement import CirclePlacer, HistoryFrequencyBaseline, history_counts, ugc_labels
from tests.placement.synthetic import Problem, make_problem, run_check


@pytest.fixture(scope="module")
def reports() -> dict[str, dict]:
    return run_check(make_problem(seed=0))


@pytest.fixture(scope="module")
def small() -> Problem:
    return make_problem(n_users=1500, seed=1)


@pytest.mark.parametrize("subset", ["all", "no_ugc"])
def test_placer_beats_history_frequency_on_macro_f1(reports: dict, subset: str) -> None:
    placer = reports["placer"]["subsets"][subset]
    baseline = reports["baseline"]["subsets"][subset]
    assert placer["macro_f1"] > baseline["macro_f1"] + 0.02
    assert placer["ndcg"] > baseline["ndcg"]


def test_placer_affinities_are_calibrated(reports: dict) -> None:
    for subset in ("all", "ugc", "no_ugc"):
        placer = reports["placer"]["subsets"][subset]
        assert placer["ece"] < 0.08
        assert placer["brier"] < reports["baseline"]["subsets"][subset]["brier"]


def test_report_is_json(reports: dict) -> None:
    json.dumps(reports, allow_nan=False)
    assert set(reports["placer"]["subsets"]["all"]["per_circle"]) == {f"c{j}" for j in range(8)}


def pipeline_shaped(
    seed: int = 2,
) -> tuple[dict[str, sp.csr_matrix], np.ndarray, Problem, np.ndarray]:
    """As `place_users` gets them: 21 circles, the four float32 CSR kinds, float32 factors,
    few posters, and users with no history at all (factors near zero, as ALS leaves them)."""
    problem = make_problem(n_users=2500, n_circles=21, n_factors=32, poster_rate=0.15, seed=seed)
    silent = np.random.default_rng(seed).random(2500) < 0.1
    keep = sp.diags((~silent).astype(np.float32))
    engagement = {
        k: sp.csr_matrix(keep @ m, dtype=np.float32) for k, m in problem.engagement.items()
    }
    factors = problem.user_factors.copy()
    factors[silent] = 1e-4
    return engagement, factors, problem, silent


def test_pipeline_shaped_inputs() -> None:
    engagement, factors, problem, silent = pipeline_shaped()
    placer = CirclePlacer(random_state=0).fit(engagement, factors)
    proba = placer.predict_proba(engagement, factors, batch_size=700)
    members = placer.members_from_proba(proba)
    assert proba.shape == (2500, 21) and proba.dtype == np.float32
    assert np.isfinite(proba).all() and (members.sum(axis=1) >= 1).all()
    Y, labelled = ugc_labels(engagement["posts_written"], engagement["posts_engaged"])
    history = history_counts(engagement)
    base = HistoryFrequencyBaseline().fit(history, Y, labelled).predict_members(history)
    assert macro_f1(members, problem.truth_members) > macro_f1(base, problem.truth_members)
    assert history[silent].nnz == 0
    # Users without history get the same, prior-like affinities, not all-zero ones.
    assert silent.any() and np.ptp(proba[silent], axis=0).max() < 1e-3
    assert proba[silent].sum(axis=1).min() > 0.5


def test_deterministic_with_random_state(small: Problem) -> None:
    eng, f = small.engagement, small.user_factors
    a = CirclePlacer(random_state=3).fit(eng, f).predict_proba(eng, f)
    b = CirclePlacer(random_state=3).fit(eng, f).predict_proba(eng, f)
    np.testing.assert_array_equal(a, b)
    c = CirclePlacer(random_state=4).fit(eng, f).predict_proba(eng, f)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic", "none"])
def test_save_load_round_trip(small: Problem, tmp_path: Path, calibration: str) -> None:
    eng, f = small.engagement, small.user_factors
    model = CirclePlacer(calibration=calibration, max_members=3).fit(eng, f)
    model.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl"))
    loaded = CirclePlacer.load(tmp_path)
    assert loaded.get_params() == model.get_params()
    proba = model.predict_proba(eng, f)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_array_equal(loaded.predict_proba(eng, f), proba)
    members = loaded.predict_members(eng, f)
    np.testing.assert_array_equal(members, model.predict_members(eng, f))
    assert (members.sum(axis=1) >= 1).all() and (members.sum(axis=1) <= 3).all()


def test_without_factors_and_batches_equal_whole(small: Problem) -> None:
    eng = small.engagement
    model = CirclePlacer(calibration="isotonic").fit(eng)
    np.testing.assert_array_equal(model.predict_proba(eng, batch_size=97), model.predict_proba(eng))


def test_errors(small: Problem, tmp_path: Path) -> None:
    eng, f = small.engagement, small.user_factors
    with pytest.raises(NotFittedError):
        CirclePlacer().predict_proba(eng, f)
    with pytest.raises(ValueError, match="calibration"):
        CirclePlacer(calibration="platt").fit(eng, f)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="labelled users"):
        CirclePlacer(min_ugc=10_000).fit(eng, f)
    with pytest.raises(KeyError, match="posts_written"):
        CirclePlacer().fit({k: v for k, v in eng.items() if k != "posts_written"}, f)
    bad = f.copy()
    bad[7, 0] = np.nan
    with pytest.raises(ValueError, match="row 7"):
        CirclePlacer().fit(eng, bad)
    model = CirclePlacer().fit(eng, f)
    with pytest.raises(ValueError, match="row 7"):
        model.predict_proba(eng, bad)
    with pytest.raises(ValueError, match="user_factors must be"):
        model.predict_proba(eng, None)
    with pytest.raises(BundleError, match="params.json"):
        CirclePlacer.load(tmp_path)
    model.save(tmp_path)
    (tmp_path / "coef.npy").unlink()
    with pytest.raises(BundleError, match="coef.npy"):
        CirclePlacer.load(tmp_path)
