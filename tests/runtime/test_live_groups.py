"""A group buy opened after training is started, joined and shown to the initiator's friends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from recsys.bundle.layout import csr_row
from recsys.events.judge import Judge, Outcome
from recsys.events.references import References
from recsys.events.store import SQLiteEventStore
from recsys.idmap import IdMap
from recsys.runtime.live_groups import live_group_candidates
from recsys.runtime.reasons import ReasonCode, reason

NOW = datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _friends(model, u: int) -> np.ndarray:
    return csr_row(model.parts.social.friends, u)


def test_a_live_group_leads_the_initiators_friends_answers(model, tmp_path: Path) -> None:
    parts = model.parts
    degree = np.diff(parts.social.friends.indptr)
    initiator = int(np.flatnonzero(degree >= 2)[0])
    friend, other = (int(f) for f in _friends(model, initiator)[:2])
    ids = parts.ids.users.ids
    # an item none of the three touched, listed
    touched = np.concatenate([csr_row(parts.history.interacted, u)
                              for u in (initiator, friend, other)])
    item = str(parts.ids.items.ids[np.setdiff1d(np.flatnonzero(np.asarray(
        parts.catalogue.listed)), touched)[0]])
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    judge = Judge(References(parts, store))
    group = {"group_id": "g-live", "item_id": item, "initiator_id": str(ids[initiator]),
             "created_ts": _iso(NOW - timedelta(hours=1)),
             "deadline_ts": _iso(NOW + timedelta(days=1)), "target_size": 3, "status": "open"}
    assert judge.judge("group_buys", [group])[0].status is Outcome.ACCEPTED
    events = [
        {"user_id": str(ids[initiator]), "item_id": item, "type": "group_buy_start",
         "group_id": "g-live", "ts": _iso(NOW - timedelta(minutes=50))},
        {"user_id": str(ids[other]), "item_id": item, "type": "group_buy_join",
         "group_id": "g-live", "ts": _iso(NOW - timedelta(minutes=10))},
    ]
    assert all(r.status is Outcome.ACCEPTED for r in judge.judge("events", events))

    answer = model.recommend(str(ids[friend]), 10, events=store)
    first = answer.items[0]
    assert first.item_id == item
    assert reason(ReasonCode.FRIEND_STARTED_GROUP, "g-live") in first.reasons
    if initiator in _friends(model, friend) and other in _friends(model, friend):
        assert reason(ReasonCode.FRIENDS_JOINED, "1") in first.reasons
    assert first.score > max(i.score for i in answer.items[1:])
    assert len({i.item_id for i in answer.items}) == len(answer.items) == 10
    # the people who group-bought it are never shown it again
    for buyer in (initiator, other):
        shown = {i.item_id for i in model.recommend(str(ids[buyer]), 10, events=store).items}
        assert item not in shown
    # past its deadline a group is no longer news
    later = int((NOW + timedelta(days=2)).timestamp() * 1e6)
    late = model.recommend(str(ids[friend]), 10, events=store, now_us=later)
    assert item not in {i.item_id for i in late.items}
    # without the store, the answer is the bundle's alone
    assert item not in {i.item_id for i in model.recommend(str(ids[friend]), 10).items}


def test_candidates_rank_by_friends_in_the_group_then_recency() -> None:
    items = IdMap(["i0", "i1", "i2", "i3"])
    events = pa.table({
        "user_id": ["a", "b", "c", "a", "d"],
        "type": ["group_buy_start", "group_buy_join", "group_buy_join", "group_buy_join",
                 "group_buy_start"],
        "group_id": ["g1", "g1", "g2", "g3", "g4"],
        "item_id": ["i1", "i1", "i2", "i3", "i0"],
        "ts_us": [1, 2, 5, 3, 9],
    })
    groups = pa.table({
        "group_id": ["g1", "g2", "g3", "g4"], "item_id": ["i1", "i2", "i3", "i0"],
        "deadline_ts": pa.array([100] * 4, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "status": ["open", "open", "open", "completed"],
    })
    keep_all = lambda c: np.ones(len(c), bool)  # noqa: E731
    got = live_group_candidates(events, groups, items, keep_all, now_us=50, n=5)
    assert got.items.tolist() == [1, 2, 3]  # g1 has two friends; g2 is newer than g3; g4 done
    assert got.reasons[0] == ("friend_started_group:g1", "friends_joined:1")
    assert got.reasons[1] == ("friends_joined:1",)
    no_i2 = lambda c: c != 2  # noqa: E731
    assert live_group_candidates(events, groups, items, no_i2, now_us=50, n=5).items.tolist() \
        == [1, 3]
    assert len(live_group_candidates(events, groups, items, keep_all, now_us=101, n=5).items) == 0
