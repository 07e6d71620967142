"""The who-gets-what policy and its chains, on hand-made candidate lists."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.candidate_lists import CandidateLists, RaggedLists
from recsys.runtime import PolicyStep, RuntimePolicy
from recsys.runtime.policy import choose_step, circle_chain, global_chain, interleave

N_ITEMS = 12


def _ragged(lists: list[list[int]]) -> RaggedLists:
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)
    items = np.array([i for x in lists for i in x], np.int64)
    return RaggedLists(offsets, items, np.ones(len(items), np.float32))


# Circle 0 holds items 0-3, circle 1 items 4-7, circle 2 items 8-9; 10 and 11 are circle-less.
LISTS = CandidateLists(
    item_popularity=np.arange(N_ITEMS, dtype=np.float32),
    item_users=np.ones(N_ITEMS, np.int32),
    is_head=np.zeros(N_ITEMS, bool),
    popular=_ragged([[0, 1, 2], [4, 5], [8]]),
    trending=_ragged([[3, 0], [6, 7, 4], [9]]),
    group_buy=_ragged([[], [], []]),
    popular_all=np.array([11, 10, 0, 4, 1, 8], np.int64),
    trending_all=np.array([10, 3, 6, 9], np.int64),
)
IDS = ["c0", "c1", "c2"]


def everything(items: np.ndarray) -> np.ndarray:
    return np.ones(len(items), bool)


def test_choose_step_is_the_documented_policy() -> None:
    assert choose_step(known=True, has_history=True, placed=True) is PolicyStep.SCORER
    assert choose_step(known=True, has_history=True, placed=False) is PolicyStep.SCORER
    assert choose_step(known=True, has_history=False, placed=True) is PolicyStep.CIRCLE_CHAIN
    assert choose_step(known=True, has_history=False, placed=False) is PolicyStep.GLOBAL_CHAIN
    assert choose_step(known=False, has_history=False, placed=False) is PolicyStep.GLOBAL_CHAIN


def test_policy_defaults_and_validation() -> None:
    policy = RuntimePolicy()
    assert policy.exclude_interacted is True and policy.unknown_user == "global_chain"
    with pytest.raises(ValueError):
        RuntimePolicy(unknown_user="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RuntimePolicy(exclude_purchased=False)  # type: ignore[call-arg]


def test_interleave_alternates_and_drops_repeats() -> None:
    items, source = interleave(np.array([3, 0]), np.array([0, 1, 2]))
    assert items.tolist() == [3, 0, 1, 2]
    assert source.tolist() == [0, 1, 1, 1]  # 0 came first from the second list


def test_global_chain_interleaves_trending_and_popular() -> None:
    items, scores, reasons = global_chain(LISTS, everything, 5)
    # trending 10, popular 11, trending 3, (popular 10 again: dropped), trending 6, popular 0
    assert items.tolist() == [10, 11, 3, 6, 0]
    assert reasons == ["trending", "popular", "trending", "trending", "popular"]
    np.testing.assert_allclose(scores, 1 / np.arange(1, 6))


def test_global_chain_applies_the_keep_rule_and_reads_further() -> None:
    def no_low(items: np.ndarray) -> np.ndarray:
        return items >= 6

    items, _, _ = global_chain(LISTS, no_low, 4)
    assert items.tolist() == [10, 11, 6, 9]


def test_circle_chain_raises_popularity_by_circle_affinity() -> None:
    # popularity = item index (max 11); the items on circle 0's popular and trending lists
    # x (1 + 3 * 0.9), circle 1's x (1 + 3 * 0.3); every other item its plain share.
    affinity = np.array([0.9, 0.3, 0.0])
    items, scores, reasons = circle_chain(
        np.array([0, 1]), affinity, IDS, LISTS, everything, 6, circle_boost=3.0
    )
    assert items.tolist() == [7, 6, 3, 11, 10, 5]
    np.testing.assert_allclose(
        scores, [7 / 11 * 1.9, 6 / 11 * 1.9, 3 / 11 * 3.7, 1.0, 10 / 11, 5 / 11 * 1.9]
    )
    assert reasons == ["trending_in_circle:c1", "trending_in_circle:c1", "trending_in_circle:c0",
                       "popular", "popular", "popular_in_circle:c1"]


def test_a_strong_affinity_lifts_a_circle_above_more_popular_items() -> None:
    affinity = np.array([0.0, 0.0, 0.5])
    items, scores, reasons = circle_chain(np.array([2]), affinity, IDS, LISTS, everything, 5)
    assert items.tolist() == [9, 8, 11, 10, 4]  # 9/11 * (1 + 16 * 0.5) tops 11/11
    assert reasons == ["trending_in_circle:c2", "popular_in_circle:c2", "popular", "popular",
                       "popular"]
    assert (np.diff(scores) < 0).all()
    plain, _, _ = circle_chain(np.array([2]), affinity, IDS, LISTS, everything, 5,
                               circle_boost=0.0)
    assert plain.tolist() == [11, 10, 9, 8, 4]  # no boost: popularity alone


def test_circle_chain_applies_the_keep_rule_and_reads_further() -> None:
    def no_top(items: np.ndarray) -> np.ndarray:
        return ~np.isin(items, [11, 10, 0])

    items, _, _ = circle_chain(np.array([0]), np.array([0.1, 0.0, 0.0]), IDS, LISTS, no_top, 4)
    assert 11 not in items and 10 not in items and 0 not in items
    assert len(items) == 4


def test_an_item_in_two_circles_appears_once_with_its_best_score() -> None:
    shared = CandidateLists(**{**LISTS.__dict__, "popular": _ragged([[5], [5], []]),
                               "trending": _ragged([[], [], []])})
    items, scores, reasons = circle_chain(np.array([1, 0]), np.array([0.2, 0.7, 0.0]), IDS,
                                          shared, everything, 3, circle_boost=1.0)
    assert items.tolist().count(5) == 1
    at = items.tolist().index(5)
    assert scores[at] == pytest.approx(5 / 11 * 1.7) and reasons[at] == "popular_in_circle:c1"
