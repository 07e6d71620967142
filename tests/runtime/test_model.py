"""RuntimeModel on a small trained bundle: the policy, the exclusion rule, reasons, threads."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from recsys.bundle.layout import csr_row
from recsys.errors import BundleError, ContractError, UnknownItemError, UnknownUserError
from recsys.runtime import (
    ExclusionRule,
    PolicyStep,
    Recommendations,
    RuntimeModel,
    RuntimePolicy,
)
from recsys.runtime.reasons import ReasonCode, parse_reason
from tests.runtime.conftest import history_sizes, user_ids


def _indices(model: RuntimeModel, answer: Recommendations) -> np.ndarray:
    return model.parts.ids.items.to_index([i.item_id for i in answer.items])


def _warm(model: RuntimeModel, n: int = 30) -> list[str]:
    return user_ids(model, np.flatnonzero(history_sizes(model) >= 3)[:n])


def _cold(model: RuntimeModel) -> list[str]:
    return user_ids(model, np.flatnonzero(history_sizes(model) == 0))


def test_the_sample_has_warm_and_cold_users(model) -> None:
    assert len(_warm(model)) == 30
    assert len(_cold(model)) >= 5, "the synthetic sample has users without item history"


@pytest.mark.parametrize("ranked", [True, False], ids=["ranked", "scorer"])
def test_a_warm_user_gets_the_policys_model_under_the_exclusion_rule(model, ranked) -> None:
    """Known users with history: the bundle's ranked part, or with the policy's `ranked` off
    the shipped scorer, each over the user's history row under the one exclusion rule."""
    parts = model.parts
    served = RuntimeModel(parts, model.version, RuntimePolicy(ranked=ranked))
    scorer = parts.ranked.model if ranked else parts.scorer.model
    for user in _warm(model, 10):
        answer = served.recommend(user, 10)
        assert answer.step is (PolicyStep.RANKED if ranked else PolicyStep.SCORER)
        assert answer.model_version == model.version and answer.user_id == user
        u = np.array([parts.ids.users.to_index([user])[0]])
        ids, scores = ExclusionRule().recommend(
            scorer, u, parts.history.interacted[u], 10,
            purchased=parts.history.purchased[u],
            unlisted=np.flatnonzero(~np.asarray(parts.catalogue.listed)),
        )
        np.testing.assert_array_equal(_indices(model, answer), ids[0])
        np.testing.assert_allclose([i.score for i in answer.items], scores[0], rtol=1e-6)
        # the reason names one of the user's own history items
        history = set(parts.ids.items.to_ids(csr_row(parts.history.interacted, u[0])))
        for item in answer.items:
            code, arg = parse_reason(item.reasons[0])
            assert code is ReasonCode.SIMILAR_TO and arg in history


def test_a_cold_user_gets_their_circles_items_not_ties(model) -> None:
    parts = model.parts
    answers = {}
    for user in _cold(model):
        answer = model.recommend(user, 10)
        assert answer.step is PolicyStep.CIRCLE_CHAIN
        assert len(answer.items) == 10
        scores = [i.score for i in answer.items]
        assert scores == sorted(scores, reverse=True) and len(set(scores)) > 1
        placed = {c.circle_id for c in model.user_circles(user).circles if c.member}
        for item in answer.items:
            code, circle = parse_reason(item.reasons[0])
            if code in (ReasonCode.TRENDING_IN_CIRCLE, ReasonCode.POPULAR_IN_CIRCLE):
                assert circle in placed
                i = parts.ids.items.to_index([item.item_id])[0]
                c = parts.circles.catalogue.index_of(circle)
                assert parts.catalogue.circle_idx[i] == c  # the item belongs to that circle
        first = min(placed, key=lambda c: -next(
            a.affinity for a in model.user_circles(user).circles if a.circle_id == c))
        answers[user] = (first, tuple(i.item_id for i in answer.items))
    by_circle = {}
    for circle, items in answers.values():
        by_circle.setdefault(circle, set()).add(items)
    assert len(by_circle) >= 2, "cold users of the sample sit in different circles"
    # cold users whose first circles differ get different answers (not everyone's ties)
    tops = [next(iter(v)) for v in by_circle.values()]
    assert len(set(tops)) == len(tops)


