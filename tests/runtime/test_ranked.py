"""The ranked step: known users with history are served by the bundle's ranked part over
their history row, live events included, so an event changes the next answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from recsys.bundle.layout import csr_row, csr_row_matrix
from recsys.events.judge import Judge, Outcome
from recsys.events.references import References
from recsys.events.store import SQLiteEventStore
from recsys.runtime import ExclusionRule, PolicyStep, RuntimeModel
from tests.runtime.conftest import history_sizes, user_ids


def _after(model: RuntimeModel, **delta: float) -> str:
    base = datetime.fromtimestamp(model.watermark_us / 1e6, UTC)
    return (base + timedelta(**delta)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def store(tmp_path: Path) -> SQLiteEventStore:
    return SQLiteEventStore(tmp_path / "events.sqlite3")


def _ids(model: RuntimeModel, answer) -> list[str]:
    return [i.item_id for i in answer.items]


def test_the_bundle_serves_its_ranked_part(model) -> None:
    assert model.parts.ranked is not None and model.ranked is model.parts.ranked.model
    warm = user_ids(model, np.flatnonzero(history_sizes(model) >= 3)[:20])
    assert {model.recommend(u, 10).step for u in warm} == {PolicyStep.RANKED}
    # the policy does not change for users without history: the chains
    cold = user_ids(model, np.flatnonzero(history_sizes(model) == 0)[:5])
    assert PolicyStep.RANKED not in {model.recommend(u, 10).step for u in cold}


def test_a_liked_item_changes_the_next_ranked_answer(model, store) -> None:
    """Likes of items outside the answer change the user's history row, so the sources and
    the ranker re-score: the next answer is the ranked model's answer over the longer row, and
    it differs from the first in more than the liked items."""
    parts = model.parts
    user = user_ids(model, np.flatnonzero(history_sizes(model) >= 3)[:1])[0]
    u = int(parts.ids.users.to_index([user])[0])
    before = model.recommend(user, 10)
    shown = set(_ids(model, before))
    seen = set(parts.ids.items.to_ids(csr_row(parts.history.interacted, u)))
    # Items the user never met, outside the answer: the most popular of another circle.
    circle = np.asarray(parts.catalogue.circle_idx)
    mine = set(circle[csr_row(parts.history.interacted, u)].tolist())
    popular = np.argsort(-np.asarray(parts.lists.item_popularity), kind="stable")
    liked = [str(parts.ids.items.ids[i]) for i in popular
             if circle[i] not in mine and str(parts.ids.items.ids[i]) not in shown | seen][:5]
    assert len(liked) == 5
    rows = [{"user_id": user, "item_id": item, "type": "like", "ts": _after(model, hours=1)}
            for item in liked]
    results = Judge(References(parts, store)).judge("events", rows)
    assert all(r.status is Outcome.ACCEPTED for r in results), results

    after = model.recommend(user, 10, events=store)
    assert after.step is PolicyStep.RANKED
    assert not set(_ids(model, after)) & set(liked), "liked items join the exclusions"
    assert _ids(model, after) != _ids(model, before)
    # exactly the ranked model over the history row plus the live likes
    fresh = model.view(user, store).fresh
    row = fresh.row(csr_row_matrix(parts.history.interacted, u), parts.history.shape[1])
    assert set(row.indices) == set(csr_row(parts.history.interacted, u)) | set(
        parts.ids.items.to_index(liked))
    ids, scores = ExclusionRule().recommend(
        parts.ranked.model, np.array([u]), row, 10,
        purchased=parts.history.purchased[[u]],
        unlisted=np.flatnonzero(~np.asarray(parts.catalogue.listed)),
    )
    assert _ids(model, after) == [str(i) for i in parts.ids.items.to_ids(ids[0])]
    np.testing.assert_allclose([i.score for i in after.items], scores[0], rtol=1e-6)
