"""The ingest rules judge posted rows: every reason, duplicates, new users, derived ids."""

from __future__ import annotations

import pyarrow as pa
import pytest

from recsys.events.judge import Outcome
from recsys.ingest import derive_event_ids
from recsys.ingest.rules import ALREADY_STARTED


def _ids(live, n: int = 2) -> tuple[list[str], list[str]]:
    users = [str(u) for u in live.model.parts.ids.users.ids[:n]]
    items = [str(i) for i in live.model.parts.ids.items.ids[:n]]
    return users, items


def _group(live) -> dict:
    """A live group buy (posted, then judged) on a known item by a known user."""
    users, items = _ids(live)
    row = {"group_id": "g-live", "item_id": items[0], "initiator_id": users[0],
           "created_ts": live.after(hours=1), "deadline_ts": live.after(days=2),
           "target_size": 3, "status": "open"}
    (result,) = live.judge.judge("group_buys", [row])
    assert result.status is Outcome.ACCEPTED, result
    return row


def test_a_valid_event_is_accepted_stored_once_and_a_resend_is_a_duplicate(live) -> None:
    users, items = _ids(live)
    event = {"event_id": "e-1", "user_id": users[0], "item_id": items[0], "type": "purchase",
             "ts": live.after(hours=1)}
    first = live.judge.judge("events", [event, dict(event)])
    assert [r.status for r in first] == [Outcome.ACCEPTED, Outcome.DUPLICATE]
    again = live.judge.judge("events", [event])
    assert again[0].status is Outcome.DUPLICATE and again[0].key == "e-1"
    assert live.store.count("events") == 1


def test_a_missing_event_id_is_derived_as_ingest_derives_it(live) -> None:
    users, items = _ids(live)
    event = {"user_id": users[0], "item_id": items[1], "type": "view",
             "ts": live.after(minutes=5), "channel": " feed "}
    (result,) = live.judge.judge("events", [event])
    typed = pa.table({"user_id": [users[0]], "item_id": [items[1]], "type": ["view"],
                      "channel": ["feed"],
                      "ts": pa.array([live.model.watermark_us + 300_000_000],
                                     pa.timestamp("us", tz="UTC"))})
    assert result.status is Outcome.ACCEPTED
    assert result.key == derive_event_ids(typed)[0].as_py()
    # the same id-less event sent again is recognised by its derived id
    assert live.judge.judge("events", [event])[0].status is Outcome.DUPLICATE


def test_an_unseen_user_is_accepted_as_a_new_user(live) -> None:
    _, items = _ids(live)
    rows = [{"user_id": "brand-new", "item_id": items[0], "type": "like", "ts": t}
            for t in (live.after(hours=2), live.after(hours=1))]
    assert all(r.status is Outcome.ACCEPTED for r in live.judge.judge("events", rows))
    users = live.store.rows("users", ["brand-new"]).to_pylist()
    assert users == [{"user_id": "brand-new", "signup_us": live.model.watermark_us + 3_600_000_000}]
    known = str(live.model.parts.ids.users.ids[0])
    live.judge.judge("events", [{"user_id": known, "item_id": items[0], "type": "view",
                                 "ts": live.after(hours=1)}])
    assert live.store.rows("users", [known]).num_rows == 0  # only users the bundle lacks


BAD_EVENTS = [
    ({"user_id": None}, "user_id", "required field is empty"),
    ({"type": "buy"}, "type", "not one of view"),
    ({"ts": "yesterday"}, "ts", "not a timestamp"),
    ({"ts": 0}, "ts", "epoch 0 is a placeholder"),
    ({"ts": 1.7e12}, "ts", "milliseconds read as seconds"),
    ({"item_id": None}, "item_id", "neither item_id nor post_id"),
    ({"item_id": "no-such-item"}, "item_id", "unknown item_id"),
    ({"post_id": "no-such-post"}, "post_id", "unknown post_id"),
    ({"type": "group_buy_join"}, "group_id", "group buy event without group_id"),
    ({"type": "group_buy_join", "group_id": "no-such-group"}, "group_id", "unknown group_id"),
]


