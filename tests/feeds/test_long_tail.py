"""The long-tail re-ranker and the naive boost on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.feeds.long_tail import (
    calibrate_tail,
    naive_boost,
    scaled_scores,
    tail_targets,
    take,
)

# Items 0-3 head, 4-7 tail.
IS_TAIL = np.array([False] * 4 + [True] * 4)
IDS = np.array([[0, 1, 2, 4, 3, 5, 6, -1]])
SCORES = np.array([[10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, -np.inf]])


def test_scaled_scores_span_zero_to_one_and_pad_with_minus_inf() -> None:
    s = scaled_scores(IDS, SCORES)
    assert s[0, 0] == 1.0 and s[0, 6] == 0.0 and s[0, 7] == -np.inf
    assert np.all(scaled_scores([[3, 4]], [[2.0, 2.0]]) == 1.0)


def test_weight_zero_is_the_plain_order() -> None:
    positions = calibrate_tail(IDS, SCORES, IS_TAIL, 0.9, tail_weight=0.0, k=5)
    assert positions.tolist() == [[0, 1, 2, 3, 4]]


def test_full_weight_fills_the_page_to_the_users_mix() -> None:
    # Target 0.5: alternate head and tail, best of each class first.
    positions = calibrate_tail(IDS, SCORES, IS_TAIL, 0.5, tail_weight=1.0, k=6)
    assert take(IDS, positions).tolist() == [[0, 4, 1, 5, 2, 6]]
    # Target 0: a user who never took the tail gets none.
    head_only = calibrate_tail(IDS, SCORES, IS_TAIL, 0.0, tail_weight=1.0, k=4)
    assert take(IDS, head_only).tolist() == [[0, 1, 2, 3]]


def test_it_is_personal_one_batch_two_users() -> None:
    ids = np.vstack([IDS, IDS])
    scores = np.vstack([SCORES, SCORES])
    positions = calibrate_tail(ids, scores, IS_TAIL, np.array([0.0, 0.6]), tail_weight=0.9, k=5)
    picked = IS_TAIL[take(ids, positions)]
    # The first user has 4 head items: the fifth slot can only take the tail.
    assert picked[0].tolist() == [False] * 4 + [True]
    assert picked[1].sum() == 2 and picked[1][0]


def test_rows_that_run_out_are_padded() -> None:
    positions = calibrate_tail([[0, 4, -1]], [[1.0, 0.5, -np.inf]], IS_TAIL, 0.5,
                               tail_weight=0.5, k=3)
    assert positions[0, 2] == -1 and sorted(positions[0, :2]) == [0, 1]


def test_naive_boost_lifts_every_tail_item_alike() -> None:
    order = naive_boost(IDS, SCORES, IS_TAIL, weight=0.5, k=4)
    # Scaled + boost: item 4 0.5 + 0.5 ties item 0 (plain order first); item 5 0.17 + 0.5
    # ties item 2 (0.67), which the plain order ranked first.
    assert take(IDS, order).tolist() == [[0, 4, 1, 2]]
    assert take(IDS, naive_boost(IDS, SCORES, IS_TAIL, weight=0.0, k=3)).tolist() == [[0, 1, 2]]


def test_tail_targets_shrink_towards_the_prior() -> None:
    history = sp.csr_matrix(np.array([
        [1.0, 0, 0, 0, 3.0, 0, 0, 0],  # 3 of 4 on the tail
        [0] * 8,                        # no history: the prior
    ]))
    t = tail_targets(history, IS_TAIL, prior=0.2, strength=0.0)
    assert t[0] == pytest.approx(0.75) and t[1] == pytest.approx(0.2)
    shrunk = tail_targets(history, IS_TAIL, prior=0.2, strength=4.0)
    assert shrunk[0] == pytest.approx((3 + 0.8) / 8)


def test_bad_knobs_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="tail_weight"):
        calibrate_tail(IDS, SCORES, IS_TAIL, 0.2, tail_weight=1.5, k=3)
    with pytest.raises(InvalidInputError, match="one shape"):
        calibrate_tail(IDS, SCORES[:, :3], IS_TAIL, 0.2, tail_weight=0.5, k=3)
