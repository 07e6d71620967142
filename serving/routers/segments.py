"""Merchant audience segments: build one, or start a job and read it back (docs/segments.md).

Merchant keys are scoped to their own items, brands, customers and jobs (the library's
`Scope`); a foreign or unknown id is the same 403. Admin keys are unscoped.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from recsys.segments import Scope, SegmentRequest
from serving.auth import Principal, Role
from serving.deps import KeyDep, ModelDep, StateDep, require_role
from serving.schemas.errors import V1_ERRORS
from serving.schemas.segments import JobOut, SegmentOut, SegmentUserOut
from serving.segment_service import SegmentService

router = APIRouter(
    prefix="/v1/segments",
    tags=["segments"],
    dependencies=[Depends(require_role(Role.MERCHANT, Role.ADMIN))],
    responses=V1_ERRORS,
)

MAX_PAGE = 10_000
JobId = Annotated[str, Path(min_length=1, max_length=64, description="From POST /v1/segments.")]


def get_segments(request: Request) -> SegmentService:
    return request.app.state.segments


SegmentsDep = Annotated[SegmentService, Depends(get_segments)]


def scope_of(principal: Principal) -> Scope:
    return Scope(principal.merchant_id if principal.role is Role.MERCHANT else None)


@router.post("", response_model=SegmentOut | JobOut, responses={202: {"model": JobOut}})
async def create(
    body: SegmentRequest,
    principal: KeyDep,
    model: ModelDep,
    state: StateDep,
    segments: SegmentsDep,
    response: Response,
) -> SegmentOut | JobOut:
    """Rank an audience for the target; requests larger than the sync limit answer 202 with a
    job to read from GET /v1/segments/{job_id}."""
    scope = scope_of(principal)
    segmenter = await state.compute.run(segments.segmenter, model)
    if body.bound(segmenter.n_users) <= segments.sync_max:
        return SegmentOut.from_segment(await state.compute.run(segmenter.build, body, scope))
    await state.compute.run(segmenter.resolve, body, scope)  # refused now, never queued
    job = await run_in_threadpool(segments.jobs.create, scope, body)
    response.status_code = 202
    response.headers["Location"] = f"/v1/segments/{job.job_id}"
    return JobOut.from_job(job)


@router.get("/{job_id}", response_model=JobOut)
async def job(
    job_id: JobId,
    principal: KeyDep,
    segments: SegmentsDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
) -> JobOut:
    """A job's state; when done, its reach and one page of its users (offset, limit)."""
    found = await run_in_threadpool(segments.jobs.get, job_id, scope_of(principal))
    if found.summary is None:
        return JobOut.from_job(found)
    ids, scores = await run_in_threadpool(segments.jobs.users, found, offset, limit)
    users = [SegmentUserOut(user_id=u, score=s) for u, s in zip(ids, scores, strict=True)]
    return JobOut.from_job(found, users, offset)
