"""Time and log each pipeline step, so the manifest records where a run spent its time."""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from tqdm import tqdm

from recsys.memory import release_free_memory

logger = logging.getLogger("recsys.pipeline")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def anon_rss_mb(pid: int | None = None) -> float | None:
    """The anonymous resident memory of process `pid` (this one when None) now, in MiB
    (Linux; None elsewhere or once the process is gone).

    The peak RSS also counts the file pages of memory-mapped bundle parts, which the kernel
    may drop; the anonymous part is what the process holds."""
    try:
        with open(f"/proc/{pid or 'self'}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


class StepTimer:
    """Collects `{step: seconds}` and the process's peak RSS after each step, and logs both.

    Given the planned step names, it also shows one progress bar over the whole job (the
    steps' own bars, where they have one, show progress inside a step).
    """

    def __init__(self, planned: Sequence[str] = (), *, desc: str = "steps") -> None:
        self.timings: dict[str, float] = {}
        self.peak_rss_mb: dict[str, float] = {}
        self.anon_rss_mb: dict[str, float] = {}  # after each step (and its trim)
        self._bar = tqdm(total=len(planned), desc=desc, unit="step", disable=not planned)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        logger.info("step %s: started", name)
        self._bar.set_postfix_str(name)
        start = time.perf_counter()
        try:
            yield
        except BaseException:
            self._bar.close()  # an error message must start its own line, not trail the bar
            raise
        seconds = time.perf_counter() - start
        release_free_memory()  # the step's freed heap goes back before the next one runs
        self.timings[name] = round(seconds, 3)
        self.peak_rss_mb[name] = round(peak_rss_mb(), 1)
        anon = anon_rss_mb()
        if anon is not None:
            self.anon_rss_mb[name] = round(anon, 1)
        self._bar.update()
        if self._bar.n >= self._bar.total:
            self._bar.close()
        logger.info("step %s: done in %.2fs (peak RSS %.0f MiB%s)", name, seconds, peak_rss_mb(),
                    "" if anon is None else f", anonymous now {anon:.0f} MiB")  # fmt: skip
