"""Keys with roles: every /v1 route needs X-API-Key; a missing or unknown key is a 401, a key of
the wrong role a 403; keys come from settings only."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from serving.auth import KeyRing, Principal, Role, parse_role
from serving.settings import Settings
from tests.serving.conftest import ADMIN_KEY, MERCHANT_KEY, SERVICE_KEY, auth, models_with

SERVICE_ROUTES = [
    "/v1/users/{user}/recommendations?limit=3",
    "/v1/users/{user}/circles",
    "/v1/items/{item}/similar?limit=3",
]
ALL_ROUTES = [*SERVICE_ROUTES, "/v1/circles"]


@pytest.fixture
def client(tmp_path, trained, client_for):
    return client_for(models_with(tmp_path, trained.first, promote=trained.first))


def _get(client, trained, route: str, headers: dict[str, str]):
    return client.get(route.format(user=trained.users[0], item=trained.items[0]), headers=headers)


@pytest.mark.parametrize("route", ALL_ROUTES)
def test_missing_key_is_401(client, trained, route) -> None:
    response = _get(client, trained, route, {})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert "X-API-Key" in response.json()["error"]["message"]


@pytest.mark.parametrize("route", ALL_ROUTES)
def test_wrong_key_is_401(client, trained, route) -> None:
    response = _get(client, trained, route, auth(SERVICE_KEY + "x"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("route", SERVICE_ROUTES)
def test_merchant_key_on_a_service_route_is_403(client, trained, route) -> None:
    response = _get(client, trained, route, auth(MERCHANT_KEY))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("route", ALL_ROUTES)
@pytest.mark.parametrize("key", [SERVICE_KEY, ADMIN_KEY], ids=["service", "admin"])
def test_service_and_admin_keys_call_every_route(client, trained, route, key) -> None:
    assert _get(client, trained, route, auth(key)).status_code == 200


def test_merchant_key_reads_the_circle_catalogue(client, trained) -> None:
    assert _get(client, trained, "/v1/circles", auth(MERCHANT_KEY)).status_code == 200


def test_key_check_comes_before_input_validation(client, trained) -> None:
    route = "/v1/users/{user}/recommendations?limit=0"
    assert _get(client, trained, route, {}).status_code == 401
    assert _get(client, trained, route, auth(MERCHANT_KEY)).status_code == 403
    assert _get(client, trained, route, auth()).status_code == 422


def test_no_configured_keys_refuses_every_call(tmp_path, trained, client_for) -> None:
    client = client_for(models_with(tmp_path, trained.first, promote=trained.first), api_keys={})
    assert client.get("/v1/circles", headers=auth()).status_code == 401


def test_health_routes_need_no_key(client) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_keys_come_from_the_environment_as_a_json_object(monkeypatch) -> None:
    monkeypatch.setenv("RECSYS_API_KEYS", f'{{"{SERVICE_KEY}": "service", "{ADMIN_KEY}": "admin"}}')
    assert Settings().api_keys == {SERVICE_KEY: "service", ADMIN_KEY: "admin"}


@pytest.mark.parametrize(
    "keys",
    [
        {SERVICE_KEY: "owner"},
        {SERVICE_KEY: "merchant:"},
        {SERVICE_KEY: "service:x"},
        {"short": "service"},
    ],
)
def test_bad_keys_or_roles_are_refused_by_settings(keys) -> None:
    with pytest.raises(ValidationError, match="api_keys"):
        Settings(api_keys=keys)


def test_roles_parse_and_keys_match_exactly() -> None:
    assert parse_role("merchant:m42") == Principal(Role.MERCHANT, "m42")
    assert parse_role("admin") == Principal(Role.ADMIN)
    ring = KeyRing({SERVICE_KEY: "service"})
    assert ring.principal(SERVICE_KEY) == Principal(Role.SERVICE)
    assert ring.principal(SERVICE_KEY[:-1]) is None
    assert ring.principal("") is None
    assert ring.principal(None) is None
