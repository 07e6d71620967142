"""The back-tested reach curve and the quality measures on a hand-made back-test."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.bundle.parts.backtest import Backtest
from recsys.segments.quality import TargetSpec, average_precision, bootstrap_mean, measure
from recsys.segments.reach import (
    backtest_reach,
    curve_sizes,
    positive_ranks,
    sampled_positive_ranks,
)
from recsys.segments.request import TargetKind
from recsys.segments.scope import Resolved
from recsys.segments.scorer import SegmentScorer

N_USERS, N_ITEMS = 1000, 4
DAY = 86_400_000_000


def world(n_after_buyers: int = 60, n_users: int = N_USERS) -> Backtest:
    """User u's vector is (u / N, 1): users with a higher index score higher for item 0 = (1, 0).
    The `n_after_buyers` highest-index users, but every second one, bought item 0 after the cut;
    users 0-9 bought it before."""
    users = np.stack([np.arange(n_users) / n_users, np.ones(n_users)], axis=1).astype(np.float32)
    users[5] = 0  # no vector
    items = np.array([[1, 0], [0, 1], [1, 1], [-1, 0]], dtype=np.float32)
    after_rows = np.arange(n_users - 2 * n_after_buyers, n_users, 2)
    after = sp.csr_matrix(
        (np.ones(len(after_rows), np.float32), (after_rows, np.zeros(len(after_rows)))),
        shape=(n_users, N_ITEMS),
    )
    before_rows = np.arange(10)
    before = sp.csr_matrix(
        (np.ones(10, np.float32), (before_rows, np.zeros(10))), shape=(n_users, N_ITEMS)
    )
    return Backtest(
        cut_ts=100 * DAY,
        end_ts=130 * DAY,
        user_vectors=users,
        item_vectors=items,
        item_users=np.array([10, 5, 5, 5]),
        user_events=np.arange(n_users, dtype=np.float32)[::-1].copy(),  # most active: low index
        recent_events=np.zeros(n_users, np.float32),
        bought_before=before,
        bought_after=after,
    )


def reach_of(bt: Backtest, **kwargs):
    resolved = Resolved(
        TargetKind.ITEM,
        items=np.array([0]),
        item_weights=np.ones(1),
        truth_items=np.array([0]),
        exclude_items=np.array([0]),
    )
    defaults = dict(
        exclude_buyers=False,
        size=100,
        members=np.ones((bt.user_vectors.shape[0], 1), bool),
        sizes=(10, 100, 1000),
        min_buyers=20,
    )
    scorer = SegmentScorer().fit(bt.user_vectors, bt.item_vectors)
    return backtest_reach(bt, scorer, resolved, **{**defaults, **kwargs})


def test_the_curve_counts_later_buyers_at_each_size() -> None:
    reach = reach_of(world(60))
    sizes = [p.size for p in reach.curve]
    assert sizes == [10, 100, 999]  # 999 users have a vector: the last point is everyone
    top10, top100, everyone = reach.curve
    assert (top10.buyers, top100.buyers, everyone.buyers) == (5, 50, 60)
    assert top100.precision == pytest.approx(0.5) and top100.recall == pytest.approx(50 / 60)
    assert reach.expected_buyers == 50 and reach.days == 30.0 and reach.reason is None


def test_too_few_buyers_give_a_reason_not_a_curve() -> None:
    reach = reach_of(world(19))
    assert reach.curve == () and reach.expected_buyers is None
    assert "fewer than 20 buyers" in reach.reason and "19" not in reach.reason


def test_no_backtest_part_is_said() -> None:
    resolved = Resolved(TargetKind.ITEM, items=np.array([0]), truth_items=np.array([0]))
    reach = backtest_reach(None, None, resolved, exclude_buyers=False, size=10,
                           members=np.ones((1, 1), bool), sizes=(10,), min_buyers=20)  # fmt: skip
    assert reach.curve == () and "no back-test" in reach.reason


def test_ranks_never_flatter_ties_unless_broken_at_random() -> None:
    scores = np.array([1.0, 1.0, 1.0, 0.5, -np.inf])
    assert positive_ranks(scores, np.array([0])).tolist() == [2]
    assert positive_ranks(scores, np.array([3, 4])).tolist() == [3]
    drawn = {int(positive_ranks(scores, np.array([0]), np.random.default_rng(s))[0])
             for s in range(20)}  # fmt: skip
    assert drawn == {0, 1, 2}
    assert curve_sizes((10, 100, 1000), 500, 250) == [10, 100, 250, 500]


def test_average_precision_by_hand() -> None:
    # positives at ranks 0 and 2 of 3 positives: (1/1 + 2/3) / 3
    assert average_precision(np.array([0, 2]), 3) == pytest.approx((1 + 2 / 3) / 3)
    lo, hi = bootstrap_mean(np.array([0.1, 0.2, 0.3, 0.4]))
    assert 0.1 <= lo < 0.25 < hi <= 0.4


def test_measure_compares_the_segment_with_the_rules() -> None:
    bt = world(60)
    scorer = SegmentScorer().fit(bt.user_vectors, bt.item_vectors)
    target = TargetSpec("item", "0", np.array([0]))
    category = np.zeros(N_ITEMS, np.int32)
    circle = np.zeros(N_ITEMS, np.int32)
    off = measure(bt, scorer, target, category, circle, exclude_buyers=False, k=100)
    assert off["segment"]["precision"] == pytest.approx(0.5)  # every second user of the top 100
    assert off["most_active"]["precision"] == 0.0  # the most active are the low indices
    assert off["segment"]["ap"] > off["rule"]["ap"] and off["segment"]["positives"] == 60
    on = measure(bt, scorer, target, category, circle, exclude_buyers=True, k=100)
    assert on["rule"]["positives"] == 60  # users 0-9 bought before and did not buy after


def test_a_sampled_curve_estimates_the_counted_one() -> None:
    """Above `sample` other users the curve is estimated from a seeded sample; where the counts
    are known it lands within a few standard errors of them, and says it is an estimate."""
    bt = world(2000, n_users=50_000)  # buyers: every other user of the best 4,000
    sizes = {"sizes": (1000, 3000, 10_000), "size": 2000}
    counted = reach_of(bt, **sizes)
    estimated = reach_of(bt, sample=3000, **sizes)
    assert counted.sampled is None and 2500 <= estimated.sampled <= 3500
    assert [p.size for p in estimated.curve] == [p.size for p in counted.curve]
    for est, exact in zip(estimated.curve, counted.curve, strict=True):
        assert abs(est.buyers - exact.buyers) <= max(5, 0.15 * exact.buyers), (est, exact)
    assert abs(estimated.expected_buyers - counted.expected_buyers) <= 0.15 * 1000
    assert reach_of(bt, sample=3000, **sizes) == estimated  # seeded: the same answer twice
    assert reach_of(bt, sample=10_000, **sizes) == counted  # under 10x the sample: counted


def test_sampled_ranks_count_ties_against_the_positive() -> None:
    # Positives 3.0 and 1.0; the sample (each standing for 10 users) has 2.0, 1.0, 0.0.
    ranks = sampled_positive_ranks(np.array([3.0, 1.0, -np.inf]), np.array([2.0, 1.0, 0.0]), 10)
    assert ranks.tolist() == [0.0, 21.0]
