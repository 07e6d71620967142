"""Segments through the real app with merchant keys: every scope rule, the floor, own-buyers-only
exclusion and jobs (a merchant never reads another's)."""

from __future__ import annotations

import secrets
import time

import numpy as np
import pytest

from recsys.runtime import RuntimeModel
from recsys.segments.scope import buyers_of
from tests.serving.conftest import ADMIN_KEY, KEYS, SERVICE_KEY, auth, models_with

KEY_A = "mer-a-" + secrets.token_urlsafe(16)
KEY_B = "mer-b-" + secrets.token_urlsafe(16)
MERCHANT_KEYS = {**KEYS, KEY_A: "merchant:m00000", KEY_B: "merchant:m00001"}


@pytest.fixture(scope="module")
def model(trained) -> RuntimeModel:
    return RuntimeModel.load(trained.first)


@pytest.fixture
def app_for(tmp_path, trained, client_for):
    def make(**settings):
        models = models_with(tmp_path, trained.first, promote=trained.first)
        return client_for(models, api_keys=MERCHANT_KEYS, jobs_dir=tmp_path / "jobs", **settings)

    return make


@pytest.fixture
def client(app_for):
    return app_for()


def items_of(model: RuntimeModel, merchant: str, n: int = 2) -> list[str]:
    rows = np.flatnonzero(model.parts.catalogue.strings("merchant_id") == merchant)[:n]
    return [str(i) for i in model.parts.ids.items.to_ids(rows)]


def body(kind: str, ids: list[str], **extra) -> dict:
    return {"target": {"kind": kind, "ids": ids}, **extra}


def post(client, payload: dict, key: str = KEY_A):
    return client.post("/v1/segments", json=payload, headers=auth(key))


def test_a_merchant_gets_a_segment_of_its_own_items(client, model) -> None:
    response = post(client, body("item", items_of(model, "m00000"), size=120))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["size"] == 120 and len(answer["users"]) == 120
    assert set(answer["users"][0]) == {"user_id", "score"}  # ids and scores, nothing else
    assert answer["model_version"] == model.version and "reach" in answer
    assert answer["reach"]["curve"] == [] and answer["reach"]["reason"]


def test_foreign_and_unknown_ids_get_the_same_403(client, model) -> None:
    own = items_of(model, "m00000", 1)
    foreign = items_of(model, "m00001", 1)
    cat = model.parts.catalogue
    brands, merchants = cat.strings("brand").astype(str), cat.strings("merchant_id")
    foreign_brand = next(
        b for b in np.unique(brands) if "m00000" not in set(merchants[brands == b])
    )
    purchased = model.parts.history.purchased
    a_customers = buyers_of(purchased, np.flatnonzero(merchants == "m00000"))
    b_only = np.flatnonzero(
        buyers_of(purchased, np.flatnonzero(merchants == "m00001")) & ~a_customers
    )
    foreign_user = str(model.parts.ids.users.to_ids(b_only[:1])[0])
    own_user = str(model.parts.ids.users.to_ids(np.flatnonzero(a_customers)[:1])[0])
    pairs = [
        (body("item", own + foreign), body("item", own + ["no-such-item"])),
        (body("brand", [foreign_brand]), body("brand", ["no-such-brand"])),
        (body("seed", [own_user, foreign_user]), body("seed", [own_user, "no-such-user"])),
    ]
    for foreign_body, unknown_body in pairs:
        a, b = post(client, foreign_body), post(client, unknown_body)
        assert a.status_code == b.status_code == 403
        assert a.json() == b.json() and a.json()["error"]["code"] == "forbidden"
        for leaked in foreign_body["target"]["ids"]:
            assert leaked not in a.text
    assert post(client, body("item", foreign, size=120), ADMIN_KEY).status_code == 200


def test_circle_and_category_targets_are_open(client, model) -> None:
    category = str(model.parts.catalogue.strings("category")[0])
    for key in (KEY_A, KEY_B):
        assert post(client, body("category", [category], size=100), key).status_code == 200
        assert (
            post(client, body("circle", [model.catalogue.ids[0]], size=100), key).status_code == 200
        )


