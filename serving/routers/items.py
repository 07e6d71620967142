"""An item's neighbours (feed services)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from serving.deps import SERVICE_ROUTES, ModelDep, StateDep
from serving.routers.users import Limit
from serving.schemas.errors import NOT_FOUND, V1_ERRORS
from serving.schemas.items import SimilarItemsOut

router = APIRouter(
    prefix="/v1/items",
    tags=["items"],
    dependencies=SERVICE_ROUTES,
    responses={**V1_ERRORS, **NOT_FOUND},
)

ItemId = Annotated[str, Path(min_length=1, max_length=256, description="The platform's item id.")]


@router.get("/{item_id}/similar", response_model=SimilarItemsOut)
async def similar(
    item_id: ItemId, model: ModelDep, state: StateDep, limit: Limit = 10
) -> SimilarItemsOut:
    """Items most like this one, most similar first; 404 for an item the bundle does not know."""
    answer = await state.compute.run(model.similar_items, item_id, limit)
    return SimilarItemsOut.model_validate(answer)
