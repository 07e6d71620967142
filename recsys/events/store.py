"""The durable store of live rows: events, group buys and posts accepted between retrains.

`EventStore` is the small interface the server, fold-in and export use; `SQLiteEventStore` is
the embedded default (one file that every worker process opens). Redis streams or Kafka can
replace it at scale behind the same methods.

**Durability (the fsync policy).** SQLite in WAL mode with ``synchronous=FULL``: each batch is
one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``) and the WAL is fsynced at every commit.
A caller acknowledges a batch only after `add` returned, so an acknowledged row survives a
killed process and a power cut; a batch interrupted before its commit leaves nothing (the
transaction is rolled back on the next open). Several processes share the file: WAL lets
readers run beside the one writer, and a writer waits for another up to `busy_timeout`.

Ids are UNIQUE, so a re-sent row is stored once; a partial unique index keeps one
group_buy_start per group even when two workers accept starts of one group at once. Reads by
user are served by an index on (user_id, ts_us).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa

from recsys.contract import EventType
from recsys.errors import ConfigError

#: Seconds a writer waits for another process's transaction before failing.
BUSY_TIMEOUT_S = 30.0
#: The live tables and their key; `users` holds users first named by a live row.
TABLES: dict[str, str] = {
    "events": "event_id",
    "group_buys": "group_id",
    "posts": "post_id",
    "users": "user_id",
}
START = EventType.GROUP_BUY_START.value

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL,
    item_id TEXT, post_id TEXT, type TEXT NOT NULL, group_id TEXT, channel TEXT,
    ts_us INTEGER NOT NULL, received_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_user ON events (user_id, ts_us);
CREATE UNIQUE INDEX IF NOT EXISTS events_one_start ON events (group_id) WHERE type = '{START}';
CREATE TABLE IF NOT EXISTS group_buys (
    seq INTEGER PRIMARY KEY, group_id TEXT NOT NULL UNIQUE, item_id TEXT NOT NULL,
    initiator_id TEXT NOT NULL, created_us INTEGER NOT NULL, deadline_us INTEGER NOT NULL,
    target_size INTEGER NOT NULL, status TEXT NOT NULL, received_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS posts (
    seq INTEGER PRIMARY KEY, post_id TEXT NOT NULL UNIQUE, author_id TEXT NOT NULL,
    circle_id TEXT NOT NULL, item_id TEXT, created_us INTEGER NOT NULL, text TEXT NOT NULL,
    deleted INTEGER NOT NULL, received_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_by_circle ON posts (circle_id, created_us);
CREATE INDEX IF NOT EXISTS events_by_post ON events (post_id) WHERE post_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS users (
    seq INTEGER PRIMARY KEY, user_id TEXT NOT NULL UNIQUE, signup_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS export_cursor (tbl TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""

#: Columns written per table, in order (after seq); `received_us` is set by the store.
COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("event_id", "user_id", "item_id", "post_id", "type", "group_id", "channel",
               "ts_us"),
    "group_buys": ("group_id", "item_id", "initiator_id", "created_us", "deadline_us",
                   "target_size", "status"),
    "posts": ("post_id", "author_id", "circle_id", "item_id", "created_us", "text", "deleted"),
    "users": ("user_id", "signup_us"),
}  # fmt: skip
_INTEGERS = {"ts_us", "created_us", "deadline_us", "signup_us", "target_size", "deleted"}
GROUP_EVENT_COLUMNS = ("user_id", "type", "group_id", "item_id", "ts_us")


def schema(columns: Sequence[str]) -> pa.Schema:
    """Arrow types of store columns: times and sizes are integers, the rest text."""
    return pa.schema([(c, pa.int64() if c in _INTEGERS else pa.string()) for c in columns])


@dataclass(frozen=True)
class LivePaths:
    """Where the live files go by default: `events/` beside the models folder."""

    store: Path
    impressions: Path


def live_paths(models_dir: str | Path) -> LivePaths:
    folder = Path(models_dir).resolve().parent / "events"
    return LivePaths(folder / "events.sqlite3", folder / "impressions.sqlite3")


@dataclass(frozen=True)
class UserEvents:
    """One user's live events after a time, oldest first (arrays of equal length)."""

    item_ids: np.ndarray  # object, None where the event names only a post
    post_ids: np.ndarray  # object, None where none
    post_item_ids: np.ndarray  # object: the item a live (stored, not deleted) post names
    types: np.ndarray  # object
    group_ids: np.ndarray  # object, None where none
    ts_us: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.types)


