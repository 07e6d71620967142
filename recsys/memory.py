"""How much memory this machine has, and the share of it DuckDB may take before it spills.

DuckDB's default limit is 80% of the machine: a training process that also holds the
interaction log and the model's arrays then peaks near the whole machine (22.8 GB of 23.5 on the
10M-user workload, in the interactions step). Ingest and training give DuckDB a stated share.
"""

from __future__ import annotations

import os


def physical_memory_bytes() -> int:
    """This machine's physical memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def duckdb_memory_limit(share: float, *, floor_mb: int = 2000) -> str:
    """A DuckDB `memory_limit` of `share` of this machine's memory, at least `floor_mb` MB."""
    return f"{max(floor_mb, int(physical_memory_bytes() * share) // 10**6)}MB"