def test_an_unknown_id_gets_the_global_chain_never_a_users_row(model) -> None:
    parts = model.parts
    last = str(parts.ids.users.ids[-1])
    answers = [model.recommend(u, 10) for u in ("nobody", "", "-1", last + "x", "u")]
    for answer in answers:
        assert answer.step is PolicyStep.GLOBAL_CHAIN
        assert {parse_reason(i.reasons[0])[0] for i in answer.items} <= {
            ReasonCode.TRENDING, ReasonCode.POPULAR}
    first = [i.item_id for i in answers[0].items]
    assert all([i.item_id for i in a.items] == first for a in answers)
    # the old bug scored an unknown id as the last user: their answer differs
    assert [i.item_id for i in model.recommend(last, 10).items] != first
    top = {int(parts.lists.trending_all[0]), int(parts.lists.popular_all[0])}
    assert set(_indices(model, answers[0])[:2].tolist()) == top

    strict = RuntimeModel(parts, model.version, RuntimePolicy(unknown_user="not_found"))
    with pytest.raises(UnknownUserError, match="nobody"):
        strict.recommend("nobody", 10)
    assert strict.recommend(last, 3).step is model.recommend(last, 3).step


def test_purchases_group_buys_and_delisted_items_are_never_returned(model) -> None:
    parts = model.parts
    # Delist a few items that answers contain, then ask again: they must be gone everywhere.
    users = _warm(model, 20) + _cold(model)[:10] + ["nobody"]
    before = {u: model.recommend(u, 10) for u in users}
    shown = np.unique(np.concatenate([_indices(model, a)[:2] for a in before.values()]))
    listed = np.array(parts.catalogue.listed, dtype=bool)
    listed[shown] = False
    catalogue = dataclasses.replace(parts.catalogue, listed=listed)
    delisted = RuntimeModel(dataclasses.replace(parts, catalogue=catalogue), model.version)
    for u in users:
        for policy_model in (model, delisted):
            answer = policy_model.recommend(u, 10)
            got = _indices(policy_model, answer)
            assert np.asarray(policy_model.parts.catalogue.listed)[got].all()
            row = parts.ids.users.to_index([u])[0]
            if row >= 0:
                assert not np.isin(got, csr_row(parts.history.purchased, row)).any()
    item = parts.ids.items.ids[shown[0]]
    similar = delisted.similar_items(str(parts.ids.items.ids[0]), 50)
    assert item not in {i.item_id for i in similar.items}


def test_interacted_items_are_excluded_by_the_switch(model) -> None:
    """The switch reaches the scorer's users; the ranked recommender's sources propose unseen
    items only, so its users never see an interacted item either way (recsys.runtime.policy)."""
    parts = model.parts
    scorer = RuntimeModel(parts, model.version, RuntimePolicy(ranked=False))
    keep_seen = RuntimeModel(parts, model.version, RuntimePolicy(exclude_interacted=False,
                                                                 ranked=False))
    ranked_loose = RuntimeModel(parts, model.version, RuntimePolicy(exclude_interacted=False))
    seen_again = 0
    for user in _warm(model, 30):
        u = parts.ids.users.to_index([user])[0]
        assert not np.isin(_indices(model, ranked_loose.recommend(user, 20)),
                           csr_row(parts.history.interacted, u)).any()
    model = scorer
    for user in _warm(model, 30):
        u = parts.ids.users.to_index([user])[0]
        interacted = csr_row(parts.history.interacted, u)
        purchased = csr_row(parts.history.purchased, u)
        strict = _indices(model, model.recommend(user, 20))
        loose = _indices(keep_seen, keep_seen.recommend(user, 20))
        assert not np.isin(strict, interacted).any()
        assert not np.isin(loose, purchased).any()  # purchases stay excluded
        seen_again += int(np.isin(loose, interacted).sum())
    assert seen_again > 0, "with the switch off, viewed items come back"