class EventStore(Protocol):
    """What serving, fold-in and export need from a store of live rows."""

    def add(
        self, table: str, rows: Sequence[tuple[object, ...]], new_users: Sequence[tuple[str, int]]
    ) -> list[bool]:
        """Store `rows` (values in `COLUMNS[table]` order) and the users they first name, in
        one durable transaction; per row, whether it was new (False: its key was stored)."""
        ...

    def user_events(self, user_id: str, since_us: int) -> UserEvents:
        """The user's events with ts after `since_us`, oldest first."""
        ...

    def group_events(self, user_ids: Sequence[str], since_us: int) -> pa.Table:
        """group_buy_start / join events of `user_ids` after `since_us` (user_id, type,
        group_id, item_id, ts_us)."""
        ...

    def rows(self, table: str, keys: Iterable[str]) -> pa.Table:
        """Stored rows of `table` whose key is in `keys` (columns as in `COLUMNS`)."""
        ...

    def started(self, group_ids: Iterable[str]) -> set[str]:
        """Which of `group_ids` have a stored group_buy_start."""
        ...

    def circle_posts(self, circle_id: str, since_us: int) -> pa.Table:
        """Posts of `circle_id` created after `since_us` (`COLUMNS["posts"]` but `text`)."""
        ...

    def post_engagement(self, post_ids: Sequence[str]) -> dict[str, int]:
        """Distinct users with a stored event on each of `post_ids` (absent: none)."""
        ...


