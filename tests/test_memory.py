"""Memory sizing and release (recsys/memory.py)."""

from __future__ import annotations

import re
import sys

import numpy as np

from recsys.memory import (
    available_memory_bytes,
    duckdb_memory_limit,
    memory_limit_mb,
    physical_memory_bytes,
    release_free_memory,
    system_arrow_pool,
)


def _anon_kib() -> int:
    with open("/proc/self/status") as fh:
        return int(re.search(r"RssAnon:\s+(\d+)", fh.read()).group(1))


def test_duckdb_limit_is_a_share_of_the_machine_within_half_of_what_is_free() -> None:
    gb = 10**9
    assert memory_limit_mb(0.25, 24 * gb, 23 * gb) == 6000  # a fresh process: the share
    assert memory_limit_mb(0.25, 24 * gb, 6 * gb) == 3000  # late in a big job: half the free
    assert memory_limit_mb(0.25, 24 * gb, gb) == 2000  # never below the floor
    assert 0 < available_memory_bytes() <= physical_memory_bytes()
    assert duckdb_memory_limit(1e-12) == "2000MB"


def test_freed_heap_goes_back_to_the_system() -> None:
    """Arrays below glibc's mmap threshold live on the heap; freed, they stay mapped until
    trimmed. Interleaved keepers pin the heap's top, so only a trim can return the holes."""
    if not sys.platform.startswith("linux"):
        assert release_free_memory() in (True, False)
        return
    release_free_memory()
    # A freed 1 MiB array raises glibc's dynamic mmap threshold past the blocks' size, so the
    # blocks come from the heap as numpy's mid-sized arrays do in a long run.
    freed = np.ones(1 << 17, np.float64)
    del freed
    blocks = [np.ones(1 << 14, np.float64) for _ in range(3000)]  # 128 KiB each: 375 MiB
    keep = blocks[::50]
    del blocks
    before = _anon_kib()
    assert release_free_memory()
    after = _anon_kib()
    assert before - after > 150 * 1024, (before, after)
    del keep


def test_tables_freed_inside_the_system_arrow_pool_go_back_to_the_system(tmp_path) -> None:
    """Arrow's default pool (mimalloc) kept ~220 MiB of this freed 96 MiB table and its frame;
    the system pool and a trim keep a fraction of it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not sys.platform.startswith("linux"):
        return
    n = 1 << 22
    path = tmp_path / "t.parquet"
    columns = {c: np.arange(n, dtype=np.int64) * (i + 1) for i, c in enumerate("abc")}
    pq.write_table(pa.table(columns), path, row_group_size=1 << 16)
    del columns
    before_pool = pa.default_memory_pool().backend_name
    with system_arrow_pool():
        assert pa.default_memory_pool().backend_name == "system"
        release_free_memory()
        base = _anon_kib()
        table = pq.read_table(path)
        frame = table.to_pandas()
        del table, frame
        release_free_memory()
        assert _anon_kib() - base < 128 * 1024
    assert pa.default_memory_pool().backend_name == before_pool
