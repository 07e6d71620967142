"""The threads that run model calls, each with its BLAS/OpenMP pools pinned.

OpenMP keeps its thread count per calling thread, so a limit set once at start-up does not reach
the threads that later answer requests. Model calls therefore run in this pool, whose threads
pin themselves (threadpoolctl) when they start: a worker uses at most
`threads x blas_threads` cores, and workers do not oversubscribe the machine.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

T = TypeVar("T")


def _pin(blas_threads: int) -> None:
    threadpool_limits(limits=blas_threads)


class ComputePool:
    """Runs blocking model calls off the event loop on pinned threads."""

    def __init__(self, *, threads: int, blas_threads: int) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=threads,
            thread_name_prefix="recsys-compute",
            initializer=_pin,
            initargs=(blas_threads,),
        )

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
