"""The long-tail re-ranker and the naive boost on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.feeds.long_tail import (
    naive_boost,
    rerank_long_tail,
    scaled_scores,
    tail_appetite,
    take,
)

# Items 0-3 head, 4-7 tail.
IS_TAIL = np.array([False] * 4 + [True] * 4)
IDS = np.array([[0, 1, 2, 4, 3, 5, 6, -1]])
SCORES = np.array([[10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, -np.inf]])
# Scaled: 1, 5/6, 4/6, 3/6, 2/6, 1/6, 0.


def test_scaled_scores_span_zero_to_one_and_pad_with_minus_inf() -> None:
    s = scaled_scores(IDS, SCORES)
    assert s[0, 0] == 1.0 and s[0, 6] == 0.0 and s[0, 7] == -np.inf
    assert np.all(scaled_scores([[3, 4]], [[2.0, 2.0]]) == 1.0)


def test_weight_zero_is_the_plain_order() -> None:
    positions = rerank_long_tail(IDS, SCORES, IS_TAIL, 1.0, tail_weight=0.0, k=5)
    assert positions.tolist() == [[0, 1, 2, 3, 4]]


def test_the_bonus_picks_the_page_and_the_plain_order_shows_it() -> None:
    # Bonus 0.5: item 5 (1/6 + 1/2 = 2/3) ties item 2 (2/3) and loses (later); item 6 (0.5)
    # beats item 3 (1/3). Page of 4: items 0, 1, 2, 4 (4 is 1.0, ties 0 and loses).
    positions = rerank_long_tail(IDS, SCORES, IS_TAIL, 1.0, tail_weight=0.5, k=4)
    assert take(IDS, positions).tolist() == [[0, 1, 2, 4]]
    positions = rerank_long_tail(IDS, SCORES, IS_TAIL, 1.0, tail_weight=0.9, k=4)
    # 4: 1.4, 5: 1.07, 6: 0.9 beat 1 (0.83): the page {0, 4, 5, 6}, shown in plain order.
    assert take(IDS, positions).tolist() == [[0, 4, 5, 6]]


def test_it_is_personal_one_batch_two_users() -> None:
    ids = np.vstack([IDS, IDS])
    scores = np.vstack([SCORES, SCORES])
    positions = rerank_long_tail(ids, scores, IS_TAIL, np.array([0.0, 2.0]), tail_weight=0.5,
                                 k=4)
    picked = IS_TAIL[take(ids, positions)]
    assert picked[0].tolist() == [False, False, False, True]  # item 4 is plain top 4
    assert picked[1].sum() == 3


def test_rows_that_run_out_are_padded() -> None:
    positions = rerank_long_tail([[0, 4, -1]], [[1.0, 0.5, -np.inf]], IS_TAIL, 1.0,
                                 tail_weight=0.5, k=3)
    assert positions.tolist() == [[0, 1, -1]]


def test_naive_boost_lifts_every_tail_item_alike_and_puts_it_where_it_lands() -> None:
    order = naive_boost(IDS, SCORES, IS_TAIL, weight=0.5, k=4)
    # Item 4: 0.5 + 0.5 ties item 0 (plain order first); item 5: 1/6 + 1/2 ties item 2
    # (2/3), which the plain order ranked first.
    assert take(IDS, order).tolist() == [[0, 4, 1, 2]]
    assert take(IDS, naive_boost(IDS, SCORES, IS_TAIL, weight=0.0, k=3)).tolist() == [[0, 1, 2]]


def test_appetite_is_relative_to_the_catalogue_and_shrunk() -> None:
    history = sp.csr_matrix(np.array([
        [1.0, 0, 0, 0, 3.0, 0, 0, 0],  # 3 of 4 on the tail
        [0] * 8,                        # no history: the catalogue's mix
        [4.0, 0, 0, 0, 0, 0, 0, 0],     # head only
    ]))
    a = tail_appetite(history, IS_TAIL, prior=0.25, strength=0.0)
    assert a.tolist() == pytest.approx([np.sqrt(3.0), 1.0, 0.0])
    shrunk = tail_appetite(history, IS_TAIL, prior=0.25, strength=4.0)
    assert shrunk[0] == pytest.approx(np.sqrt(((3 + 1) / 8) / 0.25))


def test_bad_knobs_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="tail_weight"):
        rerank_long_tail(IDS, SCORES, IS_TAIL, 1.0, tail_weight=-0.5, k=3)
    with pytest.raises(InvalidInputError, match="one shape"):
        rerank_long_tail(IDS, SCORES[:, :3], IS_TAIL, 1.0, tail_weight=0.5, k=3)
    with pytest.raises(InvalidInputError, match="prior"):
        tail_appetite(sp.csr_matrix((1, 8)), IS_TAIL, prior=0.0, strength=1.0)
