"""Every /v1 route through the app (TestClient): good input answers as the model does in process,
bad input gets the one error shape with the right code, and the reason codes are documented."""

from __future__ import annotations

import pytest

from recsys.runtime import ReasonCode, RuntimeModel
from serving.schemas.items import REASON_PATTERN
from tests.serving.conftest import auth, in_process, models_with


@pytest.fixture
def served(tmp_path, trained, client_for):
    models = models_with(tmp_path, trained.first, promote=trained.first)
    return client_for(models), RuntimeModel.load(models / trained.first.name)


def _paths(trained) -> list[str]:
    user, item = trained.users[0], trained.items[0]
    return [
        f"/v1/users/{user}/recommendations?limit=7",
        f"/v1/users/{user}/recommendations",
        "/v1/users/nobody-at-all/recommendations?limit=5",
        f"/v1/users/{user}/circles",
        f"/v1/items/{item}/similar?limit=4",
        "/v1/circles",
    ]


def test_each_route_answers_what_the_model_answers_in_process(served, trained) -> None:
    client, model = served
    for path in _paths(trained):
        response = client.get(path, headers=auth())
        assert response.status_code == 200, (path, response.text)
        assert response.headers["X-Model-Version"] == model.version, path
        assert response.json() == in_process(model, path), path
        assert response.json()["model_version"] == model.version


def test_limit_is_honoured_and_reasons_use_the_codes(served, trained) -> None:
    client, _ = served
    body = client.get(f"/v1/users/{trained.users[1]}/recommendations?limit=3", headers=auth())
    items = body.json()["items"]
    assert 0 < len(items) <= 3
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    codes = {code.value for code in ReasonCode}
    for item in items:
        assert item["reasons"], item
        for reason in item["reasons"]:
            assert reason.partition(":")[0] in codes, reason


def test_unknown_user_gets_the_global_chain_and_unknown_ids_never_500(served) -> None:
    client, model = served
    recs = client.get("/v1/users/nobody-at-all/recommendations?limit=5", headers=auth())
    assert recs.status_code == 200
    assert recs.json()["items"], "an unknown user still gets popular items"
    circles = client.get("/v1/users/nobody-at-all/circles", headers=auth())
    assert circles.status_code == 404
    assert circles.json()["error"]["code"] == "unknown_user"
    similar = client.get("/v1/items/no-such-item/similar", headers=auth())
    assert similar.status_code == 404
    assert similar.json()["error"]["code"] == "unknown_item"
    assert "no-such-item" in similar.json()["error"]["message"]
    assert similar.headers["X-Model-Version"] == model.version


def test_unknown_user_is_a_404_when_the_policy_says_not_found(tmp_path, trained, client_for):
    models = models_with(tmp_path, trained.first, promote=trained.first)
    client = client_for(models, unknown_user="not_found")
    response = client.get("/v1/users/nobody-at-all/recommendations", headers=auth())
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_user"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/users/{user}/recommendations?limit=0", "limit"),
        ("/v1/users/{user}/recommendations?limit=101", "limit"),
        ("/v1/users/{user}/recommendations?limit=many", "limit"),
        ("/v1/items/{item}/similar?limit=-1", "limit"),
        ("/v1/users/" + "u" * 300 + "/circles", "user_id"),
        ("/v1/items/" + "i" * 300 + "/similar", "item_id"),
    ],
)
def test_invalid_input_is_a_422_naming_the_field(served, trained, path, field) -> None:
    client, _ = served
    path = path.format(user=trained.users[0], item=trained.items[0])
    response = client.get(path, headers=auth())
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["field"] == field
    assert field in error["message"]


def test_unknown_routes_and_methods_answer_the_one_error_shape(served) -> None:
    client, _ = served
    missing = client.get("/v1/nothing-here", headers=auth())
    assert missing.status_code == 404
    assert set(missing.json()) == {"error"} and missing.json()["error"]["code"] == "not_found"
    wrong_method = client.post("/v1/circles", headers=auth())
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_openapi_lists_every_reason_code_as_one_enum(served) -> None:
    client, _ = served
    document = client.get("/openapi.json").json()
    enum = document["components"]["schemas"]["ReasonCode"]["enum"]
    assert enum == [code.value for code in ReasonCode]
    reasons = document["components"]["schemas"]["ScoredItemOut"]["properties"]["reasons"]
    assert reasons["items"]["pattern"] == REASON_PATTERN
    for code in ReasonCode:
        assert code.value in reasons["items"]["pattern"]
    assert {
        "/v1/users/{user_id}/recommendations",
        "/v1/users/{user_id}/circles",
        "/v1/items/{item_id}/similar",
        "/v1/circles",
    } <= set(document["paths"])
    assert "X-API-Key" in str(document["components"]["securitySchemes"])
