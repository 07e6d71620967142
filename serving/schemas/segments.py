"""Segment answers: user ids and scores, the back-tested reach, and job states.

Built from the library's `Segment` and `Job` by attributes; nothing here holds anyone's
behaviour (the reach curve is counts over the whole audience).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from recsys.segments import Segment
from recsys.segments.export import summary
from recsys.segments.jobs import Job, JobStatus


class ReachPointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    size: int = Field(description="Audience size (the best `size` users).")
    buyers: int = Field(description="Of them, buyers of the target after the back-test's cut.")
    precision: float
    recall: float


class ReachOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    curve: list[ReachPointOut] = Field(description="Growing audience sizes; empty with a reason.")
    reason: str | None = Field(None, description="Why there is no curve.")
    cut: str | None = Field(None, description="The back-test's cut (ISO time).")
    days: float | None = Field(None, description="Length of the held-out period after the cut.")
    expected_buyers: int | None = Field(
        None, description="Buyers in the back-tested audience of this segment's size."
    )
    sampled: int | None = Field(
        None,
        description="Users besides the buyers the curve was estimated from, a seeded sample "
        "of the eligible ones (null: everyone was ranked and the curve is a count).",
    )


class SegmentUserOut(BaseModel):
    user_id: str
    score: float


class SegmentOut(BaseModel):
    model_version: str
    kind: str
    size: int = Field(description="Users in the segment (this page may hold fewer).")
    eligible: int = Field(description="Users the filters leave and the target can rank.")
    reach: ReachOut
    users: list[SegmentUserOut] = Field(description="Best first.")

    @classmethod
    def from_segment(cls, segment: Segment) -> SegmentOut:
        users = [
            SegmentUserOut(user_id=str(u), score=float(s))
            for u, s in zip(segment.user_ids, segment.scores, strict=True)
        ]
        return cls.from_summary(summary(segment), users)

    @classmethod
    def from_summary(cls, data: dict[str, Any], users: list[SegmentUserOut]) -> SegmentOut:
        return cls.model_validate({**data, "users": users})


class JobOut(BaseModel):
    job_id: str
    status: JobStatus
    created_at: float
    finished_at: float | None = None
    error: str | None = Field(None, description="Why a failed job failed.")
    offset: int = 0
    segment: SegmentOut | None = Field(None, description="When done: one page of the users.")

    @classmethod
    def from_job(
        cls, job: Job, users: list[SegmentUserOut] | None = None, offset: int = 0
    ) -> JobOut:
        segment = None
        if job.status is JobStatus.DONE and job.summary is not None:
            segment = SegmentOut.from_summary(job.summary, users or [])
        return cls(job_id=job.job_id, status=job.status, created_at=job.created_at,
                   finished_at=job.finished_at, error=job.error, offset=offset,
                   segment=segment)  # fmt: skip
