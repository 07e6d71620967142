from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from serving.state import StateDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    promoted_version: str | None
    n_circles: int


@router.get("/health", response_model=Health)
def health(state: StateDep) -> Health:
    return Health(
        status="ok", promoted_version=state.promoted_version, n_circles=len(state.catalogue)
    )
