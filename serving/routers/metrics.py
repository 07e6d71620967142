"""Prometheus exposition of every worker's metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from serving.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics(state: StateDep) -> Response:
    """Requests and latency per route, model version, answers per fallback step, swaps."""
    body, content_type = state.metrics.render()
    return Response(content=body, media_type=content_type)
