"""POST /v1/events, /v1/group-buys, /v1/posts through the app: per-row results, 422 only for a
malformed or oversized body, roles, and the impression log of every recommendations answer."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from recsys.events.store import live_paths
from recsys.runtime import RuntimeModel
from tests.serving.conftest import MERCHANT_KEY, auth, models_with


@pytest.fixture
def served(tmp_path, trained, client_for):
    models = models_with(tmp_path, trained.first, promote=trained.first)
    model = RuntimeModel.load(models / trained.first.name)
    return client_for(models, max_event_batch=50), model, models


def _after(model: RuntimeModel, **delta: float) -> str:
    base = datetime.fromtimestamp(model.watermark_us / 1e6, UTC)
    return (base + timedelta(**delta)).isoformat().replace("+00:00", "Z")


def test_a_batch_gets_one_result_per_row(served, trained) -> None:
    client, model, _ = served
    user, item = trained.users[0], trained.items[0]
    good = {"event_id": "e1", "user_id": user, "item_id": item, "type": "purchase",
            "ts": _after(model, hours=1)}
    body = {"events": [
        good, good,
        {"user_id": "someone-new", "item_id": item, "type": "view", "ts": 1.9e9},
        {"user_id": user, "item_id": "no-such-item", "type": "view", "ts": _after(model, hours=1)},
        {"user_id": user, "item_id": item, "type": "teleport", "ts": _after(model, hours=1)},
        {"user_id": user, "item_id": item, "type": "view"},
    ]}
    response = client.post("/v1/events", json=body, headers=auth())
    assert response.status_code == 200, response.text
    data = response.json()
    assert [r["status"] for r in data["results"]] == [
        "accepted", "duplicate", "accepted", "rejected", "rejected", "rejected"]
    assert [r["field"] for r in data["results"][3:]] == ["item_id", "type", "ts"]
    assert "unknown item_id" in data["results"][3]["reason"]
    assert (data["accepted"], data["duplicate"], data["rejected"]) == (2, 1, 3)
    assert data["results"][2]["id"].endswith("-1")  # derived
    again = client.post("/v1/events", json={"events": [good]}, headers=auth()).json()
    assert again["results"][0]["status"] == "duplicate"


@pytest.mark.parametrize(("body", "field"), [
    (b"{not json", None),
    (b'{"events": {"user_id": "u"}}', "events"),
    (b'{"rows": []}', "events"),
    (b'{"events": [{"user": "u"}]}', "events.0.user"),
    (b'{"events": [{"user_id": ["u"]}]}', "events.0.user_id"),
])
def test_a_malformed_body_is_a_422_naming_the_field(served, body, field) -> None:
    client, _, _ = served
    response = client.post("/v1/events", content=body,
                           headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    if field:
        assert error["field"].startswith(field)


def test_an_oversized_batch_is_a_422_and_stores_nothing(served, trained) -> None:
    client, model, models = served
    row = {"user_id": trained.users[0], "item_id": trained.items[0], "type": "view",
           "ts": _after(model, hours=1)}
    response = client.post("/v1/events", json={"events": [row] * 51}, headers=auth())
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "events"
    assert "at most 50" in response.json()["error"]["message"]
    with closing(sqlite3.connect(live_paths(models).store)) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_group_buys_and_posts_routes(served, trained) -> None:
    client, model, _ = served
    item = trained.items[1]
    group = {"group_id": "g-api", "item_id": item, "initiator_id": "new-initiator",
             "created_ts": _after(model, hours=1), "deadline_ts": _after(model, days=1),
             "target_size": 2, "status": "open"}
    data = client.post("/v1/group-buys", json={"group_buys": [group, {**group, "group_id": "g2",
                                                                     "target_size": 1}]},
                       headers=auth()).json()
    assert [r["status"] for r in data["results"]] == ["accepted", "rejected"]
    post = {"post_id": "p-api", "author_id": trained.users[0], "circle_id": model.catalogue.ids[0],
            "item_id": item, "created_ts": _after(model, hours=1), "text": "x", "deleted": False}
    data = client.post("/v1/posts", json={"posts": [post]}, headers=auth()).json()
    assert data["accepted"] == 1
    start = {"user_id": "new-initiator", "item_id": item, "type": "group_buy_start",
             "group_id": "g-api", "ts": _after(model, hours=2)}
    data = client.post("/v1/events", json={"events": [start]}, headers=auth()).json()
    assert data["accepted"] == 1


def test_only_service_and_admin_keys_may_post(served) -> None:
    client, _, _ = served
    assert client.post("/v1/events", json={"events": []}).status_code == 401
    assert client.post("/v1/events", json={"events": []},
                       headers=auth(MERCHANT_KEY)).status_code == 403
    assert client.post("/v1/events", json={"events": []}, headers=auth()).json()["results"] == []


def test_every_recommendations_answer_is_logged_with_its_request_id(served, trained) -> None:
    client, _, models = served
    user = trained.users[1]
    first = client.get(f"/v1/users/{user}/recommendations?limit=5", headers=auth())
    given = client.get(f"/v1/users/{user}/recommendations?limit=3",
                       headers={**auth(), "X-Request-ID": "req-abc"})
    assert given.headers["X-Request-ID"] == "req-abc"
    rid = first.headers["X-Request-ID"]
    assert len(rid) == 32
    client.app.state.live.impressions.flush()
    with closing(sqlite3.connect(live_paths(models).impressions)) as con:
        rows = con.execute("SELECT request_id, route, viewer_id, entity_kind, entity_id, position, "
                           "reasons, model_version FROM impressions ORDER BY id").fetchall()
    body = first.json()
    assert rows[:5] == [
        (rid, "/v1/users/{user_id}/recommendations", user, "item", i["item_id"], p,
         ",".join(i["reasons"]), body["model_version"])
        for p, i in enumerate(body["items"])
    ]
    assert [r[0] for r in rows[5:]] == ["req-abc"] * 3
