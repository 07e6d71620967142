"""Feeds: a user's home feed and a circle feed for a user (feed services), paged by cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from recsys.events.impressions import EntityKind, Shown
from recsys.feeds.circle_feed import PostPage
from recsys.feeds.feed import FeedPage
from serving.deps import SERVICE_ROUTES, ModelDep, StateDep
from serving.feeds import FeedsDep
from serving.live import LiveDep, RequestIdDep
from serving.schemas.errors import NOT_FOUND, V1_ERRORS
from serving.schemas.feeds import CircleFeedOut, FeedOut

router = APIRouter(prefix="/v1", tags=["feeds"], dependencies=SERVICE_ROUTES, responses=V1_ERRORS)

MAX_LIMIT = 100
UserId = Annotated[str, Path(min_length=1, max_length=256, description="The platform's user id.")]
CircleId = Annotated[str, Path(min_length=1, max_length=256, description="A circle id.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many entries to return.")]
Cursor = Annotated[str | None, Query(
    max_length=8192, description="The previous page's `next_cursor` (omit for the first page).")]

USER_FEED = "/users/{user_id}/feed"
CIRCLE_FEED = "/circles/{circle_id}/feed"


@router.get(USER_FEED, response_model=FeedOut)
async def user_feed(
    user_id: UserId, model: ModelDep, state: StateDep, live: LiveDep, feeds: FeedsDep,
    request_id: RequestIdDep, limit: Limit = 10, cursor: Cursor = None,
) -> FeedOut:
    """The user's feed: the plain order, hard rules, re-rankers (long tail, diversity, caps),
    reasons on every item. A tampered or foreign cursor is a 422 naming `cursor`."""

    def page() -> FeedPage:
        shown = feeds.shown(user_id, EntityKind.ITEM)
        return feeds.feed(model).page(user_id, limit, cursor, events=live.store, shown=shown)

    answer = await state.compute.run(page)
    live.impressions.record(Shown(
        request_id=request_id, route=router.prefix + USER_FEED, viewer_id=user_id,
        model_version=answer.model_version, kind=EntityKind.ITEM,
        entity_ids=[i.item_id for i in answer.items], reasons=[i.reasons for i in answer.items],
    ))
    return FeedOut.model_validate(answer)


@router.get(CIRCLE_FEED, response_model=CircleFeedOut, responses=NOT_FOUND)
async def circle_feed(
    circle_id: CircleId, model: ModelDep, state: StateDep, live: LiveDep, feeds: FeedsDep,
    request_id: RequestIdDep,
    user_id: Annotated[str, Query(min_length=1, max_length=256, description="The viewer.")],
    limit: Limit = 10, cursor: Cursor = None,
) -> CircleFeedOut:
    """The circle's live posts ranked for the user (friendship and affinity to the author,
    the post's item, freshness, engagement); 404 for an unknown circle."""

    def page() -> PostPage:
        shown = feeds.shown(user_id, EntityKind.POST)
        return feeds.circle_feed(model).page(circle_id, user_id, limit, cursor,
                                             events=live.store, shown=shown)

    answer = await state.compute.run(page)
    live.impressions.record(Shown(
        request_id=request_id, route=router.prefix + CIRCLE_FEED, viewer_id=user_id,
        model_version=answer.model_version, kind=EntityKind.POST,
        entity_ids=[p.post_id for p in answer.posts], reasons=[p.reasons for p in answer.posts],
    ))
    return CircleFeedOut.model_validate(answer)
