"""The step timer records each step's time and memory, and reads another process's memory."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from recsys.training.timing import StepTimer, anon_rss_mb

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_a_step_records_its_seconds_and_the_memory_after_it() -> None:
    timer = StepTimer(("build",))
    with timer.step("build"):
        block = np.ones(50_000_000 // 8)  # 50 MB held past the step
    assert timer.timings["build"] >= 0
    assert timer.anon_rss_mb["build"] >= block.nbytes / 2**20
    assert timer.peak_rss_mb["build"] >= timer.anon_rss_mb["build"]


def test_another_process_is_read_while_it_lives_and_none_once_it_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert anon_rss_mb(child.pid) > 0
    finally:
        child.kill()
        child.wait()
    assert anon_rss_mb(child.pid) is None
