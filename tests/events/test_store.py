"""The SQLite event store: its durability settings, unique keys, reads by user, cursors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from recsys.errors import ConfigError
from recsys.events.store import SQLiteEventStore


def _event(event_id: str, user: str = "u1", ts: int = 10, kind: str = "view",
           group: str | None = None) -> tuple:
    return (event_id, user, "i1", None, kind, group, None, ts)


def test_the_store_runs_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "s.sqlite3")
    con = store._con()
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: fsync at every commit


def test_keys_are_stored_once_and_one_start_per_group(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "s.sqlite3")
    assert store.add("events", [_event("a"), _event("b")], [("u1", 10)]) == [True, True]
    assert store.add("events", [_event("a"), _event("c")], [("u1", 5)]) == [False, True]
    starts = [_event("s1", kind="group_buy_start", group="g"),
              _event("s2", kind="group_buy_start", group="g")]
    assert store.add("events", starts, []) == [True, False]
    assert store.started(["g", "h"]) == {"g"}
    assert store.rows("users", ["u1"]).to_pylist() == [{"user_id": "u1", "signup_us": 5}]


def test_a_failed_batch_leaves_nothing(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "s.sqlite3")
    with pytest.raises(sqlite3.IntegrityError):  # a NULL user breaks NOT NULL mid-batch
        store.add("events", [_event("a"), ("b", None, "i1", None, "view", None, None, 1)], [])
    assert store.count("events") == 0


def test_reads_by_user_after_a_time_oldest_first(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "s.sqlite3")
    store.add("events", [_event("a", ts=30), _event("b", ts=10), _event("c", ts=20),
                         _event("d", user="u2", ts=40)], [])
    found = store.user_events("u1", 10)
    assert found.ts_us.tolist() == [20, 30] and len(found) == 2
    plan = " ".join(str(r) for r in store._con().execute(
        "EXPLAIN QUERY PLAN SELECT * FROM events WHERE user_id = 'u1' AND ts_us > 0"))
    assert "events_by_user" in plan


def test_every_process_and_thread_sees_committed_rows(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    SQLiteEventStore(path).add("events", [_event("a")], [])
    assert len(SQLiteEventStore(path).user_events("u1", 0)) == 1


def test_unknown_tables_and_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a file"):
        SQLiteEventStore(tmp_path)
    with pytest.raises(ConfigError, match="no table 'items'"):
        SQLiteEventStore(tmp_path / "s.sqlite3").rows("items", ["x"])
