from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from serving.state import StateDep

router = APIRouter(prefix="/circles", tags=["circles"])


class CircleOut(BaseModel):
    circle_id: str
    name_zh: str
    name_en: str
    categories: list[str]


@router.get("", response_model=list[CircleOut])
def list_circles(state: StateDep) -> list[CircleOut]:
    return [
        CircleOut(
            circle_id=c.circle_id,
            name_zh=c.name_zh,
            name_en=c.name_en,
            categories=list(c.categories),
        )
        for c in state.catalogue.circles
    ]
