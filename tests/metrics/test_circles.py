"""Circle placement metrics on hand-computed cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from recsys.metrics import circles as cm
from recsys.metrics.circles import (
    brier_score,
    expected_calibration_error,
    macro_f1,
    micro_f1,
    ndcg_over_circles,
    per_circle_precision_recall,
    placement_report,
)

# 3 users x 3 circles. Circle 0: tp=2, fp=0, fn=0. Circle 1: tp=1, fp=1, fn=1.
# Circle 2: no true members, predicted once (fp=1).
TRUTH = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 0]], dtype=bool)
PRED = np.array([[1, 1, 0], [1, 1, 1], [0, 0, 0]], dtype=bool)


def test_micro_f1_pools_cells() -> None:
    # tp = 3, fp = 2, fn = 1 -> 6 / (6 + 2 + 1)
    assert micro_f1(PRED, TRUTH) == pytest.approx(6 / 9)


def test_micro_f1_nothing_to_find_nothing_predicted_is_perfect() -> None:
    empty = np.zeros((2, 3), bool)
    assert micro_f1(empty, empty) == 1.0


def test_per_circle_precision_recall() -> None:
    precision, recall, f1, support = per_circle_precision_recall(PRED, TRUTH)
    np.testing.assert_allclose(precision, [1.0, 0.5, 0.0])
    np.testing.assert_allclose(recall[:2], [1.0, 0.5])
    np.testing.assert_allclose(f1[:2], [1.0, 0.5])
    assert np.isnan(recall[2]) and np.isnan(f1[2])
    np.testing.assert_array_equal(support, [2, 2, 0])


def test_precision_undefined_when_never_predicted() -> None:
    truth = np.array([[1, 0], [0, 1]], bool)
    pred = np.array([[1, 0], [0, 0]], bool)
    precision, recall, f1, _ = per_circle_precision_recall(pred, truth)
    assert np.isnan(precision[1])
    assert recall[1] == 0.0 and f1[1] == 0.0


def test_macro_f1_leaves_out_circles_without_members() -> None:
    assert macro_f1(PRED, TRUTH) == pytest.approx((1.0 + 0.5) / 2)
    assert math.isnan(macro_f1(PRED, np.zeros_like(TRUTH)))


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="same shape"):
        micro_f1(PRED, TRUTH[:, :2])


def test_brier_score() -> None:
    proba = np.array([[0.9, 0.2], [0.5, 0.0]])
    truth = np.array([[1, 0], [1, 0]], bool)
    # (0.01 + 0.04 + 0.25 + 0) / 4
    assert brier_score(proba, truth) == pytest.approx(0.075)


def test_expected_calibration_error_by_hand() -> None:
    proba = np.array([[0.1, 0.1, 0.9, 0.9]])
    truth = np.array([[0, 1, 1, 1]], bool)
    # bin [0, .5): mean p .1, rate .5 -> |.4| * 2/4; bin [.5, 1]: mean p .9, rate 1 -> .1 * 2/4
    assert expected_calibration_error(proba, truth, n_bins=2) == pytest.approx(0.25)
    # Probability 1.0 lands in the last bin, not past it.
    assert expected_calibration_error(np.ones((1, 2)), np.ones((1, 2), bool)) == 0.0


def test_chunked_metrics_equal_unchunked(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    proba = rng.random((50, 4))
    truth = rng.random((50, 4)) < proba
    weights = rng.random((50, 4)) * truth
    whole = (
        brier_score(proba, truth),
        expected_calibration_error(proba, truth),
        ndcg_over_circles(proba, weights),
    )
    monkeypatch.setattr(cm, "_CHUNK_CELLS", 7)
    chunked = (
        brier_score(proba, truth),
        expected_calibration_error(proba, truth),
        ndcg_over_circles(proba, weights),
    )
    np.testing.assert_allclose(chunked, whole)


def test_ndcg_over_circles_by_hand() -> None:
    weights = np.array([[0.0, 0.6, 0.4], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])
    affinity = np.array([[0.9, 0.1, 0.5], [0.2, 0.2, 0.2], [0.3, 0.2, 0.1]])
    # User 0 ranks circles 0, 2, 1: dcg = 0 + .4/log2(3) + .6/2; ideal = .6 + .4/log2(3).
    user0 = (0.4 / np.log2(3) + 0.3) / (0.6 + 0.4 / np.log2(3))
    # User 1 ties everywhere -> circle order 0, 1, 2 = ideal. User 2 has no weight: left out.
    assert ndcg_over_circles(affinity, weights) == pytest.approx((user0 + 1.0) / 2)
    # @1: user 0 puts a zero-weight circle first.
    assert ndcg_over_circles(affinity, weights, k=1) == pytest.approx((0.0 + 1.0) / 2)
    assert ndcg_over_circles(weights, weights) == pytest.approx(1.0)


def test_placement_report_is_json_and_splits_subsets() -> None:
    proba = PRED * 0.8 + 0.1
    weights = TRUTH * 0.5
    mask = np.array([False, True, True])
    report = placement_report(
        PRED, proba, TRUTH, weights, ["a", "b", "c"], subset_masks={"no_ugc": mask}
    )
    json.dumps(report, allow_nan=False)
    assert report["circle_ids"] == ["a", "b", "c"]
    everyone = report["subsets"]["all"]
    assert everyone["n_users"] == 3
    assert everyone["micro_f1"] == pytest.approx(6 / 9)
    assert everyone["per_circle"]["b"] == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "support": 2,
    }
    assert everyone["per_circle"]["c"]["f1"] is None
    assert everyone["mean_members_pred"] == pytest.approx(5 / 3)
    sub = report["subsets"]["no_ugc"]
    assert sub["n_users"] == 2
    # Users 1 and 2: circle 0 tp=1; circle 1 tp=0 fp=1 fn=1; circle 2 fp=1 -> 2/(2+2+1).
    assert sub["micro_f1"] == pytest.approx(2 / 5)


def test_placement_report_checks_circle_ids() -> None:
    with pytest.raises(ValueError, match="circle ids"):
        placement_report(PRED, PRED * 1.0, TRUTH, TRUTH * 1.0, ["a", "b"])
