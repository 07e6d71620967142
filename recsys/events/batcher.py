"""Group commit: batches posted at the same time are judged and stored together.

Judging a batch costs mostly a fixed price (DuckDB plans the rule SQL, the store fsyncs its
commit), about the same for 100 rows as for 1,000. So one thread per table takes every batch
waiting, up to `max_rows`, and judges them in one pass with one durable commit
(`Judge.judge_batches`), each batch as its own source file; each caller then gets its own
results. A caller waits for a Future that resolves only after the commit: acknowledged means
stored. With one client at a time this is plain one-batch-per-commit.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from recsys.events.judge import Judge, RowResult, Scalar

logger = logging.getLogger(__name__)

Rows = Sequence[Mapping[str, Scalar]]


@dataclass
class _Request:
    judge: Judge
    rows: Rows
    future: Future[list[RowResult]] = field(default_factory=Future)


class GroupCommit:
    """One judging thread for one table; `submit` from any thread."""

    def __init__(self, table: str, *, max_rows: int = 5_000) -> None:
        self.table = table
        self.max_rows = max_rows
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._thread = threading.Thread(
            target=self._run, name=f"recsys-judge-{table}", daemon=True
        )
        self._thread.start()

    def submit(self, judge: Judge, rows: Rows) -> Future[list[RowResult]]:
        """Queue a batch; its Future resolves to one result per row once they are stored (or
        to the exception judging raised)."""
        request = _Request(judge, rows)
        self._queue.put(request)
        return request.future

    def close(self) -> None:
        """Finish the batches already queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=60)

    def _take(self, first: _Request) -> tuple[list[_Request], bool]:
        """`first` and the batches waiting behind it for the same judge, up to max_rows."""
        group, rows, stop = [first], len(first.rows), False
        while rows < self.max_rows:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                stop = True
                break
            if nxt.judge is not first.judge:  # another model version: its own pass
                self._judge([nxt])
                continue
            group.append(nxt)
            rows += len(nxt.rows)
        return group, stop

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, stop = self._take(first)
            self._judge(group)
            if stop:
                return

    def _judge(self, group: list[_Request]) -> None:
        try:
            results = group[0].judge.judge_batches(self.table, [r.rows for r in group])
        except BaseException as exc:  # every waiting caller learns of it; the thread goes on
            logger.exception("judging %d %s batches failed", len(group), self.table)
            for request in group:
                request.future.set_exception(exc)
            return
        for request, result in zip(group, results, strict=True):
            request.future.set_result(result)
