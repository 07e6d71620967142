"""Scope rules, masks, the floor and the reach answer of `Segmenter.build` on a real bundle."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.errors import (
    InvalidInputError,
    ScopeError,
    SegmentTooSmallError,
    UnknownItemError,
    UnknownUserError,
)
from recsys.segments import Scope, SegmentRequest
from recsys.segments.scope import buyers_of
from tests.segments.conftest import customers, merchant_items

A, B = Scope("m00000"), Scope("m00001")


def request(kind: str, ids: list[str], **extra) -> SegmentRequest:
    return SegmentRequest.model_validate({"target": {"kind": kind, "ids": ids}, **extra})


def item_ids(model, items) -> list[str]:
    return [str(i) for i in model.parts.ids.items.to_ids(np.asarray(items))]


def user_ids(model, users) -> list[str]:
    return [str(u) for u in model.parts.ids.users.to_ids(np.asarray(users))]


def refusal_text(segmenter, req, scope) -> str:
    with pytest.raises(ScopeError) as info:
        segmenter.build(req, scope)
    return str(info.value)


def test_own_items_give_a_ranked_segment_of_ids_and_scores(model, segmenter) -> None:
    own = item_ids(model, merchant_items(model, "m00000")[:3])
    seg = segmenter.build(request("item", own, size=150), A)
    assert len(seg) == 150 and len(set(seg.user_ids.tolist())) == 150
    assert (np.diff(seg.scores) <= 0).all()
    assert seg.model_version == model.version and seg.eligible >= 150


def test_foreign_and_unknown_items_are_refused_with_the_same_words(model, segmenter) -> None:
    own = item_ids(model, merchant_items(model, "m00000")[:1])
    foreign = item_ids(model, merchant_items(model, "m00001")[:1])
    texts = {
        refusal_text(segmenter, request("item", own + foreign), A),
        refusal_text(segmenter, request("item", own + ["no-such-item"]), A),
        refusal_text(segmenter, request("item", foreign), A),
    }
    assert len(texts) == 1
    assert foreign[0] not in texts.pop()
    with pytest.raises(UnknownItemError):  # an admin is told the id is unknown
        segmenter.build(request("item", ["no-such-item"]), Scope())


def test_a_brand_scores_only_the_merchants_own_items_of_it(model, segmenter) -> None:
    cat = model.parts.catalogue
    brands, merchants = cat.strings("brand"), cat.strings("merchant_id")
    shared = next(
        b
        for b in np.unique(brands[merchants == "m00000"].astype(str))
        if len(set(merchants[brands == b])) > 1
    )
    resolved = segmenter.resolve(request("brand", [shared]), A)
    assert set(merchants[resolved.items]) == {"m00000"}
    assert len(resolved.items) < (brands == shared).sum()
    not_a = next(
        b for b in np.unique(brands.astype(str)) if "m00000" not in set(merchants[brands == b])
    )
    assert refusal_text(segmenter, request("brand", [not_a]), A) == refusal_text(
        segmenter, request("brand", ["no-such-brand"]), A
    )


def test_seeds_must_be_the_merchants_customers(model, segmenter) -> None:
    own = merchant_items(model, "m00000")
    mine = customers(model, own)
    only_b = np.setdiff1d(customers(model, merchant_items(model, "m00001")), mine)
    seeds = user_ids(model, mine[:20])
    seg = segmenter.build(request("seed", seeds, size=100), A)
    assert not set(seeds) & set(seg.user_ids.tolist())  # seeds are never their own look-alikes
    assert refusal_text(segmenter, request("seed", seeds[:3] + user_ids(model, only_b[:1])), A) == (
        refusal_text(segmenter, request("seed", seeds[:3] + ["no-such-user"]), A)
    )
    with pytest.raises(UnknownUserError):
        segmenter.build(request("seed", ["no-such-user"]), Scope())


def test_circles_and_categories_are_open_to_every_merchant(model, segmenter) -> None:
    circle = model.catalogue.ids[0]
    category = str(model.parts.catalogue.strings("category")[0])
    for scope in (A, B):
        assert len(segmenter.build(request("circle", [circle], size=120), scope)) == 120
        assert len(segmenter.build(request("category", [category], size=120), scope)) == 120
    with pytest.raises(InvalidInputError, match="unknown categories"):
        segmenter.build(request("category", ["no-such-category"]), A)
    with pytest.raises(InvalidInputError, match="unknown circles"):
        segmenter.build(request("circle", ["no-such-circle"]), A)


def test_exclude_buyers_leaves_out_buyers_of_the_merchants_own_items_only(model, segmenter) -> None:
    cat = model.parts.catalogue
    categories, merchants = cat.strings("category"), cat.strings("merchant_id")
    purchased = model.parts.history.purchased
    best = None
    for c in np.unique(categories.astype(str)):
        own = np.flatnonzero((categories == c) & (merchants == "m00000"))
        other = np.flatnonzero((categories == c) & (merchants != "m00000"))
        if len(own) and len(other):
            own_buyers = np.flatnonzero(buyers_of(purchased, own))
            other_only = np.setdiff1d(np.flatnonzero(buyers_of(purchased, other)), own_buyers)
            if (
                len(own_buyers)
                and len(other_only)
                and (best is None or len(own_buyers) > len(best[1]))
            ):
                best = (c, own_buyers, other_only)
    assert best is not None, "the sample has no category sold by m00000 and others, both bought"
    category, own_buyers, other_only = best
    everyone = request("category", [category], size=500, exclude_buyers=True)
    seg = set(segmenter.build(everyone, A).user_ids.tolist())
    assert not seg & set(user_ids(model, own_buyers))
    ranked = other_only[segmenter.scorer.has_vector()[other_only]]
    assert set(user_ids(model, ranked)) <= seg  # other merchants' buyers stay in
    off = set(segmenter.build(request("category", [category], size=500), A).user_ids.tolist())
    assert set(user_ids(model, own_buyers[segmenter.scorer.has_vector()[own_buyers]])) <= off


def test_the_floor_refuses_small_segments(model, segmenter) -> None:
    own = item_ids(model, merchant_items(model, "m00000")[:2])
    with pytest.raises(SegmentTooSmallError, match="floor of 100"):
        segmenter.build(request("item", own, size=99), A)
    with pytest.raises(SegmentTooSmallError, match="fewer than the floor of 100"):
        segmenter.build(request("item", own, min_score=1e9), A)
    with pytest.raises(SegmentTooSmallError, match="fewer than the floor"):
        segmenter.build(request("item", own, filters={"active_days": 0.001}), A)


def test_filters_are_masks(model, segmenter) -> None:
    members = np.asarray(model.parts.circles.members)
    c = int(members.sum(axis=0).argmax())
    assert members[:, c].sum() >= 100
    target = {"target": {"kind": "circle", "ids": [model.catalogue.ids[0]]}, "min_score": -1e9}
    seg = segmenter.build(
        SegmentRequest.model_validate({**target, "filters": {"circles": [model.catalogue.ids[c]]}}),
        Scope(),
    )
    assert len(seg) == members[:, c].sum() == seg.eligible
    assert members[model.parts.ids.users.to_index(seg.user_ids), c].all()
    activity = model.parts.activity
    last = np.asarray(activity.last_active_ts)
    days = (activity.end_ts - np.median(last)) / 86_400e6
    seg = segmenter.build(
        SegmentRequest.model_validate({**target, "filters": {"active_days": days}}), Scope()
    )
    active = activity.active_since(days)
    assert len(seg) == active.sum() >= 100
    assert active[model.parts.ids.users.to_index(seg.user_ids)].all()


def test_the_answer_says_why_there_is_no_reach_curve(model, segmenter) -> None:
    seg = segmenter.build(request("circle", [model.catalogue.ids[0]], size=100), Scope())
    assert seg.reach.curve == () and "circle targets" in seg.reach.reason
    own = item_ids(model, merchant_items(model, "m00000")[:1])
    seg = segmenter.build(request("item", own, size=100), A)
    assert seg.reach.curve == () and "fewer than 20 buyers" in seg.reach.reason
    assert seg.reach.days == 30.0 and seg.reach.cut is not None


def test_request_validation() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        SegmentRequest.model_validate({"target": {"kind": "shop", "ids": ["x"]}})
    with pytest.raises(ValidationError):
        SegmentRequest.model_validate({"target": {"kind": "item", "ids": []}})
    with pytest.raises(ValidationError):
        SegmentRequest.model_validate({"target": {"kind": "item", "ids": ["a", "a"]}})
    with pytest.raises(ValidationError):
        SegmentRequest.model_validate({"target": {"kind": "item", "ids": ["a"]}, "sise": 3})


def test_the_progress_total_follows_whether_the_reach_curve_is_sampled(model) -> None:
    """`work` counts a second full pass when the reach curve counts everyone (fewer than 10x
    the sample's users) and the sample's rows when it is sampled."""
    from recsys.segments import SegmentConfig, Segmenter

    n = len(model.parts.ids.users)
    req = request("item", item_ids(model, merchant_items(model, "m00000")[:1]))
    counting = Segmenter(model.parts, model.version, SegmentConfig(reach_sample=n // 2))
    sampling = Segmenter(model.parts, model.version, SegmentConfig(reach_sample=n // 20))
    assert counting.work(req) == 2 * n
    assert sampling.work(req) == n + n // 20
    assert Segmenter(model.parts, model.version).work(request("circle", ["beauty"])) == n
