"""RuntimeModel.share_targets over a bundle trained on a sample rich in group buys."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from recsys.bundle.layout import csr_row
from recsys.circles import CircleCatalogue
from recsys.contract import EventType
from recsys.datastore import DataDir
from recsys.errors import (
    RequestFieldError,
    UnavailableError,
    UnknownGroupError,
    UnknownItemError,
    UnknownUserError,
)
from recsys.events.store import SQLiteEventStore
from recsys.idmap import IdMap
from recsys.runtime import RuntimeModel, RuntimePolicy
from recsys.runtime.reasons import ReasonCode, parse_reason
from recsys.social.history import load_share_history
from recsys.social.share_features import ShareQueries
from recsys.social.share_index import ShareIndex

HOUR_US = 3_600 * 1_000_000
DAY_US = 24 * HOUR_US


@pytest.fixture(scope="module")
def model(share_world) -> RuntimeModel:
    return RuntimeModel.load(share_world["bundle"])


def _friends(model: RuntimeModel, user_id: str) -> set[str]:
    u = int(model.parts.ids.users.to_index([user_id])[0])
    return set(model.parts.ids.users.to_ids(csr_row(model.parts.social.friends, u)).tolist())


def _group_item(model: RuntimeModel) -> str:
    facts = model.parts.posts_groups.group_facts
    return str(facts["item_id"][0].as_py())


def test_the_bundle_has_a_fitted_share_part(model, share_world) -> None:
    share = model.parts.share
    assert share is not None and share.completion is not None
    assert share.facts["train_groups"] > share.facts["valid_groups"] > 0
    assert share.affinity.dtype == np.float16
    assert share.affinity.shape == model.parts.circles.affinities.shape


def test_planted_contacts_never_appear_and_targets_are_friends(model, share_world) -> None:
    user = share_world["user"]
    never = {share_world[k] for k in ("opted_out", "blocks_user", "blocked_by_user")}
    friends = _friends(model, user)
    assert never <= friends  # they are friends: only the rules keep them out
    items = model.parts.ids.items.ids[:40]
    for item in items:
        answer = model.share_targets(user, str(item), limit=100)
        shown = {t.user_id for t in answer.targets}
        assert shown and shown <= friends - never - {user}
    # The rules, not the ranker, keep them out: with the rules off they come back.
    loose = RuntimeModel(model.parts, model.version, RuntimePolicy(share_bought_window_days=None))
    index = loose._share.index  # noqa: SLF001 - the candidates before the rules
    u = int(model.parts.ids.users.to_index([user])[0])
    q = ShareQueries(np.array([u]), np.array([0]), np.array([0]), np.array([-1]))
    _, candidates = index.candidates(q)
    assert never <= set(model.parts.ids.users.to_ids(candidates).tolist())


def test_many_users_see_only_allowed_friends(model) -> None:
    social = model.parts.social
    users = model.parts.ids.users
    item = _group_item(model)
    degree = np.diff(social.friends.indptr)
    for u in np.flatnonzero(degree >= 3)[:60]:
        answer = model.share_targets(str(users.ids[u]), item, limit=100)
        got = users.to_index([t.user_id for t in answer.targets])
        assert set(got.tolist()) <= set(csr_row(social.friends, u).tolist())
        assert not social.share_opt_out[got].any()
        blocked = set(csr_row(social.blocked, u).tolist())
        assert blocked.isdisjoint(got.tolist())
        scores = [t.score for t in answer.targets]
        assert scores == sorted(scores, reverse=True)
        assert all(0 < t.join_probability < 1 for t in answer.targets)


def test_reasons_are_of_the_one_enum(model) -> None:
    users = model.parts.ids.users
    seen = set()
    for u in np.argsort(-np.diff(model.parts.social.friends.indptr))[:20]:
        for item in model.parts.ids.items.ids[:10]:
            for t in model.share_targets(str(users.ids[u]), str(item), limit=20).targets:
                for r in t.reasons:
                    code, arg = parse_reason(r)
                    seen.add(code)
                    if code is ReasonCode.LIKES_CIRCLE:
                        assert arg in model.catalogue.ids
                    else:
                        assert code is ReasonCode.OFTEN_JOINS_YOUR_GROUPS and int(arg) > 0
    assert seen == {ReasonCode.LIKES_CIRCLE, ReasonCode.OFTEN_JOINS_YOUR_GROUPS}


def test_the_cap_drops_friends_suggested_often_enough(model, share_world) -> None:
    user, item = share_world["user"], _group_item(model)
    first = model.share_targets(user, item, limit=3)
    top = first.targets[0].user_id
    again = model.share_targets(user, item, limit=3, suggested={top: 2})
    assert top in {t.user_id for t in again.targets}
    capped = model.share_targets(user, item, limit=3, suggested={top: 3, "nobody": 9})
    assert top not in {t.user_id for t in capped.targets}
    # The cap hides a friend but does not change how many may still join.
    assert capped.completion.expected_joiners == pytest.approx(first.completion.expected_joiners)


def test_completion_chance(model, share_world) -> None:
    user, item = share_world["user"], _group_item(model)
    now = 2_000_000_000 * 1_000_000
    none = model.share_targets(user, item, now_us=now)
    assert none.completion.chance is None and none.completion.target_size is None
    small = model.share_targets(user, item, target_size=2, deadline_us=now + 24 * HOUR_US,
                                now_us=now)  # fmt: skip
    big = model.share_targets(user, item, target_size=40, deadline_us=now + 24 * HOUR_US,
                              now_us=now)  # fmt: skip
    assert 0 < big.completion.chance < small.completion.chance < 1
    assert small.completion.hours_to_deadline == pytest.approx(24.0)
    assert small.completion.expected_joiners > 0
    # Few contacts for a big group: circles to post in, the item's circle first.
    item_circle = model.parts.catalogue.circle_idx[model.parts.ids.items.to_index([item])[0]]
    assert big.post_circles and big.post_circles[0] == model.catalogue.ids[item_circle]
    with pytest.raises(RequestFieldError, match="deadline_ts") as info:
        model.share_targets(user, item, deadline_us=now - HOUR_US, now_us=now)
    assert info.value.field == "deadline_ts"


def test_a_named_group_fills_size_and_deadline_and_hides_its_members(model) -> None:
    facts = model.parts.posts_groups.group_facts.to_pandas()
    members = model.parts.share.group_members
    sizes = np.diff(members.indptr)
    g = int(np.argmax(sizes))
    row = facts.iloc[g]
    in_group = set(model.parts.ids.users.to_ids(csr_row(members, g)).tolist())
    assert len(in_group) >= 2 and str(row["initiator_id"]) in in_group
    deadline = int(row["deadline_ts"].timestamp() * 1_000_000)
    answer = model.share_targets(str(row["initiator_id"]), str(row["item_id"]),
                                 group_id=str(row["group_id"]), limit=100,
                                 now_us=deadline - HOUR_US)  # fmt: skip
    assert answer.group_id == row["group_id"]
    assert answer.completion.target_size == row["target_size"]
    assert answer.completion.hours_to_deadline == pytest.approx(1.0)
    assert answer.completion.joined == len(in_group) - 1
    assert in_group.isdisjoint(t.user_id for t in answer.targets)
    if answer.completion.joined + 1 >= row["target_size"]:
        assert answer.completion.chance == 1.0
    with pytest.raises(UnknownGroupError):
        model.share_targets(str(row["initiator_id"]), str(row["item_id"]), group_id="g-none")
    other = next(str(i) for i in model.parts.ids.items.ids if str(i) != row["item_id"])
    with pytest.raises(RequestFieldError, match="group_id"):
        model.share_targets(str(row["initiator_id"]), other, group_id=str(row["group_id"]))


def test_friends_who_bought_recently_are_left_out(model, share_world) -> None:
    facts = model.parts.posts_groups.group_facts.to_pandas()
    members = model.parts.share.group_members
    friends = model.parts.social.friends
    users = model.parts.ids.users
    for g in np.argsort(-np.diff(members.indptr)):
        joiners = set(csr_row(members, int(g)).tolist())
        initiator = int(users.to_index([facts.iloc[int(g)]["initiator_id"]])[0])
        # Someone friends with a joiner, who is not in the group, asks about the same item.
        for j in joiners - {initiator}:
            askers = set(csr_row(friends, j).tolist()) - joiners
            if askers:
                break
        else:
            continue
        break
    asker = str(users.ids[sorted(askers)[0]])
    joiner = str(users.ids[j])
    item = str(facts.iloc[int(g)]["item_id"])
    joined_at = int(facts.iloc[int(g)]["created_ts"].timestamp() * 1_000_000)
    soon = model.share_targets(asker, item, limit=100, now_us=joined_at + 3 * DAY_US)
    late = model.share_targets(asker, item, limit=100, now_us=model.watermark_us + 31 * DAY_US)
    assert joiner not in {t.user_id for t in soon.targets}
    assert joiner in {t.user_id for t in late.targets} or model.parts.social.share_opt_out[j]


def test_live_group_buys_of_friends_count(model, share_world, tmp_path) -> None:
    user, item = share_world["user"], _group_item(model)
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    try:
        now = model.watermark_us + 5 * DAY_US
        top = model.share_targets(user, item, limit=5, events=store, now_us=now).targets[0]
        # The top friend joins some group buy of the item after training: bought recently.
        store.add("events", [(
            "e-live-1", top.user_id, item, None, EventType.GROUP_BUY_JOIN.value, "g-live",
            "share_link", now - DAY_US,
        )], [])  # fmt: skip
        after = model.share_targets(user, item, limit=5, events=store, now_us=now)
        assert top.user_id not in {t.user_id for t in after.targets}
    finally:
        store.close()


def test_unknown_ids_and_a_bundle_without_share_targeting(model, small_bundle) -> None:
    item = _group_item(model)
    with pytest.raises(UnknownUserError):
        model.share_targets("nobody", item)
    with pytest.raises(UnknownItemError):
        model.share_targets(str(model.parts.ids.users.ids[0]), "no-such-item")
    plain = RuntimeModel.load(small_bundle["bundle"])
    assert plain.parts.share is None
    with pytest.raises(UnavailableError, match="group buys have a joiner"):
        plain.share_targets(str(plain.parts.ids.users.ids[0]), str(plain.parts.ids.items.ids[0]))


def test_the_bundle_index_reads_what_a_history_index_reads(model, share_world) -> None:
    """The snapshot in the bundle gives a new request the features the training index would."""
    data = DataDir(share_world["data"])
    users, items = IdMap.load(data.idmap_path("users")), IdMap.load(data.idmap_path("items"))
    history = load_share_history(data, users, items,
                                 CircleCatalogue.from_table(data.read_table("circles")))
    affinity = np.asarray(model.parts.share.affinity, np.float32)
    full = ShareIndex(history, circle_affinity=affinity)
    served = model._share.index  # noqa: SLF001
    now = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    rng = np.random.default_rng(0)
    q = ShareQueries(rng.integers(0, len(users), 40), rng.integers(0, len(items), 40),
                     np.full(40, now, np.int64), np.full(40, -1))  # fmt: skip
    row, friend = full.candidates(q)
    np.testing.assert_allclose(served.features(q, row, friend), full.features(q, row, friend),
                               rtol=1e-5, equal_nan=True)  # fmt: skip


def test_a_refreshed_bundle_answers_for_new_items(share_world, tmp_path) -> None:
    """`recsys refresh` appends items after the counts were taken: they count as never seen."""
    import shutil

    from recsys.bundle.registry import ModelRegistry
    from recsys.training.refresh import refresh_catalogue
    from tests.training.test_refresh import _group_buy_delta

    shutil.copytree(share_world["data"], tmp_path / "data")
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(share_world["bundle"], models / share_world["bundle"].name)
    ModelRegistry(models).promote(share_world["bundle"].name, force=True)
    (tmp_path / "delta").mkdir()
    env = {"data": tmp_path / "data", "models": models, "delta": tmp_path / "delta"}
    user = share_world["user"]
    new = _group_buy_delta(env, [user, *sorted(_friends(RuntimeModel.load(
        share_world["bundle"]), user))[:2]])  # fmt: skip
    summary = refresh_catalogue(env["data"], env["delta"], models)
    child = RuntimeModel.load(models / summary.version)
    assert child.parts.share is not None
    n_counted = child.parts.share.snapshot.n_items
    assert int(child.parts.ids.items.to_index([new[0]])[0]) >= n_counted
    answer = child.share_targets(user, new[0], target_size=3, limit=100)
    assert answer.targets and all(0 < t.join_probability < 1 for t in answer.targets)
    never = {share_world[k] for k in ("opted_out", "blocks_user", "blocked_by_user")}
    assert never.isdisjoint(t.user_id for t in answer.targets)