def test_similar_items(model) -> None:
    parts = model.parts
    item = str(parts.ids.items.ids[3])
    answer = model.similar_items(item, 5)
    assert answer.item_id == item and len(answer.items) == 5
    assert item not in {i.item_id for i in answer.items}
    assert all(i.reasons == (f"similar_to:{item}",) for i in answer.items)
    ids, _ = parts.scorer.model.similar_items(
        [3], 5, exclude_items=np.flatnonzero(~np.asarray(parts.catalogue.listed)))
    assert [i.item_id for i in answer.items] == list(parts.ids.items.to_ids(ids[0]))
    with pytest.raises(UnknownItemError, match="no_such_item"):
        model.similar_items("no_such_item", 5)


def test_user_circles(model) -> None:
    user = _cold(model)[0]
    circles = model.user_circles(user)
    assert [c.circle_id for c in circles.circles] != []
    assert len(circles.circles) == len(model.catalogue)
    affinities = [c.affinity for c in circles.circles]
    assert affinities == sorted(affinities, reverse=True)
    assert any(c.member for c in circles.circles)
    with pytest.raises(UnknownUserError):
        model.user_circles("nobody")


def test_every_reason_is_well_formed(model) -> None:
    users = _warm(model, 10) + _cold(model)[:10] + ["nobody"]
    for user in users:
        for item in model.recommend(user, 15).items:
            assert len(item.reasons) >= 1
            for text in item.reasons:
                parse_reason(text)  # raises on a malformed reason
            assert np.isfinite(item.score)


def test_bad_limits_are_refused(model) -> None:
    for limit in (0, -3, 2.5):
        with pytest.raises(ContractError, match="limit"):
            model.recommend("nobody", limit)  # type: ignore[arg-type]


def test_concurrent_calls_on_one_model_give_identical_answers(model) -> None:
    users = _warm(model, 40) + _cold(model) + ["nobody", "nobody2"]
    expected = {u: model.recommend(u, 10) for u in users}
    similar = {u: model.similar_items(str(model.parts.ids.items.ids[k]), 5)
               for k, u in enumerate(users[:20])}
    jobs = [u for _ in range(8) for u in users]

    def call(user: str):
        return user, model.recommend(user, 10)

    with ThreadPoolExecutor(max_workers=8) as pool:
        for user, answer in pool.map(call, jobs):
            assert answer == expected[user]
        for k, (user, answer) in enumerate(zip(users[:20], pool.map(
                lambda k: model.similar_items(str(model.parts.ids.items.ids[k]), 5),
                range(20)), strict=True)):
            assert answer == similar[user], k


def test_loading_refuses_a_corrupt_bundle(small_bundle, tmp_path) -> None:
    import shutil

    copy = tmp_path / small_bundle["bundle"].name
    shutil.copytree(small_bundle["bundle"], copy)
    target = copy / "catalogue" / "listed.npy"
    target.write_bytes(target.read_bytes()[:-1])
    with pytest.raises(BundleError, match="listed.npy"):
        RuntimeModel.load(copy)
    with pytest.raises(BundleError):
        RuntimeModel.load(tmp_path / "missing")


def test_large_arrays_are_memory_mapped_read_only(model) -> None:
    parts = model.parts
    for array in (parts.scorer.model.user_factors_, parts.scorer.model.item_vectors_,
                  parts.circles.affinities, parts.history.interacted.indices,
                  parts.social.friends.indptr, parts.catalogue.listed):
        assert isinstance(array, np.memmap) and not array.flags.writeable
