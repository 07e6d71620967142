"""Machine facts every scale benchmark writes beside its numbers (issue 13).

Cores, RAM, load average, library versions and the BLAS / OpenMP thread pools as threadpoolctl
sees them, so a reader can tell a slow box from a slow change.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

_LIBRARIES = (
    "numpy", "scipy", "implicit", "faiss-cpu", "scikit-learn", "pandas", "pyarrow",
    "fastapi", "uvicorn", "uvloop", "httptools",
)  # fmt: skip


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def versions() -> str:
    found = []
    for name in _LIBRARIES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def thread_pools() -> str:
    """BLAS / OpenMP pools loaded after numpy, scipy, implicit and faiss are imported."""
    import faiss  # noqa: F401  (loads its OpenMP)
    import implicit.cpu.als  # noqa: F401
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_info

    pools = {
        f"{p['internal_api']} {p.get('version') or ''} ({p['num_threads']} threads)".replace(
            "  ", " "
        )
        for p in threadpool_info()
    }
    env = {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")}
    return ", ".join(sorted(pools)) + (f"; env {env}" if env else "")


def describe() -> dict[str, str]:
    """The facts as a dict (JSON runs) — `render` turns it into a markdown line list."""
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cores": str(os.cpu_count()),
        "ram_gib": f"{mem:.1f}",
        "cpu": cpu,
        "python": platform.python_version(),
        "load_at_start": load_average(),
        "libraries": versions(),
        "threads": thread_pools(),
    }


def render(facts: dict[str, str]) -> list[str]:
    return [
        f"- machine: {facts['cores']} cores ({facts['cpu']}), {facts['ram_gib']} GiB RAM, "
        f"Python {facts['python']}",
        f"- load average (1/5/15 min) at start: {facts['load_at_start']}"
        + (f"; at end: {facts['load_at_end']}" if "load_at_end" in facts else ""),
        f"- libraries: {facts['libraries']}",
        f"- thread pools: {facts['threads']}",
    ]


def disk_bytes(folder: Path) -> int:
    """Bytes `folder`'s files take on disk, each file once: a bundle's identical files are
    hard links to one copy (`recsys.bundle.writer`)."""
    sizes = {}
    for path in folder.rglob("*"):
        if path.is_file():
            st = path.stat()
            sizes[st.st_ino] = st.st_size
    return sum(sizes.values())
