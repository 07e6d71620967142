"""Circle feeds over a real bundle: pages, hard rules, posts written since training, cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from recsys.bundle.layout import csr_row
from recsys.errors import InvalidCursorError, UnknownCircleError
from recsys.events.store import SQLiteEventStore
from recsys.feeds.circle_feed import CircleFeed
from recsys.runtime import RuntimeModel
from recsys.runtime.reasons import parse_reason
from tests.feeds.conftest import CODEC

NOW = datetime.now(UTC)


def _busiest_circle(model: RuntimeModel) -> tuple[int, str]:
    offsets = model.parts.post_feed.signals.circle_offsets
    c = int(np.argmax(np.diff(offsets)))
    return c, model.catalogue.ids[c]


def test_pages_hold_the_circles_unseen_posts_and_never_repeat(model: RuntimeModel) -> None:
    feed = CircleFeed(model, CODEC)
    assert model.parts.post_feed.ranker is not None  # the bundle learned one
    c, circle = _busiest_circle(model)
    signals = model.parts.post_feed.signals
    post_index = model.parts.posts_groups.posts
    users = np.flatnonzero(np.diff(signals.user_posts.indptr) > 0)[:15]
    for u in users:
        user = str(model.parts.ids.users.ids[u])
        shown, cursor = [], None
        for _ in range(4):
            page = feed.page(circle, user, 8, cursor)
            shown += [p.post_id for p in page.posts]
            for p in page.posts:
                assert p.reasons and all(parse_reason(r) for r in p.reasons)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(shown) == len(set(shown)) and shown
        rows = post_index.to_index(shown)
        assert (signals.facts.circle[rows] == c).all()
        assert not signals.facts.deleted[rows].any()
        assert not np.isin(rows, csr_row(signals.user_posts, u)).any()  # seen
        assert not (signals.facts.author[rows] == u).any()  # own


def test_a_post_written_since_training_is_ranked(model: RuntimeModel, tmp_path: Path) -> None:
    parts = model.parts
    c, circle = _busiest_circle(model)
    friends = parts.social.friends
    u = int(np.flatnonzero(np.diff(friends.indptr) > 0)[0])
    author = int(csr_row(friends, u)[0])
    ids = parts.ids.users.ids
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    created = int((NOW - timedelta(hours=2)).timestamp() * 1e6)
    store.add("posts", [("p-live", str(ids[author]), circle, None, created, "new!", 0),
                        ("p-gone", str(ids[author]), circle, None, created, "oops", 1)], [])
    others = [v for v in range(len(ids)) if v not in (u, author)][:5]
    store.add("events", [(f"e{v}", str(ids[v]), None, "p-live", "like", None, "circle",
                          created + 10) for v in others], [])
    feed = CircleFeed(model, CODEC)
    now = int(NOW.timestamp() * 1e6)
    found, cursor = None, None
    for _ in range(50):
        page = feed.page(circle, str(ids[u]), 10, cursor, events=store, now_us=now)
        assert "p-gone" not in [p.post_id for p in page.posts]  # deleted
        found = found or next((p for p in page.posts if p.post_id == "p-live"), None)
        cursor = page.next_cursor
        if found or cursor is None:
            break
    assert found is not None
    assert f"friend_posted:{ids[author]}" in found.reasons and "new_post" in found.reasons
    # The user's own live action on it hides it again.
    store.add("events", [("e-mine", str(ids[u]), None, "p-live", "view", None, "circle",
                          created + 20)], [])
    cursor, shown = None, []
    for _ in range(50):
        page = feed.page(circle, str(ids[u]), 10, cursor, events=store, now_us=now)
        shown += [p.post_id for p in page.posts]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert "p-live" not in shown


def test_unknown_circles_and_foreign_cursors_are_refused(model: RuntimeModel) -> None:
    feed = CircleFeed(model, CODEC)
    _, circle = _busiest_circle(model)
    other = next(cid for cid in model.catalogue.ids if cid != circle)
    user = str(model.parts.ids.users.ids[0])
    with pytest.raises(UnknownCircleError):
        feed.page("no-such-circle", user, 5)
    cursor = feed.page(circle, user, 3).next_cursor
    assert cursor
    with pytest.raises(InvalidCursorError, match="another feed or user"):
        feed.page(other, user, 3, cursor)
    # An unknown user gets the circle ranked without personal signals.
    assert feed.page(circle, "someone-new", 5).posts


def test_a_big_circle_ranks_a_pool_newest_most_engaged_and_friends_posts(
    model: RuntimeModel,
) -> None:
    from recsys.feeds.feed_config import CircleFeedConfig

    c, circle = _busiest_circle(model)
    signals = model.parts.post_feed.signals
    posts = signals.posts_of(c)
    assert len(posts) > 6  # the pool below is a small share of the circle
    friends = model.parts.social.friends
    authors = np.asarray(signals.facts.author[posts])
    # A user with a friend who wrote an old, little-engaged post in the circle.
    engagement = np.asarray(signals.engagement[posts])
    tail = np.argsort(engagement, kind="stable")[: len(posts) // 2]
    deep = [int(i) for i in tail if i >= 3 and authors[i] >= 0
            and friends.indptr[authors[i] + 1] > friends.indptr[authors[i]]]
    assert deep
    post = posts[deep[0]]
    user = int(csr_row(friends, int(authors[deep[0]]))[0])
    small = CircleFeed(model, CODEC, CircleFeedConfig(pool=3))
    pooled = small._pooled(posts, user)
    inside = np.isin(posts, pooled)
    assert 0 < len(pooled) < len(posts) and (posts[inside] == pooled).all()  # same order
    assert inside[:3].all() and post in pooled  # the newest 3, the friend's post
    assert engagement[~inside].max() <= np.sort(engagement)[-3]  # the 3 most engaged
    # Pages come from the pool and never repeat.
    user_id = str(model.parts.ids.users.ids[user])
    shown, cursor = [], None
    for _ in range(3):
        page = small.page(circle, user_id, 3, cursor)
        shown += [p.post_id for p in page.posts]
        cursor = page.next_cursor
        if cursor is None:
            break
    rows = model.parts.posts_groups.posts.to_index(shown)
    assert shown and len(shown) == len(set(shown)) and np.isin(rows, pooled).all()
    # A circle within 2 x pool is ranked whole.
    assert (CircleFeed(model, CODEC)._pooled(posts, user) == posts).all()
