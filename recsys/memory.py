"""How much memory this machine has, the share of it DuckDB may take before it spills, and
handing freed heap back to the system between the steps of a long job.

DuckDB's default limit is 80% of the machine: a training process that also holds the
interaction log and the model's arrays then peaks near the whole machine (22.8 GB of 23.5 on the
10M-user workload, in the interactions step). Ingest and training give DuckDB a stated share.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable, Iterator

import pyarrow as pa


def physical_memory_bytes() -> int:
    """This machine's physical memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def available_memory_bytes() -> int:
    """Memory the kernel says a new allocation can have now (MemAvailable), or the machine's
    physical memory where /proc/meminfo does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return physical_memory_bytes()


def memory_limit_mb(share: float, physical: int, available: int, *, floor_mb: int = 2000) -> int:
    """`share` of the machine, but no more than half of what is available now, at least
    `floor_mb` MB: a query late in a 10M-user training (the share step's engagement) must
    spill where the process around it already holds most of the machine."""
    return max(floor_mb, min(int(physical * share), available // 2) // 10**6)


def duckdb_memory_limit(share: float, *, floor_mb: int = 2000) -> str:
    """A DuckDB `memory_limit` for this machine now (`memory_limit_mb`)."""
    limit = memory_limit_mb(share, physical_memory_bytes(), available_memory_bytes(),
                            floor_mb=floor_mb)
    return f"{limit}MB"


def release_free_memory() -> bool:
    """Return the C heap's free pages to the system (glibc's `malloc_trim`); False where the
    C library has none.

    numpy takes arrays below glibc's mmap threshold (up to 32 MB) from the heap, and freed
    heap stays mapped to the process: after a step that built millions of such arrays (the
    ranked step's per-batch dense scores over a 1M-item catalogue) the 10M-user training
    carried gigabytes of free heap into the next step.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@contextlib.contextmanager
def system_arrow_pool() -> Iterator[None]:
    """Arrow allocates from the C library's heap inside the block, so freed tables go back
    with `release_free_memory`.

    Arrow's default pool (mimalloc in the wheels) keeps what a freed table held: reading the
    1M-user event log as a table and freeing it left the process 1.8 GB larger, against 62 MB
    with the system pool and a trim. A training reads dozens of tables; at 10M users that is
    gigabytes carried into every later step.
    """
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, looked up once (None without it)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
