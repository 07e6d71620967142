from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.candidate_lists import CandidateLists, build_candidate_lists

DAY = 86_400 * 1_000_000


def _log() -> pd.DataFrame:
    # items 0,1 in circle 0; items 2,3 in circle 1; item 3 is a group buy that moves recently.
    rows = [(u, 0, 1 * DAY, 1.0) for u in range(10)]  # old, steady head item
    rows += [(0, 1, 2 * DAY, 1.0)]
    rows += [(u, 2, 3 * DAY, 1.0) for u in range(5)]
    rows += [(u, 3, 29 * DAY, 1.0) for u in range(3)]  # recent burst
    return pd.DataFrame(rows, columns=["user_idx", "item_idx", "ts", "weight"])


def test_lists_per_circle() -> None:
    lists = build_candidate_lists(
        _log(),
        n_items=5,
        item_circle=np.array([0, 0, 1, 1, -1]),
        is_group_buy=np.array([False, False, False, True, True]),
        is_listed=np.array([True, True, True, True, True]),
        n_circles=2,
        trending_days=7,
    )
    assert lists.item_popularity.tolist() == [10, 1, 5, 3, 0]
    assert lists.item_users.tolist() == [10, 1, 5, 3, 0]
    assert lists.popular.get(0)[0].tolist() == [0, 1]
    assert lists.popular.get(1)[0].tolist() == [2, 3]
    assert lists.trending.get(1)[0][0] == 3  # the recent burst beats the bigger, older item
    assert lists.group_buy.get(0)[0].tolist() == []
    assert lists.group_buy.get(1)[0].tolist() == [3]  # item 4 has no circle
    back = CandidateLists.from_arrays(lists.to_arrays())
    assert back.popular.get(1)[0].tolist() == [2, 3]


def test_delisted_items_are_not_candidates() -> None:
    lists = build_candidate_lists(
        _log(),
        n_items=5,
        item_circle=np.array([0, 0, 1, 1, -1]),
        is_group_buy=np.zeros(5, bool),
        is_listed=np.array([False, True, True, True, True]),
        n_circles=2,
        per_circle=1,
    )
    assert lists.popular.get(0)[0].tolist() == [1]
    assert lists.popular.get(1)[0].tolist() == [2]