def test_service_keys_may_not_ask_for_segments(client, model) -> None:
    assert post(client, body("circle", [model.catalogue.ids[0]]), SERVICE_KEY).status_code == 403


def test_the_floor_refuses_small_segments(app_for, model) -> None:
    client = app_for(segment_floor=150)
    response = post(client, body("item", items_of(model, "m00000"), size=149))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "segment_too_small"
    assert post(client, body("item", items_of(model, "m00000"), size=150)).status_code == 200
    tiny = post(client, body("item", items_of(model, "m00000"), min_score=1e9))
    assert tiny.status_code == 422 and "floor of 150" in tiny.json()["error"]["message"]


def test_exclude_buyers_excludes_buyers_of_own_items_only(client, model) -> None:
    cat = model.parts.catalogue
    categories, merchants = cat.strings("category").astype(str), cat.strings("merchant_id")
    purchased = model.parts.history.purchased
    for category in np.unique(categories):
        own = np.flatnonzero((categories == category) & (merchants == "m00000"))
        other = np.flatnonzero((categories == category) & (merchants != "m00000"))
        own_buyers = buyers_of(purchased, own) if len(own) else np.zeros(purchased.shape[0], bool)
        other_only = buyers_of(purchased, other) & ~own_buyers if len(other) else own_buyers & False
        has_vector = np.asarray(model.parts.scorer.model.user_factors_).any(axis=1)
        if own_buyers.any() and (other_only & has_vector).any():
            break
    else:
        pytest.fail("no category sold by m00000 and others with buyers of both")
    payload = body("category", [category], size=500, exclude_buyers=True)
    answer = post(client, payload).json()
    got = set(u["user_id"] for u in answer["users"])
    ids = model.parts.ids.users
    assert not got & {str(u) for u in ids.to_ids(np.flatnonzero(own_buyers))}
    assert {str(u) for u in ids.to_ids(np.flatnonzero(other_only & has_vector))} <= got


def test_large_requests_run_as_jobs_only_their_owner_can_read(app_for, model) -> None:
    client = app_for(segment_sync_max=100, poll_interval=0.05)
    response = post(client, body("circle", [model.catalogue.ids[0]], size=300))
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert response.headers["location"] == f"/v1/segments/{job_id}"
    deadline = time.monotonic() + 60
    while True:
        answer = client.get(f"/v1/segments/{job_id}?limit=50", headers=auth(KEY_A)).json()
        if answer["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert answer["status"] == "done", answer
    assert answer["segment"]["size"] == 300 and len(answer["segment"]["users"]) == 50
    page = client.get(f"/v1/segments/{job_id}?offset=290", headers=auth(KEY_A)).json()
    assert len(page["segment"]["users"]) == 10 and page["offset"] == 290
    other = client.get(f"/v1/segments/{job_id}", headers=auth(KEY_B))
    unknown = client.get("/v1/segments/no-such-job", headers=auth(KEY_B))
    assert other.status_code == unknown.status_code == 403
    assert other.json() == unknown.json()
    assert client.get(f"/v1/segments/{job_id}", headers=auth(ADMIN_KEY)).status_code == 200


def test_a_foreign_target_is_refused_before_a_job_is_queued(app_for, model) -> None:
    client = app_for(segment_sync_max=100)
    response = post(client, body("item", items_of(model, "m00001"), size=300))
    assert response.status_code == 403


def test_bad_bodies_are_422_naming_the_field(client) -> None:
    response = post(client, {"target": {"kind": "shop", "ids": ["x"]}})
    assert response.status_code == 422 and response.json()["error"]["field"] == "target.kind"
    response = post(client, {"target": {"kind": "item", "ids": ["x"]}, "size": 0})
    assert response.status_code == 422 and response.json()["error"]["field"] == "size"
