"""The home feed over a real bundle: pages never repeat (also across a model swap), cursors
are checked, the hard rules hold over many users, re-rankers and reasons do their job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from recsys.bundle.layout import csr_row
from recsys.errors import InvalidCursorError
from recsys.events.store import SQLiteEventStore
from recsys.feeds.feed import Feed, feed_settings
from recsys.feeds.feed_config import FeedConfig
from recsys.feeds.rerank import hard_rules
from recsys.runtime import RuntimeModel
from recsys.runtime.reasons import ReasonCode, parse_reason
from tests.feeds.conftest import CODEC

NOW = datetime.now(UTC)


def _us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def _users(model: RuntimeModel, n: int, seed: int = 0) -> list[str]:
    ids = model.parts.ids.users.ids
    return [str(u) for u in np.random.default_rng(seed).choice(ids, n, replace=False)]


def _walk(feed: Feed, user: str, limit: int, pages: int, cursor: str | None = None,
          **kw) -> list[list[str]]:
    seen = []
    for _ in range(pages):
        page = feed.page(user, limit, cursor, **kw)
        seen.append([i.item_id for i in page.items])
        for item in page.items:
            assert item.reasons and all(parse_reason(r) for r in item.reasons)
        cursor = page.next_cursor
        if cursor is None:
            break
    return seen


def test_pages_never_repeat_and_the_feed_ends(model: RuntimeModel) -> None:
    feed = Feed(model, CODEC)
    for user in _users(model, 25):
        pages = _walk(feed, user, 10, 6)
        shown = [i for p in pages for i in p]
        assert len(shown) == len(set(shown)) and shown
    # A tiny depth ends the feed: no cursor once it is reached.
    short = Feed(model, CODEC, FeedConfig(max_depth=15))
    pages = _walk(short, _users(model, 1)[0], 10, 5)
    assert len(pages) == 2


def test_pages_never_repeat_across_a_model_swap(model: RuntimeModel,
                                                 other_model: RuntimeModel) -> None:
    before, after = Feed(model, CODEC), Feed(other_model, CODEC)
    for user in _users(model, 20, seed=1):
        first = before.page(user, 10)
        rest = _walk(after, user, 10, 3, first.next_cursor)
        shown = [i.item_id for i in first.items] + [i for p in rest for i in p]
        assert len(shown) == len(set(shown))
        page_two = after.page(user, 10, first.next_cursor)
        assert page_two.page == 2 and page_two.model_version == other_model.version


def test_a_tampered_or_foreign_cursor_is_refused(model: RuntimeModel) -> None:
    feed = Feed(model, CODEC)
    alice, bob = _users(model, 2, seed=2)
    cursor = feed.page(alice, 5).next_cursor
    assert cursor
    with pytest.raises(InvalidCursorError):
        feed.page(alice, 5, cursor[:-3] + ("AAA" if cursor[-3:] != "AAA" else "BBB"))
    with pytest.raises(InvalidCursorError, match="another feed or user"):
        feed.page(bob, 5, cursor)


def test_hard_rules_drop_what_the_unfiltered_scorer_proposes(model: RuntimeModel) -> None:
    """Over many users: the scorer's raw top 100 (nothing filtered) holds their purchases,
    their interactions and delisted items; the hard rules keep exactly the allowed ones."""
    parts = model.parts
    listed = np.asarray(parts.catalogue.listed)
    scorer = parts.scorer.model
    users = np.flatnonzero(np.diff(parts.history.purchased.indptr) > 0)[:120]
    ids, _ = scorer.recommend(users, parts.history.interacted[users], 100,
                              filter_already_liked_items=False)
    proposed_bought = proposed_delisted = 0
    for row, u in enumerate(users):
        view = model.view(str(parts.ids.users.ids[u]))
        bought = csr_row(parts.history.purchased, u)
        cand = ids[row][ids[row] >= 0]
        proposed_bought += np.isin(cand, bought).sum()
        proposed_delisted += (~listed[cand]).sum()
        kept = cand[hard_rules(cand, allowed=model.keep_for(view)(cand),
                               group_open=np.ones(len(cand), bool),
                               shown_before=np.zeros(len(cand), bool))]
        assert not np.isin(kept, bought).any()
        assert listed[kept].all()
        assert not np.isin(kept, csr_row(parts.history.interacted, u)).any()
    assert proposed_bought > 0 and proposed_delisted > 0  # the test had something to drop


def test_hard_rules_hold_over_many_users_with_live_groups(model: RuntimeModel,
                                                          tmp_path: Path) -> None:
    """Friends' group buys are unfiltered candidates: closed, failed, expired groups, groups
    on items the user bought or that are delisted. None is ever shown; the open one leads."""
    parts = model.parts
    ids = parts.ids.users.ids
    item_ids = parts.ids.items.ids
    listed = np.asarray(parts.catalogue.listed)
    friends = parts.social.friends
    degree = np.diff(friends.indptr)
    bought_any = np.diff(parts.history.purchased.indptr) > 0
    users = np.flatnonzero((degree > 0) & bought_any)[:60]
    assert len(users) >= 30
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    delisted = np.flatnonzero(~listed)
    group_rows, event_rows = [], []
    expect: dict[int, dict[str, object]] = {}
    rng = np.random.default_rng(5)
    created = _us(NOW - timedelta(hours=3))
    for u in users:
        friend = int(csr_row(friends, u)[0])
        bought = csr_row(parts.history.purchased, u)
        touched = csr_row(parts.history.interacted, u)
        free = np.setdiff1d(np.flatnonzero(listed), touched)
        control = int(rng.choice(free))
        plan = {  # group -> (item, status, deadline)
            f"g{u}-bought": (int(bought[0]), "open", _us(NOW + timedelta(days=1))),
            f"g{u}-delisted": (int(delisted[u % len(delisted)]), "open",
                               _us(NOW + timedelta(days=1))),
            f"g{u}-done": (int(rng.choice(free)), "completed", _us(NOW + timedelta(days=1))),
            f"g{u}-failed": (int(rng.choice(free)), "failed", _us(NOW + timedelta(days=1))),
            f"g{u}-expired": (int(rng.choice(free)), "open", _us(NOW - timedelta(hours=1))),
            f"g{u}-open": (control, "open", _us(NOW + timedelta(days=1))),
        }
        for gid, (item, status, deadline) in plan.items():
            group_rows.append((gid, str(item_ids[item]), str(ids[friend]), created, deadline, 3,
                               status))
            event_rows.append((f"e-{gid}", str(ids[friend]), str(item_ids[item]), None,
                               "group_buy_start", gid, "group_buy", created + 1))
        expect[u] = {"bought": bought, "control": f"g{u}-open"}
    store.add("group_buys", group_rows, [])
    store.add("events", event_rows, [])
    feed = Feed(model, CODEC)
    now = _us(NOW)
    led = 0
    for u in users:
        user = str(ids[u])
        cursor = None
        shown_groups, shown_items = [], []
        for _ in range(3):
            page = feed.page(user, 10, cursor, events=store, now_us=now)
            shown_groups += [i.group_id for i in page.items if i.group_id]
            shown_items += [i.item_id for i in page.items]
            if page.page == 1 and page.items[0].group_id:
                led += 1
                assert ReasonCode.FRIEND_STARTED_GROUP.value in page.items[0].reasons[0]
            cursor = page.next_cursor
            if cursor is None:
                break
        idx = parts.ids.items.to_index(shown_items)
        assert not np.isin(idx, expect[u]["bought"]).any()
        assert listed[idx].all()
        # A friend's open group on an item another user bought may show; closed ones never.
        closed = [g for g in shown_groups if g.endswith(("-done", "-failed", "-expired"))]
        assert not closed, closed
        assert f"g{u}-bought" not in shown_groups
    assert led >= len(users) // 2  # open friends' groups do lead


def test_items_shown_too_often_leave_the_feed(model: RuntimeModel) -> None:
    feed = Feed(model, CODEC)
    user = _users(model, 1, seed=7)[0]
    first = [i.item_id for i in feed.page(user, 10).items]
    again = [i.item_id for i in feed.page(user, 10, shown={i: 5 for i in first}).items]
    assert not set(first) & set(again)
    lenient = Feed(model, CODEC, FeedConfig(max_impressions=0))
    assert [i.item_id for i in lenient.page(user, 10, shown={i: 9 for i in first}).items] \
        == first


def test_long_tail_picks_and_new_items_are_named(model: RuntimeModel) -> None:
    feed = Feed(model, CODEC, FeedConfig(tail_weight=1.0, new_item_days=100_000))
    picks = 0
    for user in _users(model, 20, seed=3):
        for item in feed.page(user, 10).items:
            assert "new_item" in item.reasons
            if "long_tail_pick" in item.reasons:
                picks += 1
                assert feed.is_tail[model.parts.ids.items.to_index([item.item_id])[0]]
    assert picks > 0
    plain = Feed(model, CODEC, FeedConfig(tail_weight=0.0))
    for user in _users(model, 5, seed=3):
        assert not any("long_tail_pick" in i.reasons for i in plain.page(user, 10).items)


def test_the_bundle_picks_the_tail_weight(model: RuntimeModel) -> None:
    _, weight = feed_settings(model)
    assert weight == model.manifest.metrics["feed"]["tail_weight"]
    assert Feed(model, CODEC).tail_weight == weight
    assert feed_settings(model, FeedConfig(tail_weight=0.3))[1] == 0.3


def test_the_bundle_picks_a_tail_weight_for_the_chain(model: RuntimeModel) -> None:
    cold = model.manifest.metrics["feed"]["cold"]
    grid = [p["tail_weight"] for p in cold["curve"]]
    assert cold["tail_weight"] in grid and cold["users"] > 0
    assert Feed(model, CODEC).chain_tail_weight == cold["tail_weight"]
    # An explicit weight serves everyone; the chain's own overrides it for the chain.
    assert Feed(model, CODEC, FeedConfig(tail_weight=0.3)).chain_tail_weight == 0.3
    both = Feed(model, CODEC, FeedConfig(tail_weight=0.3, cold_tail_weight=0.1))
    assert (both.tail_weight, both.chain_tail_weight) == (0.3, 0.1)


def _picks(feed: Feed, users: list[str]) -> int:
    return sum("long_tail_pick" in i.reasons for u in users for i in feed.page(u, 10).items)


def test_users_served_a_chain_get_the_chain_tail_weight(model: RuntimeModel) -> None:
    history = np.diff(model.parts.history.interacted.indptr)
    ids = model.parts.ids.users.ids
    chain_users = [str(u) for u in ids[history == 0][:20]] + ["nobody-knows-me"]
    warm_users = [str(u) for u in ids[history > 0][:20]]
    assert all(model.view(u).step.value.endswith("chain") for u in chain_users)
    warm_only = Feed(model, CODEC, FeedConfig(tail_weight=1.0, cold_tail_weight=0.0))
    chain_only = Feed(model, CODEC, FeedConfig(tail_weight=0.0, cold_tail_weight=1.0))
    assert _picks(warm_only, chain_users) == 0 and _picks(warm_only, warm_users) > 0
    assert _picks(chain_only, warm_users) == 0 and _picks(chain_only, chain_users) > 0
