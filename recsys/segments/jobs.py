"""Segment jobs: durable state in SQLite, results as Parquet, owned by their creator.

Large requests run in the background; every server worker shares one jobs folder, so any of
them can answer for any job. A job is claimed by one worker with a single UPDATE (SQLite
serialises writers); a job whose worker process died is put back to pending by the next look
(`requeue_orphans`). A caller reads only jobs it owns: another merchant's job and a job that
does not exist are refused with the same ScopeError.

Layout: ``JOBS_DIR/segments.sqlite`` and ``JOBS_DIR/segments/<job_id>.parquet``.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from recsys.errors import ScopeError
from recsys.segments.build import Segment
from recsys.segments.export import summary, write_segment
from recsys.segments.request import SegmentRequest
from recsys.segments.scope import Scope

DB_NAME = "segments.sqlite"
RESULTS = "segments"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    worker_pid INTEGER,
    summary TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_pending ON jobs (status, created_at);
"""


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    job_id: str
    owner: str
    status: JobStatus
    request: SegmentRequest
    created_at: float
    started_at: float | None
    finished_at: float | None
    summary: dict[str, Any] | None
    error: str | None

    @property
    def scope(self) -> Scope:
        """The scope the job runs under (its creator's)."""
        name, _, merchant = self.owner.partition(":")
        return Scope(merchant if name == "merchant" else None)


def unknown_job() -> ScopeError:
    """The one refusal for a job that is not the caller's, whether or not it exists."""
    return ScopeError("no segment job with this id belongs to this caller")


class JobStore:
    """Segment jobs below `root` (created on first use)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.results = self.root / RESULTS
        self.results.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.root / DB_NAME, timeout=30, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.row_factory = sqlite3.Row
            yield con
        finally:
            con.close()

    def result_path(self, job_id: str) -> Path:
        return self.results / f"{job_id}.parquet"

    def create(self, scope: Scope, request: SegmentRequest) -> Job:
        job_id = secrets.token_urlsafe(16)
        with self._connect() as con:
            con.execute(
                "INSERT INTO jobs (job_id, owner, status, request, created_at) VALUES (?,?,?,?,?)",
                (job_id, scope.owner, JobStatus.PENDING, request.model_dump_json(), time.time()),
            )
        return self.get(job_id, scope)

    def get(self, job_id: str, scope: Scope) -> Job:
        """The job, if `scope` may read it (its owner, or an unscoped caller)."""
        with self._connect() as con:
            row = con.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None or (scope.merchant_id is not None and row["owner"] != scope.owner):
            raise unknown_job()
        return _job(row)

    def claim(self) -> Job | None:
        """Take the oldest pending job for this process, or None."""
        with self._connect() as con:
            row = con.execute(
                "UPDATE jobs SET status = ?, started_at = ?, worker_pid = ? WHERE job_id = ("
                "SELECT job_id FROM jobs WHERE status = ? ORDER BY created_at, job_id LIMIT 1) "
                "AND status = ? RETURNING *",
                (
                    JobStatus.RUNNING,
                    time.time(),
                    os.getpid(),
                    JobStatus.PENDING,
                    JobStatus.PENDING,
                ),  # fmt: skip
            ).fetchone()
        return None if row is None else _job(row)

    def finish(self, job_id: str, segment: Segment) -> None:
        write_segment(segment, self.result_path(job_id))
        self._close(job_id, JobStatus.DONE, summary=json.dumps(summary(segment)))

    def fail(self, job_id: str, message: str) -> None:
        self._close(job_id, JobStatus.FAILED, error=message)

    def _close(self, job_id: str, status: JobStatus, **values: str) -> None:
        with self._connect() as con:
            con.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, summary = ?, error = ? "
                "WHERE job_id = ?",
                (status, time.time(), values.get("summary"), values.get("error"), job_id),
            )

    def requeue_orphans(self) -> int:
        """Put running jobs whose worker process is gone back to pending; how many."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT job_id, worker_pid FROM jobs WHERE status = ?", (JobStatus.RUNNING,)
            ).fetchall()
            dead = [r["job_id"] for r in rows if not _alive(r["worker_pid"])]
            for job_id in dead:
                con.execute(
                    "UPDATE jobs SET status = ?, worker_pid = NULL WHERE job_id = ? AND status = ?",
                    (JobStatus.PENDING, job_id, JobStatus.RUNNING),
                )
        return len(dead)

    def users(self, job: Job, offset: int, limit: int) -> tuple[list[str], list[float]]:
        """One page of a finished job's users and scores, best first."""
        table = pq.read_table(self.result_path(job.job_id)).slice(offset, limit)
        return table["user_id"].to_pylist(), table["score"].to_pylist()


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _job(row: sqlite3.Row) -> Job:
    return Job(
        job_id=row["job_id"],
        owner=row["owner"],
        status=JobStatus(row["status"]),
        request=SegmentRequest.model_validate_json(row["request"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        summary=None if row["summary"] is None else json.loads(row["summary"]),
        error=row["error"],
    )
