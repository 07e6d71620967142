"""CirclePlacer on a planted problem and on pipeline-shaped inputs: beats the baseline,
calibrated, uses friends, deterministic, persistent, refuses bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import BundleError, NotFittedError, RecsysError
from recsys.metrics.circles import macro_f1, ndcg_over_circles
from recsys.placement import (
    CirclePlacer,
    HistoryFrequencyBaseline,
    InsufficientLabelsError,
    history_counts,
    ugc_labels,
)
from recsys.placement.decision import select_members
from recsys.placement.features import n_pair_features
from recsys.placement.switch import user_segments
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
    # This problem's labels (share >= 0.2) are stricter than its truth (weight >= 0.15), which
    # puts an ECE floor of ~0.07 under any model learned from the labels.
    for model in ("placer", "placer_friends"):
        for subset in ("all", "ugc", "no_ugc"):
            placer = reports[model]["subsets"][subset]
            baseline = reports["baseline"]["subsets"][subset]
            assert placer["ece"] < min(0.09, baseline["ece"] / 2)
            assert placer["brier"] < baseline["brier"]


@pytest.mark.parametrize("subset", ["all", "no_ugc"])
def test_friends_improve_the_ranking_of_circles(reports: dict, subset: str) -> None:
    alone = reports["placer"]["subsets"][subset]
    friends = reports["placer_friends"]["subsets"][subset]
    assert friends["ndcg"] > alone["ndcg"] + 0.01
    assert friends["brier"] < alone["brier"]


def test_friends_unrelated_to_interests_do_not_help(small: Problem) -> None:
    eng, f = small.engagement, small.user_factors
    order = np.random.default_rng(0).permutation(len(f))
    shuffled = small.friends[order][:, order]  # same degrees, friends no longer alike
    scores = {}
    for name, graph in (("true", small.friends), ("shuffled", shuffled)):
        proba = CirclePlacer(random_state=0).fit(eng, f, graph).predict_proba(eng, f, graph)
        scores[name] = ndcg_over_circles(proba, small.truth_weights)
    alone = CirclePlacer(random_state=0).fit(eng, f).predict_proba(eng, f)
    assert scores["shuffled"] < ndcg_over_circles(alone, small.truth_weights) + 0.005
    assert scores["true"] > scores["shuffled"] + 0.01


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
    members = placer.members_from_proba(proba, engagement)
    assert proba.shape == (2500, 21) and proba.dtype == np.float32
    # The model places everyone in at least min_members circles; the plain rule (in segments
    # where the model did not clearly win) may place a heavy, spread-out user in none.
    model_members = select_members(proba, placer.thresholds_, min_members=1)
    assert np.isfinite(proba).all() and (model_members.sum(axis=1) >= 1).all()
    rule_users = placer.use_rule_[user_segments(engagement, placer.min_ugc)]
    rule_users &= np.asarray(engagement["item_events"].sum(axis=1)).ravel() > 0
    np.testing.assert_array_equal(members[~rule_users], model_members[~rule_users])
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


@pytest.mark.parametrize("member_count", ["expected", "f1"])
def test_fit_predict_proba_equals_fit_then_predict(small: Problem, member_count: str) -> None:
    """Training takes affinities from `fit_predict_proba` (one pass over the users fewer):
    they must be what `predict_proba` gives after `fit`, and the fit the same."""
    eng, f = small.engagement, small.user_factors
    model = CirclePlacer(random_state=3, member_count=member_count)
    proba = model.fit_predict_proba(eng, f)
    np.testing.assert_array_equal(proba, model.predict_proba(eng, f))
    fitted = CirclePlacer(random_state=3, member_count=member_count).fit(eng, f)
    np.testing.assert_array_equal(fitted.thresholds_, model.thresholds_)
    np.testing.assert_array_equal(fitted.coef_, model.coef_)


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
    # min / max members bound the model's users (the plain rule's segments follow the rule).
    rule_users = model.use_rule_[user_segments(eng, model.min_ugc)]
    rule_users &= np.asarray(eng["item_events"].sum(axis=1)).ravel() > 0
    placed = members[~rule_users].sum(axis=1)
    assert len(placed) and (placed >= 1).all() and (placed <= 3).all()


def test_save_load_with_friends(small: Problem, tmp_path: Path) -> None:
    eng, f, friends = small.engagement, small.user_factors, small.friends
    model = CirclePlacer().fit(eng, f, friends)
    model.save(tmp_path)
    loaded = CirclePlacer.load(tmp_path)
    np.testing.assert_array_equal(
        loaded.predict_proba(eng, f, friends), model.predict_proba(eng, f, friends)
    )
    with pytest.raises(ValueError, match="fitted with them"):
        loaded.predict_proba(eng, f)
    with pytest.raises(ValueError, match="fitted without them"):
        CirclePlacer().fit(eng, f).predict_proba(eng, f, friends)


def test_loads_a_placer_saved_before_lift_and_friends(small: Problem, tmp_path: Path) -> None:
    eng, f = small.engagement, small.user_factors
    model = CirclePlacer().fit(eng, f)
    # What an older placer saved: no lift block (no priors.npy), no "friends" key.
    n_old = n_pair_features(len(model.kinds_), with_cf=True)
    model.coef_, model.priors_ = model.coef_[:n_old], np.empty(0)
    model.save(tmp_path)
    (tmp_path / "priors.npy").unlink()
    meta = json.loads((tmp_path / "params.json").read_text())
    del meta["friends"], meta["params"]["min_labelled"]
    (tmp_path / "params.json").write_text(json.dumps(meta))
    loaded = CirclePlacer.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(eng, f), model.predict_proba(eng, f))


def test_too_few_labelled_users(small: Problem) -> None:
    eng, f = small.engagement, small.user_factors
    no_posts = {**eng, "posts_written": sp.csr_matrix(eng["posts_written"].shape)}
    with pytest.raises(InsufficientLabelsError, match="got 0") as info:
        CirclePlacer().fit(no_posts, f)
    assert isinstance(info.value, RecsysError)
    n_labelled = int((np.asarray(eng["posts_written"].sum(axis=1)).ravel() >= 3).sum())
    with pytest.raises(InsufficientLabelsError, match=f"got {n_labelled}"):
        CirclePlacer(min_labelled=n_labelled + 1).fit(eng, f)
    CirclePlacer(min_labelled=n_labelled).fit(eng, f)


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
