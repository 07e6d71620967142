"""Time and log each pipeline step, so the manifest records where a run spent its time."""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger("recsys.pipeline")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class StepTimer:
    """Collects `{step: seconds}` and the process's peak RSS after each step, and logs both."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.peak_rss_mb: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        logger.info("step %s: started", name)
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.timings[name] = round(seconds, 3)
        self.peak_rss_mb[name] = round(peak_rss_mb(), 1)
        logger.info("step %s: done in %.2fs (peak RSS %.0f MiB)", name, seconds, peak_rss_mb())
