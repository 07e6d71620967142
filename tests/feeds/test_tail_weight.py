"""Picking tail_weight from a curve; the curve measured by hand on tiny candidates."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.feeds.long_tail import Exposure
from recsys.feeds.tail_weight import pick_tail_weight, tail_curve

IS_TAIL = np.array([False, False, True, True])


def test_pick_takes_the_largest_weight_within_the_loss() -> None:
    curve = [
        {"tail_weight": 0.0, "ndcg@10": 0.40},
        {"tail_weight": 0.2, "ndcg@10": 0.39},
        {"tail_weight": 0.4, "ndcg@10": 0.381},  # 4.75% below
        {"tail_weight": 0.6, "ndcg@10": 0.37},   # 7.5% below
        {"tail_weight": 0.8, "ndcg@10": 0.385},  # back within: the largest counts
    ]
    assert pick_tail_weight(curve, max_loss=0.05) == 0.8
    assert pick_tail_weight(curve[:4], max_loss=0.05) == 0.4
    assert pick_tail_weight(curve[:4], max_loss=0.0) == 0.0
    with pytest.raises(InvalidInputError, match="plain point"):
        pick_tail_weight(curve[1:], max_loss=0.05)


def test_curve_measures_ndcg_and_shares_by_hand() -> None:
    # One user: candidates 0 (head), 2 (tail), 1 (head); relevant: item 2.
    ids = np.array([[0, 1, 2]])
    scores = np.array([[3.0, 2.0, 1.0]])
    relevant = sp.csr_matrix(np.array([[0, 0, 1, 0]]))
    gb = np.array([False, False, True, False])
    exposure = Exposure(IS_TAIL, np.array([1.0]), gb, np.array([0.0]))
    curve = tail_curve(ids, scores, relevant, exposure, [0.0, 1.0], k=2)
    plain, full = curve
    assert plain["ndcg@2"] == 0.0 and plain["long_tail_share@2"] == 0.0
    # At weight 1 the tail item (scaled 0 + 1) ties the head item 0 (1) and loses; item 1
    # (scaled 0.5) drops: the page {0, 2} in plain order, the hit at position 2.
    assert full["ndcg@2"] == pytest.approx(1 / np.log2(3))
    assert full["long_tail_share@2"] == pytest.approx(0.5)
    assert full["group_buy_share@2"] == pytest.approx(0.5)
    naive = tail_curve(ids, scores, relevant, Exposure(IS_TAIL, np.array([0.0])), [2.0], k=2,
                       method="naive")[0]
    assert naive["ndcg@2"] == pytest.approx(1.0)
