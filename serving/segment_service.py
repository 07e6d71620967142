"""Segments in the server: one `Segmenter` per served model, and the background job runner.

Every worker runs one job thread: it puts back jobs whose worker died, claims the oldest
pending job, builds it with the model this worker serves and stores the result, so jobs
survive a worker and any worker answers for any job. The thread pins its BLAS pools like the
compute threads do.
"""

from __future__ import annotations

import logging
import threading

from threadpoolctl import threadpool_limits

from recsys.errors import RecsysError
from recsys.runtime import RuntimeModel
from recsys.segments import SegmentConfig, Segmenter
from recsys.segments.jobs import Job, JobStore
from serving.model_store import ModelStore
from serving.settings import Settings

logger = logging.getLogger(__name__)


class SegmentService:
    """The segmenter of the current model (built on first use) and the job runner."""

    def __init__(self, settings: Settings, store: ModelStore) -> None:
        self.config = SegmentConfig(floor=settings.segment_floor)
        self.sync_max = settings.segment_sync_max
        self.jobs = JobStore(settings.segment_jobs_path)
        self._store = store
        self._poll = settings.poll_interval
        self._blas_threads = settings.blas_threads
        self._current: Segmenter | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def segmenter(self, model: RuntimeModel) -> Segmenter:
        """The segmenter of `model`, made once per model version (it reads every user once)."""
        current = self._current
        if current is not None and current.version == model.version:
            return current
        with self._lock:
            current = self._current
            if current is None or current.version != model.version:
                current = Segmenter(model.parts, model.version, self.config)
                self._current = current
            return current

    # -- jobs ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._work, name="recsys-segment-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def run_one(self) -> Job | None:
        """Claim and run one pending job (None when there is none or no model is loaded)."""
        model = self._store.current
        if model is None:
            return None
        self.jobs.requeue_orphans()
        job = self.jobs.claim()
        if job is None:
            return None
        try:
            segment = self.segmenter(model).build(job.request, job.scope)
        except RecsysError as exc:
            self.jobs.fail(job.job_id, str(exc))
        except Exception:  # a job must never take the runner down
            logger.exception("segment job %s failed", job.job_id)
            self.jobs.fail(job.job_id, "internal error")
        else:
            self.jobs.finish(job.job_id, segment)
        return job

    def _work(self) -> None:
        threadpool_limits(limits=self._blas_threads)
        while not self._stop.is_set():
            try:
                ran = self.run_one()
            except Exception:  # the runner must outlive any one bad look at the store
                logger.exception("segment job runner: look at %s failed", self.jobs.root)
                ran = None
            if ran is None:
                self._stop.wait(self._poll)
