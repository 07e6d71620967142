"""F1-tuned thresholds and the member rule, on hand-made cases."""

from __future__ import annotations

import numpy as np

from recsys.placement.decision import best_f1_thresholds, select_members


def test_best_f1_threshold_by_hand() -> None:
    scores = np.array([[0.9, 0.1], [0.8, 0.1], [0.4, 0.1], [0.3, 0.1]])
    labels = np.array([[1, 0], [1, 0], [0, 0], [1, 0]], bool)
    thresholds = best_f1_thresholds(scores, labels)
    # Keeping top 2 gives F1 .8, top 4 gives .857 (all), top 3 .667 -> keep all: below 0.3.
    # The last user has no lower neighbour: the threshold is its score.
    assert thresholds[0] == 0.3
    # No positives: never by threshold.
    assert thresholds[1] == np.inf


def test_threshold_cuts_between_distinct_scores() -> None:
    scores = np.array([[0.9], [0.7], [0.7], [0.1]])
    labels = np.array([[1], [1], [0], [0]], bool)
    # Top 1: F1 2/3; top 3 (the tie must go together): 2*2/(3+2) = .8 -> midpoint of .7 and .1.
    np.testing.assert_allclose(best_f1_thresholds(scores, labels), [0.4])


def test_select_members_min_and_max() -> None:
    proba = np.array([[0.9, 0.8, 0.7], [0.1, 0.3, 0.2], [0.5, 0.5, 0.1]])
    thresholds = np.array([0.5, 0.5, 0.5])
    got = select_members(proba, thresholds, min_members=1, max_members=2)
    expected = np.array([[1, 1, 0], [0, 1, 0], [1, 1, 0]], bool)
    np.testing.assert_array_equal(got, expected)
    # Circle 2 passes its own low threshold: it goes before the higher, non-passing circle 1.
    got = select_members(proba, np.array([0.95, 0.95, 0.05]), min_members=2)
    np.testing.assert_array_equal(got, [[1, 0, 1], [0, 1, 1], [1, 0, 1]])
    assert not select_members(proba, np.full(3, 2.0), min_members=0).any()
