"""The durable job store: one claim per job, owners only, orphans put back, results paged."""

from __future__ import annotations

import subprocess
import sys

import pytest

from recsys.errors import ScopeError
from recsys.segments import Scope, SegmentRequest
from recsys.segments.jobs import JobStatus, JobStore

REQUEST = SegmentRequest.model_validate({"target": {"kind": "circle", "ids": ["c1"]}, "size": 200})


def test_jobs_are_claimed_once_and_read_by_their_owner_only(tmp_path, model, segmenter) -> None:
    store = JobStore(tmp_path)
    circle = model.catalogue.ids[0]
    request = SegmentRequest.model_validate({"target": {"kind": "circle", "ids": [circle]},
                                             "size": 200})  # fmt: skip
    job = store.create(Scope("m00000"), request)
    assert job.status is JobStatus.PENDING and job.request == request
    other = JobStore(tmp_path)  # another worker process sees the same jobs
    claimed = other.claim()
    assert claimed is not None and claimed.job_id == job.job_id
    assert store.claim() is None  # claimed once
    other.finish(job.job_id, segmenter.build(claimed.request, claimed.scope))
    done = store.get(job.job_id, Scope("m00000"))
    assert done.status is JobStatus.DONE and done.summary["size"] == 200
    ids, scores = store.users(done, 190, 50)
    assert len(ids) == len(scores) == 10
    assert store.get(job.job_id, Scope()).job_id == job.job_id  # admin
    with pytest.raises(ScopeError) as foreign:
        store.get(job.job_id, Scope("m00001"))
    with pytest.raises(ScopeError) as unknown:
        store.get("no-such-job", Scope("m00001"))
    assert str(foreign.value) == str(unknown.value)


def test_a_dead_workers_job_goes_back_to_pending(tmp_path) -> None:
    store = JobStore(tmp_path)
    job = store.create(Scope(), REQUEST)
    code = "import sys; from recsys.segments.jobs import JobStore; JobStore(sys.argv[1]).claim()"
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    assert store.get(job.job_id, Scope()).status is JobStatus.RUNNING
    assert store.requeue_orphans() == 1  # the claiming process has exited
    assert store.claim().job_id == job.job_id
    assert store.requeue_orphans() == 0  # this process is alive
    store.fail(job.job_id, "it broke")
    failed = store.get(job.job_id, Scope())
    assert failed.status is JobStatus.FAILED and failed.error == "it broke"
