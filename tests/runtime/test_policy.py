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


def test_circle_chain_weights_circles_by_affinity() -> None:
    affinity = np.array([0.9, 0.3, 0.0])
    items, scores, reasons = circle_chain(np.array([0, 1]), affinity, IDS, LISTS, everything, 6)
    # circle 0 interleaved: 3 (t), 0 (p), 1, 2 -> 0.9, 0.45, 0.3, 0.225; circle 1: 6, 4 -> 0.3..
    assert items.tolist() == [3, 0, 1, 6, 2, 4]
    np.testing.assert_allclose(scores, [0.9, 0.45, 0.3, 0.3, 0.225, 0.15])
    assert reasons[:4] == ["trending_in_circle:c0", "popular_in_circle:c0",
                           "popular_in_circle:c0", "trending_in_circle:c1"]


def test_circle_chain_is_filled_by_the_global_chain_below_its_scores() -> None:
    affinity = np.array([0.0, 0.0, 0.5])
    items, scores, reasons = circle_chain(np.array([2]), affinity, IDS, LISTS, everything, 5)
    assert items.tolist() == [9, 8, 10, 11, 3]
    assert reasons == ["trending_in_circle:c2", "popular_in_circle:c2", "trending", "popular",
                       "trending"]
    assert (np.diff(scores) < 0).all()


def test_an_item_in_two_circles_appears_once_with_its_best_score() -> None:
    shared = CandidateLists(**{**LISTS.__dict__, "popular": _ragged([[5], [5], []]),
                               "trending": _ragged([[], [], []])})
    items, scores, _ = circle_chain(np.array([1, 0]), np.array([0.2, 0.7, 0.0]), IDS, shared,
                                    everything, 3)
    assert items.tolist()[0] == 5 and scores[0] == pytest.approx(0.7)
    assert items.tolist().count(5) == 1
