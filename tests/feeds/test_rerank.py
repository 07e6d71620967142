"""Re-rankers on hand-made arrays, and their composition in the configured order."""

from __future__ import annotations

import numpy as np

from recsys.feeds.long_tail import Exposure
from recsys.feeds.rerank import (
    PageContext,
    cap_per_group,
    compose,
    drop_overexposed,
    hard_rules,
)

N_ITEMS = 10
CIRCLE = np.array([0, 0, 0, 0, 1, 1, 2, -1, -1, 0])
MERCHANT = np.array([5, 5, 5, 6, 6, 7, 7, 8, -1, 5])
TAIL = np.array([False] * 5 + [True] * 5)


def _ctx(**kw: object) -> PageContext:
    base = dict(k=4, is_tail=TAIL, circle_of=CIRCLE, merchant_of=MERCHANT,
                shown=np.zeros(N_ITEMS, int), exposure=Exposure(TAIL, np.ones(1)), tail_weight=0.0,
                max_impressions=3, circle_max_share=0.5, merchant_max=2)
    return PageContext(**{**base, **kw})  # type: ignore[arg-type]


def test_hard_rules_drop_excluded_closed_and_already_shown() -> None:
    ids = np.array([0, 1, 2, 3, -1])
    kept = hard_rules(
        ids,
        allowed=np.array([True, False, True, True, True]),
        group_open=np.array([True, True, False, True, True]),
        shown_before=np.array([False, False, False, True, False]),
    )
    assert kept.tolist() == [0]


def test_overexposed_items_go_and_zero_turns_it_off() -> None:
    ids = np.arange(4)
    shown = np.array([0, 3, 5, 2])
    assert drop_overexposed(ids, ids, shown=shown, max_impressions=3).tolist() == [0, 3]
    assert drop_overexposed(ids, ids, shown=shown, max_impressions=0).tolist() == [0, 1, 2, 3]


def test_a_cap_moves_what_is_over_it_behind_the_page() -> None:
    ids = np.array([0, 1, 2, 4, 9, 6, 7])  # circles 0 0 0 1 0 2 -1
    order = cap_per_group(ids, ids, group_of=CIRCLE, cap=2, k=4)
    assert ids[order].tolist() == [0, 1, 4, 6, 2, 9, 7]
    # No circle (-1) is never capped.
    assert cap_per_group(np.array([7, 8, 7]), None, group_of=CIRCLE, cap=1, k=3).tolist() == [
        0, 1, 2]


def test_a_cap_yields_to_a_full_page() -> None:
    ids = np.array([0, 1, 2, 3])  # one circle only
    order = cap_per_group(ids, ids, group_of=CIRCLE, cap=1, k=3)
    assert ids[order].tolist() == [0, 1, 2, 3]


def test_compose_runs_the_chain_in_order_and_carries_impressions() -> None:
    ids = np.array([0, 1, 2, 3, 4, 5, 9])
    scores = np.linspace(1, 0, len(ids))
    shown = np.array([0, 9, 0, 0, 0, 0, 0])  # item 1 was shown too often
    ctx = _ctx(shown=shown, k=4)
    positions = compose(("overexposed", "circle_diversity", "merchant_cap"), ids, scores, ctx)
    page = ids[positions][:4].tolist()
    assert 1 not in ids[positions]
    # Circle 0 (items 0, 2, 3, 9) at most 2 of 4; merchant 5 (items 0, 2, 9) at most 2.
    assert page == [0, 2, 4, 5]
    assert sorted(ids[positions].tolist()) == [0, 2, 3, 4, 5, 9]


def test_long_tail_in_the_chain_follows_tail_weight() -> None:
    ids = np.arange(10)
    scores = np.linspace(1, 0.5, 10)
    plain = compose(("long_tail",), ids, scores, _ctx(tail_weight=0.0))
    assert plain.tolist() == list(range(10))
    mixed = compose(("long_tail",), ids, scores, _ctx(tail_weight=1.0))
    # A bonus of 1 lifts every tail item over every head item (scaled scores are in [0, 1]);
    # behind the page the rest keeps the plain order.
    assert ids[mixed].tolist() == [5, 6, 7, 8, 0, 1, 2, 3, 4, 9]
