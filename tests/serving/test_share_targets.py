"""POST /v1/share-targets through the real app: contact rules, the frequency cap across
requests (read from the impression log), the impression log itself, errors and roles."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import numpy as np
import pytest

from recsys.bundle.layout import csr_row
from recsys.events.store import live_paths
from recsys.runtime import RuntimeModel
from tests.serving.conftest import MERCHANT_KEY, auth, models_with

ROUTE = "/v1/share-targets"


@pytest.fixture
def served(tmp_path, share_world, client_for):
    models = models_with(tmp_path, share_world["bundle"], promote=share_world["bundle"])
    model = RuntimeModel.load(models / share_world["bundle"].name)
    # No cap here: tests that ask many times for one user would run it out; the cap's own
    # tests make a capped app over the same folder.
    return client_for(models, share_max_suggestions=0), model, models


def _item(model: RuntimeModel) -> str:
    return str(model.parts.posts_groups.group_facts["item_id"][0].as_py())


def _friends(model: RuntimeModel, user_id: str) -> set[str]:
    u = int(model.parts.ids.users.to_index([user_id])[0])
    return set(model.parts.ids.users.to_ids(csr_row(model.parts.social.friends, u)).tolist())


def test_opted_out_and_blocked_either_way_never_appear(served, share_world) -> None:
    client, model, _ = served
    user = share_world["user"]
    never = {share_world[k] for k in ("opted_out", "blocks_user", "blocked_by_user")}
    friends = _friends(model, user)
    assert never <= friends
    for item in model.parts.ids.items.ids[:25]:
        response = client.post(ROUTE, json={"user_id": user, "item_id": str(item), "limit": 100},
                               headers=auth())  # fmt: skip
        assert response.status_code == 200, response.text
        shown = {t["user_id"] for t in response.json()["targets"]}
        assert shown, item
        # A non-friend never appears either (nor the user).
        assert shown <= friends - never - {user}


def test_non_friends_never_appear_for_anyone(served) -> None:
    client, model, _ = served
    users = model.parts.ids.users.ids
    degree = np.diff(model.parts.social.friends.indptr)
    item = _item(model)
    for u in np.flatnonzero(degree >= 2)[:40]:
        body = client.post(ROUTE, json={"user_id": str(users[u]), "item_id": item, "limit": 100},
                           headers=auth()).json()  # fmt: skip
        assert {t["user_id"] for t in body["targets"]} <= _friends(model, str(users[u]))


def test_the_frequency_cap_holds_across_requests(served, share_world, client_for) -> None:
    _, model, models = served
    client = client_for(models, share_max_suggestions=2)
    user, item = share_world["user"], _item(model)
    body = {"user_id": user, "item_id": item, "limit": 3}
    answers = []
    for _ in range(4):
        response = client.post(ROUTE, json=body, headers=auth())
        assert response.status_code == 200
        answers.append([t["user_id"] for t in response.json()["targets"]])
    seen: dict[str, int] = {}
    for answer in answers:
        for friend in answer:
            seen[friend] = seen.get(friend, 0) + 1
    # RECSYS_SHARE_MAX_SUGGESTIONS = 2: the first answer's friends are back once, then gone.
    assert max(seen.values()) == 2
    assert answers[0] == answers[1]
    assert set(answers[2]).isdisjoint(answers[0])
    # Another item: the cap is per friend and user, not per item.
    other = client.post(ROUTE, json={**body, "item_id": str(model.parts.ids.items.ids[7]),
                                     "limit": 100}, headers=auth()).json()  # fmt: skip
    assert set(answers[0]).isdisjoint(t["user_id"] for t in other["targets"])
    # Every answer is in the impression log, as friends shown to the user.
    client.app.state.live.impressions.flush()
    with closing(sqlite3.connect(live_paths(models).impressions)) as con:
        rows = con.execute(
            "SELECT route, viewer_id, entity_kind, entity_id, position FROM impressions "
            "WHERE entity_kind = 'friend' ORDER BY id"
        ).fetchall()
    assert [r[3] for r in rows[:3]] == answers[0]
    assert {(r[0], r[1], r[2]) for r in rows} == {(ROUTE, user, "friend")}
    assert [r[4] for r in rows[:3]] == [0, 1, 2]


def test_the_cap_is_read_from_the_log_a_new_worker_sees(served, share_world, client_for) -> None:
    _, model, models = served
    client = client_for(models, share_max_suggestions=2)
    user, item = share_world["user"], _item(model)
    body = {"user_id": user, "item_id": item, "limit": 3}
    first = [t["user_id"] for t in client.post(ROUTE, json=body, headers=auth()).json()["targets"]]
    client.post(ROUTE, json=body, headers=auth())
    client.app.state.live.impressions.flush()
    # A second app over the same models folder (another worker) has nothing pending: the log
    # alone must keep the capped friends out.
    other = client_for(models, share_max_suggestions=2)
    again = other.post(ROUTE, json=body, headers=auth()).json()
    assert set(first).isdisjoint(t["user_id"] for t in again["targets"])
    loose = client_for(models, share_max_suggestions=0)
    free = loose.post(ROUTE, json=body, headers=auth()).json()
    assert [t["user_id"] for t in free["targets"]] == first


def test_the_answer_carries_completion_reasons_and_version(served, share_world) -> None:
    client, model, _ = served
    response = client.post(ROUTE, json={
        "user_id": share_world["user"], "item_id": _item(model), "target_size": 3,
        "deadline_ts": "2031-01-02T12:00:00Z", "limit": 5,
    }, headers=auth())  # fmt: skip
    assert response.status_code == 200
    data = response.json()
    assert data["model_version"] == response.headers["X-Model-Version"] == model.version
    assert 0 < data["completion"]["chance"] < 1
    assert data["completion"]["target_size"] == 3 and data["completion"]["joined"] == 0
    assert data["completion"]["hours_to_deadline"] > 0
    assert len(data["targets"]) == 5
    assert all(r.split(":")[0] in ("often_joins_your_groups", "likes_circle")
               for t in data["targets"] for r in t["reasons"])  # fmt: skip


@pytest.mark.parametrize(("body", "field"), [
    ({"item_id": "i1"}, "user_id"),
    ({"user_id": "u1"}, "item_id"),
    ({"user_id": "u1", "item_id": "i1", "limit": 0}, "limit"),
    ({"user_id": "u1", "item_id": "i1", "limit": 101}, "limit"),
    ({"user_id": "u1", "item_id": "i1", "target_size": 1}, "target_size"),
    ({"user_id": "u1", "item_id": "i1", "deadline_ts": "2030-01-01T00:00:00"}, "deadline_ts"),
    ({"user_id": "u1", "item_id": "i1", "friends": 3}, "friends"),
    ({"user_id": "", "item_id": "i1"}, "user_id"),
])
def test_invalid_bodies_are_422_naming_the_field(served, body, field) -> None:
    client, _, _ = served
    response = client.post(ROUTE, json=body, headers=auth())
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["field"] == field


def test_unknown_ids_and_bad_groups(served, share_world) -> None:
    client, model, _ = served
    user, item = share_world["user"], _item(model)
    cases = [
        ({"user_id": "nobody", "item_id": item}, 404, "unknown_user"),
        ({"user_id": user, "item_id": "no-such-item"}, 404, "unknown_item"),
        ({"user_id": user, "item_id": item, "group_id": "g-none"}, 404, "unknown_group"),
        ({"user_id": user, "item_id": item, "deadline_ts": "2001-01-01T00:00:00Z"}, 422,
         "invalid_request"),
    ]
    for body, status, code in cases:
        response = client.post(ROUTE, json=body, headers=auth())
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["code"] == code
    facts = model.parts.posts_groups.group_facts
    group, its_item = str(facts["group_id"][0].as_py()), str(facts["item_id"][0].as_py())
    other = next(str(i) for i in model.parts.ids.items.ids if str(i) != its_item)
    response = client.post(ROUTE, json={"user_id": user, "item_id": other, "group_id": group},
                           headers=auth())  # fmt: skip
    assert response.status_code == 422 and response.json()["error"]["field"] == "group_id"


def test_a_bundle_without_share_targeting_says_why(tmp_path, trained, client_for) -> None:
    models = models_with(tmp_path, trained.first, promote=trained.first)
    client = client_for(models)
    response = client.post(ROUTE, json={"user_id": trained.users[0], "item_id": trained.items[0]},
                           headers=auth())  # fmt: skip
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "unavailable" and "group buys" in error["message"]


def test_roles(served, share_world) -> None:
    client, model, _ = served
    body = {"user_id": share_world["user"], "item_id": _item(model)}
    assert client.post(ROUTE, json=body).status_code == 401
    assert client.post(ROUTE, json=body, headers=auth(MERCHANT_KEY)).status_code == 403
