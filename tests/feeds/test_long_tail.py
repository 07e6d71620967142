"""The long-tail re-ranker and the naive boost on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.feeds.long_tail import (
    Exposure,
    ExposurePriors,
    appetite,
    naive_boost,
    rerank_long_tail,
    scaled_scores,
    take,
)

# Items 0-3 head, 4-7 tail.
IS_TAIL = np.array([False] * 4 + [True] * 4)
IDS = np.array([[0, 1, 2, 4, 3, 5, 6, -1]])
SCORES = np.array([[10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, -np.inf]])
# Scaled: 1, 5/6, 4/6, 3/6, 2/6, 1/6, 0.


def _avg(n: int = 1) -> Exposure:
    return Exposure(IS_TAIL, np.ones(n))


def test_scaled_scores_span_zero_to_one_and_pad_with_minus_inf() -> None:
    s = scaled_scores(IDS, SCORES)
    assert s[0, 0] == 1.0 and s[0, 6] == 0.0 and s[0, 7] == -np.inf
    assert np.all(scaled_scores([[3, 4]], [[2.0, 2.0]]) == 1.0)


def test_weight_zero_is_the_plain_order() -> None:
    positions = rerank_long_tail(IDS, SCORES, _avg(), tail_weight=0.0, k=5)
    assert positions.tolist() == [[0, 1, 2, 3, 4]]


def test_the_bonus_picks_the_page_and_the_plain_order_shows_it() -> None:
    # Bonus 0.5: item 5 (1/6 + 1/2 = 2/3) ties item 2 (2/3) and loses (later); item 6 (0.5)
    # loses to item 2. Page of 4: items 0, 1, 2, 4 (4 is 1.0, ties 0 and loses).
    positions = rerank_long_tail(IDS, SCORES, _avg(), tail_weight=0.5, k=4)
    assert take(IDS, positions).tolist() == [[0, 1, 2, 4]]
    positions = rerank_long_tail(IDS, SCORES, _avg(), tail_weight=0.9, k=4)
    # 4: 1.4, 5: 1.07, 6: 0.9 beat 1 (0.83): the page {0, 4, 5, 6}, shown in plain order.
    assert take(IDS, positions).tolist() == [[0, 4, 5, 6]]


def test_it_is_personal_one_batch_two_users() -> None:
    ids = np.vstack([IDS, IDS])
    scores = np.vstack([SCORES, SCORES])
    exposure = Exposure(IS_TAIL, np.array([0.0, 2.0]))
    positions = rerank_long_tail(ids, scores, exposure, tail_weight=0.5, k=4)
    picked = IS_TAIL[take(ids, positions)]
    assert picked[0].tolist() == [False, False, False, True]  # item 4 is plain top 4
    assert picked[1].sum() == 3


def test_group_buys_gain_from_the_users_group_buy_appetite_beyond_the_catalogues() -> None:
    gb = np.zeros(8, bool)
    gb[3] = True  # a head item sold as a group buy (plain position 4)
    none = Exposure(IS_TAIL, np.zeros(1), gb, np.zeros(1))
    average = Exposure(IS_TAIL, np.zeros(1), gb, np.ones(1))
    keen = Exposure(IS_TAIL, np.zeros(1), gb, np.array([3.0]))
    for user in (none, average):
        assert take(IDS, rerank_long_tail(IDS, SCORES, user, tail_weight=0.5, k=3)).tolist() == [
            [0, 1, 2]]
    # Item 3: 2/6 + 0.5 * (3 - 1) = 1.33, the best: on the page, shown at its plain place.
    assert take(IDS, rerank_long_tail(IDS, SCORES, keen, tail_weight=0.5, k=3)).tolist() == [
        [0, 1, 3]]


def test_rows_that_run_out_are_padded() -> None:
    positions = rerank_long_tail([[0, 4, -1]], [[1.0, 0.5, -np.inf]], _avg(), tail_weight=0.5,
                                 k=3)
    assert positions.tolist() == [[0, 1, -1]]


def test_naive_boost_lifts_every_tail_item_alike_and_puts_it_where_it_lands() -> None:
    order = naive_boost(IDS, SCORES, IS_TAIL, weight=0.5, k=4)
    # Item 4: 0.5 + 0.5 ties item 0 (plain order first); item 5: 1/6 + 1/2 ties item 2
    # (2/3), which the plain order ranked first.
    assert take(IDS, order).tolist() == [[0, 4, 1, 2]]
    assert take(IDS, naive_boost(IDS, SCORES, IS_TAIL, weight=0.0, k=3)).tolist() == [[0, 1, 2]]


def test_the_merge_equals_a_full_sort_on_random_rows() -> None:
    rng = np.random.default_rng(0)
    n, m = 50, 40
    tail = rng.random(200) < 0.3
    ids = np.array([rng.choice(200, m, replace=False) for _ in range(n)])
    scores = -np.sort(-rng.random((n, m)), axis=1)
    for w in (0.0, 0.3, 1.0):
        got = naive_boost(ids, scores, tail, weight=w, k=10)
        boosted = scaled_scores(ids, scores) + w * tail[ids]
        want = np.lexsort((np.broadcast_to(np.arange(m), (n, m)), -boosted), axis=1)[:, :10]
        assert (got == want).all()


def test_the_page_is_the_top_k_of_the_bonused_scores_even_out_of_order() -> None:
    # Rows not sorted by score (a cap earlier in the chain moved items), two item classes.
    rng = np.random.default_rng(1)
    n, m, k = 30, 25, 8
    tail, gb = rng.random(100) < 0.3, rng.random(100) < 0.2
    ids = np.array([rng.choice(100, m, replace=False) for _ in range(n)])
    scores = rng.random((n, m))
    exposure = Exposure(tail, rng.random(n) * 2, gb, rng.random(n) * 2)
    bonused = scaled_scores(ids, scores) + 0.4 * (exposure.tail[:, None] * tail[ids]
                                                  + np.maximum(exposure.group_buy - 1, 0)[:, None]
                                                  * gb[ids])
    order = np.lexsort((np.broadcast_to(np.arange(m), (n, m)), -bonused), axis=1)[:, :k]
    got = rerank_long_tail(ids, scores, exposure, tail_weight=0.4, k=k)
    assert (got == np.sort(order, axis=1)).all()


def test_appetite_is_relative_to_the_catalogue_and_shrunk() -> None:
    history = sp.csr_matrix(np.array([
        [1.0, 0, 0, 0, 3.0, 0, 0, 0],  # 3 of 4 on the tail
        [0] * 8,                        # no history: the catalogue's mix
        [4.0, 0, 0, 0, 0, 0, 0, 0],     # head only
    ]))
    a = appetite(history, IS_TAIL, prior=0.25, strength=0.0)
    assert a.tolist() == pytest.approx([np.sqrt(3.0), 1.0, 0.0])
    shrunk = appetite(history, IS_TAIL, prior=0.25, strength=4.0)
    assert shrunk[0] == pytest.approx(np.sqrt(((3 + 1) / 8) / 0.25))
    assert appetite(history, IS_TAIL, prior=0.0, strength=1.0).tolist() == [0, 0, 0]
    priors = ExposurePriors.from_popularity(np.array([3, 3, 1, 1, 1, 0, 0, 1.0]), IS_TAIL,
                                            None, strength=0.0)
    assert priors.tail_prior == pytest.approx(0.2) and priors.is_group_buy is None
    assert priors.for_users(history).tail[0] == pytest.approx(np.sqrt(0.75 / 0.2))


def test_bad_knobs_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="tail_weight"):
        rerank_long_tail(IDS, SCORES, _avg(), tail_weight=-0.5, k=3)
    with pytest.raises(InvalidInputError, match="one shape"):
        rerank_long_tail(IDS, SCORES[:, :3], _avg(), tail_weight=0.5, k=3)
    with pytest.raises(InvalidInputError, match="prior"):
        appetite(sp.csr_matrix((1, 8)), IS_TAIL, prior=1.5, strength=1.0)