class SQLiteEventStore:
    """`EventStore` in one SQLite file (see the module docstring for the fsync policy).

    Each thread gets its own connection (sqlite3 connections are not shared across threads);
    each process opening the file gets its own connections too.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise ConfigError(f"{self.path}: the event store must be a file, found a folder")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._con().executescript(_SCHEMA)  # IF NOT EXISTS: every worker may run it

    # -- connections -----------------------------------------------------------------------

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            self._local.con = con
        return con

    def _write(self) -> _Transaction:
        return _Transaction(self._con())

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # -- writes ----------------------------------------------------------------------------

    def add(
        self, table: str, rows: Sequence[tuple[object, ...]], new_users: Sequence[tuple[str, int]]
    ) -> list[bool]:
        columns = COLUMNS[_check_table(table)]
        now = time.time_ns() // 1000
        received = () if table == "users" else (now,)
        names = ", ".join(columns + (("received_us",) if received else ()))
        marks = ", ".join("?" * (len(columns) + len(received)))
        insert = f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        inserted = []
        with self._write() as con:
            for row in rows:
                inserted.append(con.execute(insert, (*row, *received)).rowcount == 1)
            con.executemany(
                "INSERT INTO users (user_id, signup_us) VALUES (?, ?) ON CONFLICT (user_id) "
                "DO UPDATE SET signup_us = min(signup_us, excluded.signup_us)",
                new_users,
            )
        return inserted

    # -- reads -----------------------------------------------------------------------------

    def user_events(self, user_id: str, since_us: int) -> UserEvents:
        found = self._con().execute(
            "SELECT e.item_id, e.post_id, p.item_id, e.type, e.group_id, e.ts_us FROM events e "
            "LEFT JOIN posts p ON p.post_id = e.post_id AND NOT p.deleted "
            "WHERE e.user_id = ? AND e.ts_us > ? ORDER BY e.ts_us, e.seq",
            (user_id, int(since_us)),
        ).fetchall()
        columns = list(zip(*found, strict=True)) if found else [()] * 6
        return UserEvents(
            item_ids=np.array(columns[0], dtype=object),
            post_ids=np.array(columns[1], dtype=object),
            post_item_ids=np.array(columns[2], dtype=object),
            types=np.array(columns[3], dtype=object),
            group_ids=np.array(columns[4], dtype=object),
            ts_us=np.array(columns[5], dtype=np.int64),
        )

    def group_events(self, user_ids: Sequence[str], since_us: int) -> pa.Table:
        names = GROUP_EVENT_COLUMNS
        found: list[tuple] = []
        for chunk in _chunks(list(user_ids)):
            marks = ", ".join("?" * len(chunk))
            found += self._con().execute(
                f"SELECT {', '.join(names)} FROM events WHERE user_id IN ({marks}) "
                "AND ts_us > ? AND group_id IS NOT NULL AND type IN (?, ?) ORDER BY ts_us, seq",
                (*chunk, int(since_us), START, EventType.GROUP_BUY_JOIN.value),
            ).fetchall()
        return _table(names, found)

    def rows(self, table: str, keys: Iterable[str]) -> pa.Table:
        key, columns = TABLES[_check_table(table)], COLUMNS[table]
        found: list[tuple] = []
        for chunk in _chunks(sorted(set(keys))):
            marks = ", ".join("?" * len(chunk))
            found += self._con().execute(
                f"SELECT {', '.join(columns)} FROM {table} WHERE {key} IN ({marks})", chunk
            ).fetchall()
        return _table(columns, found)

    def started(self, group_ids: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for chunk in _chunks(sorted(set(group_ids))):
            marks = ", ".join("?" * len(chunk))
            out |= {
                r[0]
                for r in self._con().execute(
                    f"SELECT group_id FROM events WHERE type = ? AND group_id IN ({marks})",
                    (START, *chunk),
                )
            }
        return out

    def circle_posts(self, circle_id: str, since_us: int) -> pa.Table:
        names = ("post_id", "author_id", "circle_id", "item_id", "created_us", "deleted")
        found = self._con().execute(
            f"SELECT {', '.join(names)} FROM posts WHERE circle_id = ? AND created_us > ? "
            "ORDER BY created_us DESC, seq", (circle_id, int(since_us)),
        ).fetchall()
        return _table(names, found)

    def post_engagement(self, post_ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for chunk in _chunks(sorted(set(post_ids))):
            marks = ", ".join("?" * len(chunk))
            out.update(self._con().execute(
                f"SELECT post_id, count(DISTINCT user_id) FROM events WHERE post_id IN ({marks}) "
                "GROUP BY post_id", chunk,
            ).fetchall())
        return out

    # -- export ----------------------------------------------------------------------------

    def after(self, table: str, seq: int) -> tuple[pa.Table, int]:
        """Rows of `table` stored after `seq` (in storage order) and the last seq read."""
        columns = COLUMNS[_check_table(table)]
        found = self._con().execute(
            f"SELECT seq, {', '.join(columns)} FROM {table} WHERE seq > ? ORDER BY seq", (seq,)
        ).fetchall()
        last = found[-1][0] if found else seq
        return _table(columns, [r[1:] for r in found]), int(last)

    def cursor(self, table: str) -> int:
        """The last seq of `table` an export has written (0: none)."""
        row = self._con().execute(
            "SELECT seq FROM export_cursor WHERE tbl = ?", (_check_table(table),)
        ).fetchone()
        return int(row[0]) if row else 0

    def set_cursors(self, cursors: dict[str, int]) -> None:
        """Record what an export wrote, all tables in one transaction."""
        with self._write() as con:
            con.executemany(
                "INSERT INTO export_cursor (tbl, seq) VALUES (?, ?) "
                "ON CONFLICT (tbl) DO UPDATE SET seq = excluded.seq",
                [(_check_table(t), int(s)) for t, s in cursors.items()],
            )

    def count(self, table: str) -> int:
        return int(self._con().execute(f"SELECT count(*) FROM {_check_table(table)}").fetchone()[0])


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on an error): one durable batch."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def __enter__(self) -> sqlite3.Connection:
        self.con.execute("BEGIN IMMEDIATE")
        return self.con

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.con.execute("COMMIT" if kind is None else "ROLLBACK")


def _check_table(table: str) -> str:
    if table not in TABLES:
        raise ConfigError(f"the event store has no table {table!r}; it has {sorted(TABLES)}")
    return table


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    """SQLite limits the parameters of one statement; IN lists go in chunks."""
    for lo in range(0, len(values), size):
        yield values[lo : lo + size]


def _table(names: Sequence[str], rows: list[tuple]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.Table.from_arrays(
        [pa.array(list(c), f.type) for c, f in zip(columns, schema(names), strict=True)],
        schema=schema(names),
    )