@pytest.mark.parametrize(("change", "field", "reason"), BAD_EVENTS)
def test_each_bad_event_is_rejected_with_its_field_and_reason(live, change, field, reason):
    users, items = _ids(live)
    event = {"user_id": users[1], "item_id": items[1], "type": "view", "ts": live.after(hours=1)}
    (result,) = live.judge.judge("events", [{**event, **change}])
    assert result.status is Outcome.REJECTED
    assert result.field == field and reason in result.reason
    assert live.store.count("events") == 0


def test_group_events_follow_their_group(live) -> None:
    group = _group(live)
    users, items = _ids(live)
    base = {"group_id": "g-live", "item_id": items[0], "ts": live.after(hours=2)}
    cases = [
        ({"user_id": users[1], "type": "group_buy_start"}, "user_id", "another user than"),
        ({"user_id": users[0], "type": "group_buy_join"}, "user_id", "joins their own group"),
        ({"user_id": users[1], "type": "group_buy_join", "item_id": items[1]}, "item_id",
         "differs from the group"),
        ({"user_id": users[1], "type": "group_buy_join", "ts": live.after(minutes=30)}, "ts",
         "before the group was created"),
        ({"user_id": users[1], "type": "group_buy_join", "ts": live.after(days=3)}, "ts",
         "after the group's deadline"),
    ]
    for change, field, reason in cases:
        (result,) = live.judge.judge("events", [{**base, **change}])
        assert (result.status, result.field) == (Outcome.REJECTED, field), change
        assert reason in result.reason
    start = {**base, "user_id": group["initiator_id"], "type": "group_buy_start"}
    join = {**base, "user_id": "friend-new", "type": "group_buy_join"}
    assert [r.status for r in live.judge.judge("events", [start, join])] == [Outcome.ACCEPTED] * 2
    second = {**start, "ts": live.after(hours=3)}
    (result,) = live.judge.judge("events", [second])
    assert (result.status, result.field, result.reason) == (Outcome.REJECTED, *ALREADY_STARTED)


def test_group_buys_and_posts_are_judged_by_their_rules(live) -> None:
    users, items = _ids(live)
    group = {"group_id": "g-1", "item_id": items[0], "initiator_id": "new-initiator",
             "created_ts": live.after(hours=1), "deadline_ts": live.after(days=1),
             "target_size": 2, "status": "open"}
    results = live.judge.judge("group_buys", [
        group, {**group, "group_id": "g-2", "target_size": 1},
        {**group, "group_id": "g-3", "deadline_ts": live.after(minutes=1)},
        {**group, "group_id": "g-4", "item_id": "nope"}, group,
    ])
    assert [(r.status.value, r.field) for r in results] == [
        ("accepted", None), ("rejected", "target_size"), ("rejected", "deadline_ts"),
        ("rejected", "item_id"), ("duplicate", None)]
    bundle_group = str(live.model.parts.posts_groups.groups.ids[0])
    (known,) = live.judge.judge("group_buys", [{**group, "group_id": bundle_group}])
    assert known.status is Outcome.DUPLICATE
    circle = live.model.catalogue.ids[0]
    post = {"post_id": "p-1", "author_id": users[0], "circle_id": circle, "item_id": items[1],
            "created_ts": live.after(hours=1), "text": "love it", "deleted": False}
    results = live.judge.judge("posts", [post, {**post, "post_id": "p-2", "circle_id": "mars"}])
    assert [(r.status.value, r.field) for r in results] == [("accepted", None),
                                                           ("rejected", "circle_id")]
    on_post = {"user_id": users[1], "post_id": "p-1", "type": "like", "ts": live.after(hours=2)}
    assert live.judge.judge("events", [on_post])[0].status is Outcome.ACCEPTED


def test_batches_judged_together_answer_as_if_sent_one_after_another(live) -> None:
    users, items = _ids(live)
    event = {"user_id": users[0], "item_id": items[0], "type": "view", "ts": live.after(hours=1)}
    first, second = live.judge.judge_batches("events", [[event], [event, event]])
    assert first[0].status is Outcome.ACCEPTED
    # ids are derived per batch: the second batch's first copy has the same id (duplicate),
    # its second copy is another click (-2), accepted
    assert [r.status for r in second] == [Outcome.DUPLICATE, Outcome.ACCEPTED]
    assert second[1].key.endswith("-2")
