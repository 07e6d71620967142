"""Liveness (the process answers) and readiness (a verified bundle is loaded)."""

from __future__ import annotations

from fastapi import APIRouter

from serving.deps import StateDep
from serving.errors import ApiError
from serving.schemas.errors import ErrorResponse
from serving.schemas.health import Alive, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Alive)
async def healthz() -> Alive:
    """The process is alive (says nothing about the model: see /readyz)."""
    return Alive()


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: {"model": ErrorResponse, "description": "No verified bundle loaded"}},
)
async def readyz(state: StateDep) -> Ready:
    """200 once a verified bundle is loaded; 503 with the reason otherwise."""
    model = state.store.current
    if model is None:
        raise ApiError(503, "not_ready", state.store.problem)
    return Ready(model_version=model.version)
