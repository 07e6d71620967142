"""Hand-computed cases for every ranking metric."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.item_stats import head_mask
from recsys.metrics import ranking as m


def _rel(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.array([i for r in rows for i in r], dtype=np.int64)
    return sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(rows), n_items))


# user 0: relevant {1, 3}; list [1, 2, 3] -> hits at ranks 1 and 3
# user 1: relevant {0};    list [2, 0, -1] -> hit at rank 2
# user 2: relevant {4, 5, 6, 7}; list [4, 9, 8] -> hit at rank 1
# user 3: no relevant items -> excluded from every mean
REC = np.array([[1, 2, 3], [2, 0, -1], [4, 9, 8], [1, 2, 3]], dtype=np.int64)
REL = _rel([[1, 3], [0], [4, 5, 6, 7], []], 10)


def test_hits_ignore_padding_and_other_users() -> None:
    # -1 padding must not match user 0's item 9 through the flat (user, item) key.
    rec = np.array([[0, -1], [-1, -1]], dtype=np.int64)
    rel = _rel([[1], [9]], 10)
    hits, n_rel = m.relevance_hits(rec, rel)
    assert not hits.any()
    np.testing.assert_array_equal(n_rel, [1, 1])


def test_a_repeated_id_is_a_hit_once() -> None:
    rel = _rel([[1], [1, 2]], 5)
    rec = np.array([[1, 1, 1], [3, 2, 2]], dtype=np.int64)
    hits, _ = m.relevance_hits(rec, rel)
    np.testing.assert_array_equal(hits, [[True, False, False], [False, True, False]])
    assert m.recall_at_k(rec[:1], rel[:1]) == pytest.approx(1.0)  # not 3
    d = 1 / np.log2(np.arange(2, 5))
    assert m.ndcg_at_k(rec, rel) == pytest.approx((1.0 + d[1] / (d[0] + d[1])) / 2)
    assert m.map_at_k(rec[1:], rel[1:]) == pytest.approx((1 / 2) / 2)


def test_recall_uses_min_k_relevant() -> None:
    # user0 2/min(3,2)=1, user1 1/1=1, user2 1/min(3,4)=1/3
    assert m.recall_at_k(REC, REL) == pytest.approx((1 + 1 + 1 / 3) / 3)
    # at k=1: user0 1/1, user1 0/1, user2 1/1
    assert m.recall_at_k(REC, REL, k=1) == pytest.approx(2 / 3)


def test_ndcg_binary_gains() -> None:
    d = 1 / np.log2(np.arange(2, 5))
    u0 = (d[0] + d[2]) / (d[0] + d[1])
    u1 = d[1] / d[0]
    u2 = d[0] / (d[0] + d[1] + d[2])
    assert m.ndcg_at_k(REC, REL) == pytest.approx((u0 + u1 + u2) / 3)


def test_map_normalised_by_min_k_relevant() -> None:
    u0 = (1 / 1 + 2 / 3) / 2
    u1 = (1 / 2) / 1
    u2 = 1 / 3
    assert m.map_at_k(REC, REL) == pytest.approx((u0 + u1 + u2) / 3)


def test_hit_rate_and_mrr() -> None:
    assert m.hit_rate_at_k(REC, REL) == pytest.approx(1.0)
    assert m.mrr_at_k(REC, REL) == pytest.approx((1 + 0.5 + 1) / 3)
    assert m.hit_rate_at_k(REC, REL, k=1) == pytest.approx(2 / 3)
    assert m.mrr_at_k(REC, REL, k=1) == pytest.approx(2 / 3)


def test_perfect_list_scores_one() -> None:
    rec = np.array([[5, 6]], dtype=np.int64)
    rel = _rel([[5, 6, 7]], 8)
    for fn in (m.recall_at_k, m.ndcg_at_k, m.map_at_k, m.hit_rate_at_k, m.mrr_at_k):
        assert fn(rec, rel) == pytest.approx(1.0)


def test_dense_relevant_accepted() -> None:
    assert m.recall_at_k(REC, REL.toarray() > 0) == pytest.approx(m.recall_at_k(REC, REL))


def test_no_relevant_users_raises() -> None:
    with pytest.raises(ValueError, match="no user has a relevant item"):
        m.recall_at_k(REC[:1], _rel([[]], 10))


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="rows"):
        m.ndcg_at_k(REC[:2], REL)
    with pytest.raises(ValueError, match="k must be"):
        m.ndcg_at_k(REC, REL, k=4)


def test_per_user_nan_for_users_without_relevant() -> None:
    hits, n_rel = m.relevance_hits(REC, REL)
    per_user = m.accuracy_per_user(hits, n_rel, 3)
    assert np.isnan(per_user["recall"][3])
    assert set(per_user) == set(m.ACCURACY_METRICS)


def test_exposure_coverage_gini() -> None:
    exposure = m.exposure_counts(REC, 10)
    np.testing.assert_array_equal(exposure, [1, 2, 3, 2, 1, 0, 0, 0, 1, 1])
    assert m.catalog_coverage(exposure) == pytest.approx(7 / 10)
    assert m.gini_exposure(np.ones(5)) == pytest.approx(0.0)
    # all exposure on one of n items -> (n - 1) / n
    assert m.gini_exposure(np.array([0, 0, 0, 7])) == pytest.approx(3 / 4)
    # x = [1, 2, 3]: 2*(1+4+9)/(3*6) - 4/3 = 2/9
    assert m.gini_exposure(np.array([3, 1, 2])) == pytest.approx(2 / 9)


def test_long_tail_share_over_the_one_head_definition() -> None:
    pop = np.array([1, 8, 1, 0])  # item 1 alone makes 80%
    np.testing.assert_array_equal(head_mask(pop), [False, True, False, False])
    pop2 = np.array([5, 3, 2])  # 50% < 80% -> need items 0 and 1 (80%)
    np.testing.assert_array_equal(head_mask(pop2), [True, True, False])
    exposure = np.array([2, 1, 1, 0])
    assert m.long_tail_share(exposure, head_mask(pop)) == pytest.approx(3 / 4)


def test_novelty_is_mean_self_information() -> None:
    pop = np.array([50, 25, 0])
    exposure = np.array([1, 3, 0])
    # item0: -log2(0.5) = 1 bit; item1: -log2(0.25) = 2 bits
    assert m.novelty(exposure, pop, n_users=100) == pytest.approx((1 + 3 * 2) / 4)
    # never-seen items count as seen once: -log2(1/100)
    assert m.novelty(np.array([0, 0, 1]), pop, 100) == pytest.approx(np.log2(100))


# -- paired bootstrap -------------------------------------------------------------------


def test_paired_bootstrap_constant_difference_is_exact():
    a = np.array([0.5, 0.2, 0.9, 0.0])
    mean, low, high = m.paired_bootstrap(a + 0.1, a, n_resamples=50)
    assert mean == pytest.approx(0.1) and low == pytest.approx(0.1) and high == pytest.approx(0.1)


def test_paired_bootstrap_interval_by_hand():
    # Differences +1 and -1 in equal numbers: mean 0, sd 1, so the 95% interval of the mean
    # is about +-1.96 / sqrt(n) = +-0.0438 at n = 2000.
    b = np.zeros(2000)
    a = np.where(np.arange(2000) % 2 == 0, 1.0, -1.0)
    mean, low, high = m.paired_bootstrap(a, b, n_resamples=1000, seed=1)
    assert mean == 0.0
    assert low == pytest.approx(-0.0438, abs=0.006) and high == pytest.approx(0.0438, abs=0.006)
    # Every user better: the interval lies above zero; NaN users are dropped from both.
    better = np.r_[np.full(50, 0.3), np.nan]
    mean, low, high = m.paired_bootstrap(better, np.r_[np.full(50, 0.1), 0.5])
    assert mean == pytest.approx(0.2) and low > 0


def test_paired_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        m.paired_bootstrap(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="level"):
        m.paired_bootstrap(np.zeros(3), np.zeros(3), level=1.0)
    with pytest.raises(ValueError, match="no user"):
        m.paired_bootstrap(np.array([np.nan]), np.array([1.0]))
