"""`recsys events export`: a delta refresh and the next ingest take with nothing quarantined."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recsys.bundle.registry import ModelRegistry
from recsys.errors import ConfigError
from recsys.events.export import export_delta
from recsys.events.judge import Judge, Outcome
from recsys.events.references import References
from recsys.events.store import SQLiteEventStore
from recsys.ingest import ingest
from recsys.runtime import RuntimeModel
from recsys.training.refresh import refresh_catalogue
from tests.events.conftest import Live


def _post_live_rows(live: Live) -> None:
    """A new group buy, a new post, and events by known and new users naming them."""
    parts = live.model.parts
    users = [str(u) for u in parts.ids.users.ids[:3]]
    items = [str(i) for i in parts.ids.items.ids[:3]]
    bundle_post = str(parts.posts_groups.posts.ids[0])
    batches = {
        "group_buys": [{"group_id": "g-new", "item_id": items[0], "initiator_id": "nu-1",
                        "created_ts": live.after(hours=1), "deadline_ts": live.after(days=2),
                        "target_size": 2, "status": "open"}],
        "posts": [{"post_id": "p-new", "author_id": "nu-2",
                   "circle_id": live.model.catalogue.ids[0], "item_id": items[1],
                   "created_ts": live.after(hours=1), "text": "so good", "deleted": False}],
        "events": [
            {"user_id": users[0], "item_id": items[2], "type": "purchase",
             "ts": live.after(hours=2)},
            {"user_id": "nu-3", "item_id": items[1], "type": "view", "ts": live.after(hours=2)},
            {"user_id": "nu-1", "item_id": items[0], "type": "group_buy_start",
             "group_id": "g-new", "ts": live.after(hours=1, minutes=1)},
            {"user_id": users[1], "item_id": items[0], "type": "group_buy_join",
             "group_id": "g-new", "ts": live.after(hours=3)},
            {"user_id": "nu-3", "post_id": "p-new", "type": "like", "ts": live.after(hours=4)},
            {"user_id": users[2], "post_id": bundle_post, "type": "comment",
             "ts": live.after(hours=4), "channel": "circle"},
        ],
    }
    for table, rows in batches.items():
        results = live.judge.judge(table, rows)
        assert all(r.status is Outcome.ACCEPTED for r in results), results


@pytest.fixture
def exported(small_bundle, tmp_path: Path) -> tuple[Path, Path, Path, dict]:
    """(data copy, models folder, delta folder, export row counts)."""
    data = tmp_path / "data"
    shutil.copytree(small_bundle["data"], data)
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(small_bundle["bundle"], models / small_bundle["bundle"].name)
    ModelRegistry(models).promote(small_bundle["bundle"].name, force=True)
    model = RuntimeModel.load(models / small_bundle["bundle"].name)
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    live = Live(model, store, Judge(References(model.parts, store)))
    _post_live_rows(live)
    summary = export_delta(store, tmp_path / "delta")
    return data, models, summary.out, summary.rows


def test_refresh_takes_the_export_with_nothing_quarantined(exported) -> None:
    data, models, delta, rows = exported
    assert rows == {"users": 3, "posts": 1, "group_buys": 1, "events": 6}
    summary = refresh_catalogue(data, delta, models)
    assert summary.quarantined == {}
    assert summary.delta_rows == rows
    assert summary.new_posts == 1
    child = RuntimeModel.load(models / summary.version)
    assert "g-new" in child.parts.posts_groups.groups  # the next judge knows the group


def test_the_next_ingest_takes_the_export_with_nothing_quarantined(
    exported, small_bundle, tmp_path: Path
) -> None:
    _, _, delta, _ = exported
    raw = small_bundle["data"].parent / "raw"
    source = tmp_path / "next-logs"
    for table in raw.iterdir():
        if table.is_dir() and table.name != "truth":
            (source / table.name).mkdir(parents=True)
            for part in table.glob("*.parquet"):
                (source / table.name / part.name).symlink_to(part)
    for part in delta.glob("*.parquet"):
        (source / part.stem / "live-export.parquet").symlink_to(part)
    report = ingest(source, tmp_path / "next-data")
    assert report.total_quarantined == 0
    assert report.tables["events"].accepted == report.tables["events"].read


def test_a_second_export_writes_only_new_rows_and_keeps_the_first(exported, tmp_path) -> None:
    _, _, delta, _ = exported
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    again = export_delta(store, tmp_path / "delta-2")
    assert again.rows == {"users": 0, "posts": 0, "group_buys": 0, "events": 0}
    with pytest.raises(ConfigError, match="earlier export"):
        export_delta(store, delta)
    assert export_delta(store, tmp_path / "delta-3", everything=True).rows["events"] == 6
