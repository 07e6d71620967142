"""Typed dependencies: the caller's key and role, and the model a request answers with."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from recsys.runtime import RuntimeModel
from serving.auth import KeyRing, Principal, Role
from serving.compute import ComputePool
from serving.errors import ApiError
from serving.metrics import ServingMetrics
from serving.model_store import ModelStore
from serving.settings import Settings

API_KEY_HEADER = "X-API-Key"
MODEL_VERSION_HEADER = "X-Model-Version"

_api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="A key from RECSYS_API_KEYS; its role decides which routes it may call.",
)


@dataclass
class AppState:
    """What one app holds for its requests (built in `lifespan`)."""

    settings: Settings
    keys: KeyRing
    store: ModelStore
    metrics: ServingMetrics
    compute: ComputePool


def get_state(request: Request) -> AppState:
    return request.app.state.recsys


StateDep = Annotated[AppState, Depends(get_state)]


async def get_principal(
    state: StateDep, key: Annotated[str | None, Security(_api_key)]
) -> Principal:
    """The caller behind X-API-Key; 401 when the header is missing or names no key."""
    if not key:
        raise ApiError(401, "unauthorized", f"missing {API_KEY_HEADER} header")
    principal = state.keys.principal(key)
    if principal is None:
        raise ApiError(401, "unauthorized", f"{API_KEY_HEADER} is not a valid key")
    return principal


KeyDep = Annotated[Principal, Depends(get_principal)]


def require_role(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that lets only keys of `roles` through (403 for other valid keys)."""
    allowed = ", ".join(role.value for role in roles)

    async def check(principal: KeyDep) -> Principal:
        if principal.role not in roles:
            raise ApiError(
                403,
                "forbidden",
                f"a {principal.role.value} key may not call this route (allowed: {allowed})",
            )
        return principal

    return check


#: Router dependencies, checked before anything else a route needs. Feed services and admins:
#: every user and item route.
SERVICE_ROUTES = [Depends(require_role(Role.SERVICE, Role.ADMIN))]
#: Any valid key: read-only reference data such as the circle catalogue.
ANY_KEY_ROUTES = [Depends(get_principal)]


async def get_model(request: Request, state: StateDep) -> RuntimeModel:
    """The model this request answers with, taken once so a swap cannot change it mid-way."""
    model = state.store.current
    if model is None:
        raise ApiError(503, "not_ready", state.store.problem)
    request.state.model_version = model.version
    return model


ModelDep = Annotated[RuntimeModel, Depends(get_model)]
