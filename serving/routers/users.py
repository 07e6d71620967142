"""A user's recommendations and circles (feed services)."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, Path, Query

from recsys.events.impressions import EntityKind, Shown
from serving.deps import SERVICE_ROUTES, ModelDep, StateDep
from serving.live import LiveDep, RequestIdDep
from serving.schemas.circles import UserCirclesOut
from serving.schemas.errors import NOT_FOUND, V1_ERRORS
from serving.schemas.items import RecommendationsOut

router = APIRouter(
    prefix="/v1/users", tags=["users"], dependencies=SERVICE_ROUTES, responses=V1_ERRORS
)

MAX_LIMIT = 100
UserId = Annotated[str, Path(min_length=1, max_length=256, description="The platform's user id.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many items to return.")]


RECOMMENDATIONS = "/{user_id}/recommendations"


@router.get(RECOMMENDATIONS, response_model=RecommendationsOut)
async def recommendations(
    user_id: UserId,
    model: ModelDep,
    state: StateDep,
    live: LiveDep,
    request_id: RequestIdDep,
    limit: Limit = 10,
) -> RecommendationsOut:
    """Items for the user, best first; an unknown user gets the global chain (popular).
    Events posted since the model was trained count at once (docs/events.md)."""
    recommend = functools.partial(model.recommend, user_id, limit, events=live.store)
    answer = await state.compute.run(recommend)
    state.metrics.answers.labels(step=answer.step.value).inc()
    live.impressions.record(Shown(
        request_id=request_id, route=router.prefix + RECOMMENDATIONS, viewer_id=user_id,
        model_version=answer.model_version, kind=EntityKind.ITEM,
        entity_ids=[i.item_id for i in answer.items], reasons=[i.reasons for i in answer.items],
    ))
    return RecommendationsOut.model_validate(answer)


@router.get("/{user_id}/circles", response_model=UserCirclesOut, responses=NOT_FOUND)
async def circles(user_id: UserId, model: ModelDep, state: StateDep) -> UserCirclesOut:
    """The user's affinity to every circle and the circles they are placed in."""
    return UserCirclesOut.model_validate(await state.compute.run(model.user_circles, user_id))
