"""The impression log: what was shown to whom, for frequency caps, ranker negatives, A/B tests.

Every answer (recommendations now; feed pages, share-target lists and circle feeds later)
records one row per entity shown: route, entity kind (item, post, friend), entity id, position,
reasons, model version and request id. The request path only puts the answer on a bounded
queue (`record` never blocks and never does I/O); a background thread writes what is queued in
batches, one transaction each. A full queue drops the answer and counts it (`dropped`): the log
must never slow an answer down.

Per-(viewer, kind, entity) counts (`impression_counts`: times shown, last shown) are updated in
the same transaction, so a frequency cap reads one indexed row. Retention: after each batch,
rows older than `retention_days` and beyond the newest `max_rows` are deleted, with counts not
shown since the retention window. The platform would write about a billion rows a day, so in
production this interface writes to a log pipeline (Kafka into a column store); the embedded
SQLite file is the single-machine default.

A file of its own, not a table in the event store: impressions are written at a hundred times
the rate of events and may lose the last moments on a power cut (``synchronous=NORMAL``),
whereas events are acknowledged only once fsynced (``FULL``). Separate files keep the two
write streams from queueing on one SQLite write lock and let each have its own durability.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from recsys.errors import ConfigError

logger = logging.getLogger(__name__)

US_PER_DAY = 86_400 * 1_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS impressions (
    id INTEGER PRIMARY KEY, ts_us INTEGER NOT NULL, request_id TEXT NOT NULL,
    route TEXT NOT NULL, viewer_id TEXT NOT NULL, entity_kind TEXT NOT NULL,
    entity_id TEXT NOT NULL, position INTEGER NOT NULL, reasons TEXT NOT NULL,
    model_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS impressions_by_time ON impressions (ts_us);
CREATE INDEX IF NOT EXISTS impressions_by_request ON impressions (request_id);
CREATE INDEX IF NOT EXISTS impressions_by_viewer ON impressions (viewer_id, entity_kind, ts_us);
CREATE TABLE IF NOT EXISTS impression_counts (
    viewer_id TEXT NOT NULL, entity_kind TEXT NOT NULL, entity_id TEXT NOT NULL,
    shown INTEGER NOT NULL, last_us INTEGER NOT NULL,
    PRIMARY KEY (viewer_id, entity_kind, entity_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS impression_counts_by_time ON impression_counts (last_us);
"""


class EntityKind(StrEnum):
    ITEM = "item"
    POST = "post"
    FRIEND = "friend"


@dataclass(frozen=True)
class Shown:
    """One answer: the entities shown to a viewer, in position order (0 = first)."""

    request_id: str
    route: str
    viewer_id: str
    model_version: str
    kind: EntityKind
    entity_ids: Sequence[str]
    reasons: Sequence[Sequence[str]]
    ts_us: int = 0  # 0: the time it is recorded


