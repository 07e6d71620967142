"""The plain rule, the activity bands, the no-posts threshold and count matching."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.placement import CirclePlacer
from recsys.placement.decision import count_matching_threshold, select_members
from recsys.placement.plain_rule import (
    BAND_NAMES,
    activity_band,
    choose_share_threshold,
    placement_subsets,
    plain_rule_members,
)
from tests.placement.synthetic import make_problem


def test_plain_rule_is_a_share_of_item_events() -> None:
    items = sp.csr_matrix(np.array([[17, 3, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]]))
    # 3/20 = 0.15 passes (at least), 0.25 each passes, no events -> no circle.
    np.testing.assert_array_equal(
        plain_rule_members(items),
        [[True, True, False, False], [True, True, True, True], [False, False, False, False]],
    )


def test_bands_and_subsets() -> None:
    np.testing.assert_array_equal(activity_band(np.array([0, 4, 5, 19, 20, 39, 40, 500])),
                                  [0, 0, 1, 1, 2, 2, 3, 3])  # fmt: skip
    eng = {
        "item_events": sp.csr_matrix(np.array([[3, 0], [10, 0], [25, 0], [0, 45]])),
        "posts_written": sp.csr_matrix(np.array([[0, 0], [1, 0], [0, 0], [0, 0]])),
        "posts_engaged": sp.csr_matrix(np.array([[0, 0], [0, 0], [0, 2], [0, 0]])),
    }
    subsets = placement_subsets(eng, np.array([False, True, False, False]))
    np.testing.assert_array_equal(subsets["no_ugc"], [True, False, False, True])
    np.testing.assert_array_equal(subsets["unlabelled"], [True, False, True, True])
    assert [int(subsets[b].argmax()) for b in BAND_NAMES] == [0, 1, 2, 3]


def test_share_threshold_is_chosen_on_held_out_history() -> None:
    rng = np.random.default_rng(0)
    # Two real circles of 10 per user (45% each) plus 10% noise over 18 circles.
    counts = rng.multinomial(4, np.full(20, 0.05), size=500).astype(float)
    real = rng.integers(0, 20, (500, 2))
    for j in range(2):
        counts[np.arange(500), real[:, j]] += 18
    best, scores = choose_share_threshold(sp.csr_matrix(counts), random_state=0)
    assert scores[best] == max(scores.values())
    # Too low a threshold keeps the noise, too high loses the second circle.
    assert scores[best] > scores[0.05] and scores[best] > scores[0.5]
    with pytest.raises(ValueError, match="enough history"):
        choose_share_threshold(sp.csr_matrix(np.eye(3)))


def test_count_matching_threshold_matches_the_expected_count() -> None:
    rng = np.random.default_rng(0)
    proba = rng.beta(0.3, 2.0, size=(2000, 8))
    t = count_matching_threshold(proba)
    members = select_members(proba, np.full(8, t)).sum(axis=1).mean()
    assert members == pytest.approx(proba.sum(axis=1).mean(), abs=0.01)


@pytest.fixture(scope="module")
def problem():
    return make_problem(n_users=1500, seed=3)


def test_expected_member_count(problem) -> None:
    eng, f = problem.engagement, problem.user_factors
    placer = CirclePlacer(random_state=0).fit(eng, f)
    proba = placer.predict_proba(eng, f)
    members = select_members(proba, placer.thresholds_, min_members=1).sum(axis=1).mean()
    assert members == pytest.approx(proba.sum(axis=1).mean(), abs=0.05)
    f1 = CirclePlacer(random_state=0, member_count="f1").fit(eng, f)
    assert f1.thresholds_[0] != placer.thresholds_[0]
