"""The impression log: batched off the request path, counts for caps, retention, no blocking."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from recsys.events.impressions import US_PER_DAY, EntityKind, ImpressionLog, Shown, shown_count


def _shown(request: str, viewer: str, items: list[str], ts: int) -> Shown:
    return Shown(request_id=request, route="/v1/users/{user_id}/recommendations",
                 viewer_id=viewer, model_version="v1", kind=EntityKind.ITEM, entity_ids=items,
                 reasons=[("popular",)] * len(items), ts_us=ts)


def _rows(path: Path) -> list[tuple]:
    with closing(sqlite3.connect(path)) as con:
        return con.execute("SELECT request_id, viewer_id, entity_kind, entity_id, position, "
                           "reasons, model_version FROM impressions ORDER BY id").fetchall()


def test_answers_are_written_with_positions_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "imp.sqlite3"
    log = ImpressionLog(path)
    assert log.record(_shown("r1", "u1", ["a", "b"], ts=1_000))
    assert log.record(_shown("r2", "u1", ["b"], ts=2_000))
    log.flush()
    assert _rows(path) == [
        ("r1", "u1", "item", "a", 0, "popular", "v1"),
        ("r1", "u1", "item", "b", 1, "popular", "v1"),
        ("r2", "u1", "item", "b", 0, "popular", "v1")]
    assert shown_count(path, "u1", EntityKind.ITEM, "b") == 2
    assert shown_count(path, "u1", EntityKind.ITEM, "zzz") == 0
    log.close()


def test_retention_keeps_the_newest_rows_and_days(tmp_path: Path) -> None:
    path = tmp_path / "imp.sqlite3"
    log = ImpressionLog(path, max_rows=3, retention_days=1)
    log.record(_shown("old", "u1", ["a"], ts=1))
    log.flush()
    day = US_PER_DAY
    log.record(_shown("new", "u2", ["a", "b", "c", "d"], ts=2 * day))
    log.close()
    rows = _rows(path)
    assert [r[3] for r in rows] == ["b", "c", "d"]  # the newest 3, the day-old one gone
    assert shown_count(path, "u1", EntityKind.ITEM, "a") == 0  # its count left the window


def test_a_full_queue_drops_and_counts_never_blocks(tmp_path: Path) -> None:
    log = ImpressionLog(tmp_path / "imp.sqlite3", queue_size=1)
    # the writer may take one at once; pushing many quickly must overflow, not wait
    results = [log.record(_shown(f"r{i}", "u", ["a"], ts=i + 1)) for i in range(200)]
    assert not all(results) and log.dropped == results.count(False)
    log.close()
    assert log.written + log.dropped == 200