class ImpressionLog:
    """A bounded queue in front of a writer thread and one SQLite file.

    Parameters
    ----------
    path : the SQLite file (created with its folder).
    max_rows : keep at most this many impression rows (the oldest go first); 0: no limit.
    retention_days : delete rows (and counts) older than this; 0: no limit.
    queue_size : answers waiting to be written; beyond it answers are dropped and counted.
    batch_rows : write at most this many rows per transaction.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_rows: int = 10_000_000,
        retention_days: float = 30.0,
        queue_size: int = 10_000,
        batch_rows: int = 5_000,
    ) -> None:
        if max_rows < 0 or retention_days < 0 or queue_size < 1 or batch_rows < 1:
            raise ConfigError(
                "impression log: max_rows and retention_days must be >= 0, queue_size and "
                f"batch_rows >= 1; got {max_rows}, {retention_days}, {queue_size}, {batch_rows}"
            )
        self.path = Path(path)
        self.max_rows = max_rows
        self.retention_us = int(retention_days * US_PER_DAY)
        self.batch_rows = batch_rows
        self.dropped = 0
        self.written = 0
        self._queue: queue.Queue[Shown | None] = queue.Queue(maxsize=queue_size)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con:
            con.executescript(_SCHEMA)
        self._thread = threading.Thread(target=self._run, name="recsys-impressions", daemon=True)
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    # -- the request path --------------------------------------------------------------------

    def record(self, shown: Shown) -> bool:
        """Queue one answer for writing; False (and counted) when the queue is full."""
        if not shown.ts_us:
            shown = Shown(**{**shown.__dict__, "ts_us": time.time_ns() // 1000})
        try:
            self._queue.put_nowait(shown)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the writer."""
        self._queue.put(None)
        self._thread.join(timeout=timeout)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until everything queued so far is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    # -- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        con = self._connect()
        try:
            while True:
                first = self._queue.get()
                batch, stop = ([] if first is None else [first]), first is None
                rows = 0 if first is None else len(first.entity_ids)
                while not stop and rows < self.batch_rows:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    batch.append(nxt)
                    rows += len(nxt.entity_ids)
                try:
                    if batch:
                        self._write(con, batch)
                except sqlite3.Error:  # the log must outlive a bad write; the answer went out
                    logger.exception("impression log: a batch of %d answers was lost", len(batch))
                finally:
                    for _ in range(len(batch) + (1 if stop else 0)):
                        self._queue.task_done()
                if stop:
                    return
        finally:
            con.close()

    def _write(self, con: sqlite3.Connection, batch: list[Shown]) -> None:
        rows = [
            (s.ts_us, s.request_id, s.route, s.viewer_id, s.kind.value, str(e), pos,
             ",".join(r), s.model_version)
            for s in batch
            for pos, (e, r) in enumerate(zip(s.entity_ids, s.reasons, strict=True))
        ]
        counts = [(s.viewer_id, s.kind.value, str(e), s.ts_us) for s in batch for e in s.entity_ids]
        newest = max(s.ts_us for s in batch)
        con.execute("BEGIN IMMEDIATE")
        try:
            con.executemany(
                "INSERT INTO impressions (ts_us, request_id, route, viewer_id, entity_kind, "
                "entity_id, position, reasons, model_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            con.executemany(
                "INSERT INTO impression_counts (viewer_id, entity_kind, entity_id, shown, last_us) "
                "VALUES (?, ?, ?, 1, ?) ON CONFLICT (viewer_id, entity_kind, entity_id) DO UPDATE "
                "SET shown = shown + 1, last_us = max(last_us, excluded.last_us)",
                counts,
            )
            self._retain(con, newest)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self.written += len(rows)

    def _retain(self, con: sqlite3.Connection, newest_us: int) -> None:
        if self.retention_us:
            cutoff = newest_us - self.retention_us
            con.execute("DELETE FROM impressions WHERE ts_us < ?", (cutoff,))
            con.execute("DELETE FROM impression_counts WHERE last_us < ?", (cutoff,))
        if self.max_rows:
            con.execute(
                "DELETE FROM impressions WHERE id <= "
                "(SELECT max(id) FROM impressions) - ?", (self.max_rows,)
            )


def shown_since(
    path: str | Path, viewer_id: str, kind: EntityKind, since_us: int
) -> list[tuple[str, str, int]]:
    """(request_id, entity_id, ts_us) of every `kind` entity shown to `viewer_id` after
    `since_us`: a frequency cap over a window (one indexed range read)."""
    with closing(sqlite3.connect(path, timeout=30.0)) as con:
        return [
            (str(r), str(e), int(t))
            for r, e, t in con.execute(
                "SELECT request_id, entity_id, ts_us FROM impressions WHERE viewer_id = ? "
                "AND entity_kind = ? AND ts_us > ?", (viewer_id, kind.value, int(since_us)),
            )
        ]


def shown_count(path: str | Path, viewer_id: str, kind: EntityKind, entity_id: str) -> int:
    """How often `entity_id` was shown to `viewer_id` within the retention window (for a
    frequency cap)."""
    with closing(sqlite3.connect(path, timeout=30.0)) as con:
        row = con.execute(
            "SELECT shown FROM impression_counts WHERE viewer_id = ? AND entity_kind = ? "
            "AND entity_id = ?", (viewer_id, kind.value, entity_id),
        ).fetchone()
    return int(row[0]) if row else 0


def shown_counts(path: str | Path, viewer_id: str, kind: EntityKind) -> dict[str, int]:
    """Every entity of `kind` shown to `viewer_id` within the retention window, with how often
    (one indexed range of the counts table: its key starts with viewer and kind)."""
    if not Path(path).is_file():
        return {}
    with closing(sqlite3.connect(path, timeout=30.0)) as con:
        rows = con.execute(
            "SELECT entity_id, shown FROM impression_counts WHERE viewer_id = ? "
            "AND entity_kind = ?", (viewer_id, kind.value),
        ).fetchall()
    return {str(e): int(n) for e, n in rows}
