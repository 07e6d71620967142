"""GET /v1/users/{id}/feed and /v1/circles/{id}/feed through the app: the in-process pages,
cursors across pages and a hot swap, 422 for a bad cursor, 404 for an unknown circle, roles,
and every page in the impression log."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing

import pytest

from recsys.bundle.registry import ModelRegistry
from recsys.bundle.signing import resolve_key
from recsys.events.store import live_paths
from recsys.feeds.circle_feed import CircleFeed
from recsys.feeds.feed import Feed
from recsys.feeds.pages import CursorCodec, derive_secret
from recsys.runtime import RuntimeModel
from serving.schemas.feeds import CircleFeedOut, FeedOut
from tests.serving.conftest import MERCHANT_KEY, auth, models_with


def _codec() -> CursorCodec:
    return CursorCodec(derive_secret(resolve_key().secret))


def _circle(model: RuntimeModel) -> str:
    offsets = model.parts.post_feed.signals.circle_offsets
    return model.catalogue.ids[int((offsets[1:] - offsets[:-1]).argmax())]


@pytest.fixture
def served(tmp_path, trained, client_for):
    models = models_with(tmp_path, trained.first, trained.second, promote=trained.first)
    client = client_for(models, poll_interval=0.05)
    return client, RuntimeModel.load(models / trained.first.name), models


def test_the_feed_answers_the_in_process_page(served, trained) -> None:
    client, model, _ = served
    user = trained.users[0]
    response = client.get(f"/v1/users/{user}/feed?limit=6", headers=auth())
    assert response.status_code == 200, response.text
    assert response.headers["X-Model-Version"] == model.version
    expected = FeedOut.model_validate(Feed(model, _codec()).page(user, 6))
    assert response.json() == json.loads(expected.model_dump_json())
    circle = _circle(model)
    got = client.get(f"/v1/circles/{circle}/feed?user_id={user}&limit=4", headers=auth())
    assert got.status_code == 200, got.text
    expected_posts = CircleFeedOut.model_validate(
        CircleFeed(model, _codec()).page(circle, user, 4))
    body = got.json()
    assert [p["post_id"] for p in body["posts"]] == [p.post_id for p in expected_posts.posts]
    assert body["posts"] and all(p["reasons"] for p in body["posts"])


def _wait_for(check, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_pages_never_repeat_across_a_hot_swap(served, trained) -> None:
    client, model, models = served
    user = trained.users[1]
    first = client.get(f"/v1/users/{user}/feed?limit=5", headers=auth()).json()
    second = client.get(f"/v1/users/{user}/feed?limit=5&cursor={first['next_cursor']}",
                        headers=auth()).json()
    ModelRegistry(models).promote(trained.second.name, force=True)
    _wait_for(lambda: client.get("/readyz").json()["model_version"] == trained.second.name)
    third = client.get(f"/v1/users/{user}/feed?limit=5&cursor={second['next_cursor']}",
                       headers=auth())
    assert third.headers["X-Model-Version"] == trained.second.name
    third = third.json()
    assert (first["page"], second["page"], third["page"]) == (1, 2, 3)
    shown = [i["item_id"] for p in (first, second, third) for i in p["items"]]
    assert len(shown) == len(set(shown)) == 15


def test_a_bad_cursor_is_a_422_naming_it(served, trained) -> None:
    client, model, _ = served
    alice, bob = trained.users[2], trained.users[3]
    cursor = client.get(f"/v1/users/{alice}/feed?limit=3", headers=auth()).json()["next_cursor"]
    for bad in (cursor[:-4], "garbage", cursor + "x"):
        response = client.get(f"/v1/users/{alice}/feed?cursor={bad}", headers=auth())
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == "cursor"
    foreign = client.get(f"/v1/users/{bob}/feed?cursor={cursor}", headers=auth())
    assert foreign.status_code == 422 and "another" in foreign.json()["error"]["message"]
    circle = _circle(model)
    posts = client.get(f"/v1/circles/{circle}/feed?user_id={alice}&cursor={cursor}",
                       headers=auth())
    assert posts.status_code == 422 and posts.json()["error"]["field"] == "cursor"


def test_circle_feed_errors_and_roles(served, trained) -> None:
    client, model, _ = served
    user = trained.users[0]
    unknown = client.get(f"/v1/circles/no-such-circle/feed?user_id={user}", headers=auth())
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_circle"
    missing = client.get(f"/v1/circles/{_circle(model)}/feed", headers=auth())
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "user_id"
    assert client.get(f"/v1/users/{user}/feed", headers=auth(MERCHANT_KEY)).status_code == 403
    assert client.get(f"/v1/circles/{_circle(model)}/feed?user_id={user}",
                      headers=auth(MERCHANT_KEY)).status_code == 403
    assert client.get(f"/v1/users/{user}/feed?limit=0", headers=auth()).status_code == 422
    assert client.get(f"/v1/users/{user}/feed").status_code == 401


def test_every_page_goes_to_the_impression_log(served, trained) -> None:
    client, model, models = served
    user = trained.users[4]
    feed = client.get(f"/v1/users/{user}/feed?limit=4", headers=auth()).json()
    circle = _circle(model)
    posts = client.get(f"/v1/circles/{circle}/feed?user_id={user}&limit=3",
                       headers=auth()).json()
    client.app.state.live.impressions.flush()
    with closing(sqlite3.connect(live_paths(models).impressions)) as con:
        rows = con.execute("SELECT route, viewer_id, entity_kind, entity_id, position, reasons "
                           "FROM impressions ORDER BY id").fetchall()
    items = [r for r in rows if r[0] == "/v1/users/{user_id}/feed"]
    assert [r[3] for r in items] == [i["item_id"] for i in feed["items"]]
    assert {r[1] for r in items} == {user} and {r[2] for r in items} == {"item"}
    assert items[0][5] == ",".join(feed["items"][0]["reasons"])
    on_posts = [r for r in rows if r[0] == "/v1/circles/{circle_id}/feed"]
    assert [r[3] for r in on_posts] == [p["post_id"] for p in posts["posts"]]
    assert {r[2] for r in on_posts} == {"post"}
