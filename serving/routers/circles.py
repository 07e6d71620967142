"""The circle catalogue the served bundle was trained with."""

from __future__ import annotations

from fastapi import APIRouter

from serving.deps import ANY_KEY_ROUTES, ModelDep
from serving.schemas.circles import CatalogueOut
from serving.schemas.errors import V1_ERRORS

router = APIRouter(
    prefix="/v1/circles", tags=["circles"], dependencies=ANY_KEY_ROUTES, responses=V1_ERRORS
)


@router.get("", response_model=CatalogueOut)
async def catalogue(model: ModelDep) -> CatalogueOut:
    """Every circle with its names and item categories (any valid key)."""
    return CatalogueOut.from_catalogue(model.catalogue, model.version)
