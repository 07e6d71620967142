"""Live rows in: events, group buys and posts between retrains (feed services).

Each batch is judged by the ingest rules and what passes is stored durably before the answer
(`serving.live`, docs/events.md): a 200 means every `accepted` row is on disk.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from recsys.events.judge import RowResult
from serving.deps import SERVICE_ROUTES, ModelDep
from serving.live import LiveDep, LiveState
from serving.schemas.errors import V1_ERRORS
from serving.schemas.events import (
    BatchOut,
    EventsIn,
    GroupBuysIn,
    PostsIn,
    RowResultOut,
)

router = APIRouter(prefix="/v1", tags=["events"], dependencies=SERVICE_ROUTES, responses=V1_ERRORS)


@router.post("/events", response_model=BatchOut)
async def post_events(body: EventsIn, model: ModelDep, live: LiveDep) -> BatchOut:
    """Store user actions; each row is accepted, a duplicate, or rejected with its reason."""
    return await _judge(live, model, "events", body.events)


@router.post("/group-buys", response_model=BatchOut)
async def post_group_buys(body: GroupBuysIn, model: ModelDep, live: LiveDep) -> BatchOut:
    """Store group buys opened since the model was trained, so events can start and join them."""
    return await _judge(live, model, "group_buys", body.group_buys)


@router.post("/posts", response_model=BatchOut)
async def post_posts(body: PostsIn, model: ModelDep, live: LiveDep) -> BatchOut:
    """Store UGC posts written since the model was trained, so events can name them."""
    return await _judge(live, model, "posts", body.posts)


async def _judge(
    live: LiveState, model: ModelDep, table: str, rows: Sequence[BaseModel]
) -> BatchOut:
    limit = live.settings.max_event_batch
    if len(rows) > limit:
        raise RequestValidationError([{
            "loc": ("body", table), "type": "too_long",
            "msg": f"{len(rows)} rows in one batch; at most {limit} (RECSYS_MAX_EVENT_BATCH)",
        }])
    results = await live.judge(table, model, [r.model_dump() for r in rows])
    return _out(results)


def _out(results: list[RowResult]) -> BatchOut:
    out = [
        RowResultOut(status=r.status.value, id=r.key, field=r.field, reason=r.reason)
        for r in results
    ]
    counts = {s: sum(1 for r in out if r.status == s) for s in ("accepted", "duplicate",
                                                               "rejected")}
    return BatchOut(results=out, **counts)
