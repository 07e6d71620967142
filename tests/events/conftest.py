"""Live rows over the session's small bundle: a runtime model, a fresh store, a judge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recsys.events.judge import Judge
from recsys.events.references import References
from recsys.events.store import SQLiteEventStore
from recsys.runtime import RuntimeModel


@dataclass
class Live:
    model: RuntimeModel
    store: SQLiteEventStore
    judge: Judge

    def after(self, **delta: float) -> str:
        """An ISO time this long after the bundle's watermark (live, not yet in the model)."""
        base = datetime.fromtimestamp(self.model.watermark_us / 1e6, UTC)
        return (base + timedelta(**delta)).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def model(small_bundle: dict[str, Path]) -> RuntimeModel:
    return RuntimeModel.load(small_bundle["bundle"])


@pytest.fixture
def live(model: RuntimeModel, tmp_path: Path) -> Live:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    return Live(model, store, Judge(References(model.parts, store)))
