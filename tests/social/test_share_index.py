"""A snapshot answers new requests exactly as the full index does, after the last event."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.social.share_features import ShareQueries
from recsys.social.share_index import COUNTERS, ShareIndex, _FriendLists
from tests.social.conftest import DAY


@pytest.fixture(scope="module")
def pair(history):
    affinity = np.random.default_rng(1).random((history.n_users, 3)).astype(np.float32)
    full = ShareIndex(history, circle_affinity=affinity)
    snap = ShareIndex.from_snapshot(
        full.snapshot(), friends=history.friends(), blocked=history.blocked,
        opt_out=history.opt_out, item_circle=history.item_circle, circle_affinity=affinity,
    )  # fmt: skip
    return full, snap


def _requests(history, n: int = 60, later: int = DAY) -> ShareQueries:
    rng = np.random.default_rng(2)
    t = int(max(history.group_created.max(), history.join_ts.max(), history.event_ts.max()))
    return ShareQueries(
        rng.integers(0, history.n_users, n), rng.integers(0, history.n_items, n),
        np.full(n, t + later, np.int64), np.full(n, -1, np.int64),
    )  # fmt: skip


def test_features_candidates_and_rules_match_the_full_index(pair, history) -> None:
    full, snap = pair
    q = _requests(history)
    row, friend = full.candidates(q)
    row_s, friend_s = snap.candidates(q)
    np.testing.assert_array_equal(row, row_s)
    np.testing.assert_array_equal(friend, friend_s)
    np.testing.assert_allclose(snap.features(q, row, friend), full.features(q, row, friend),
                               rtol=1e-6, equal_nan=True)  # fmt: skip
    for days in (1.0, 30.0, 1000.0):
        np.testing.assert_array_equal(snap.bought_within(q, row, friend, days),
                                      full.bought_within(q, row, friend, days))  # fmt: skip
    assert sorted(full.snapshot().counters) == sorted(COUNTERS)


def test_items_appended_after_the_counts_count_as_never_seen(pair, history) -> None:
    _, snap = pair
    q = _requests(history, n=5)
    new_item = ShareQueries(q.user, np.full(5, history.n_items + 2), q.time, q.group)
    snap.item_circle = np.append(snap.item_circle, [0, 1, 2])
    try:
        row, friend = snap.candidates(new_item)
        x = snap.features(new_item, row, friend)
        assert np.isfinite(x[:, 0]).all()
        assert not snap.bought_within(new_item, row, friend, 1000.0).any()
    finally:
        snap.item_circle = snap.item_circle[: history.n_items]


def test_a_snapshot_needs_every_counter_and_a_history_index(pair) -> None:
    full, snap = pair
    shot = full.snapshot()
    with pytest.raises(ValueError, match="lacks the counters"):
        type(shot)({}, shot.user_items, shot.n_items, shot.n_circles)
    with pytest.raises(ValueError, match="items"):
        type(shot)(shot.counters, sp.csr_matrix((3, 1)), shot.n_items, shot.n_circles)
    with pytest.raises(ValueError, match="built from a history"):
        snap.snapshot()


def test_the_index_keeps_what_it_counts_when_the_history_drops_its_events(history) -> None:
    index = ShareIndex(history)
    q = ShareQueries.of_groups(history, np.arange(history.n_groups))
    row, friend = index.candidates(q)
    before = index.features(q, row, friend)
    light = history.without_counted_events()
    assert len(light.event_user) == 0 and len(history.event_user) > 0
    assert len(light.friend_src) == 0 and len(history.friend_src) > 0
    assert light.n_groups == history.n_groups and light.dated
    np.testing.assert_array_equal(index.features(q, row, friend), before)
    np.testing.assert_array_equal(index.candidates(q)[1], friend)
    np.testing.assert_array_equal(ShareQueries.of_groups(light, np.arange(3)).time,
                                  q.time[:3])  # fmt: skip


@pytest.mark.parametrize("circleless", [False, True])
def test_asking_only_for_some_initiators_changes_no_feature_and_no_snapshot(
    history, circleless: bool
) -> None:
    history = history.select_groups(np.isin(history.group_initiator, [0, 1]))
    if circleless:  # an item of no circle: its events count for no circle either way
        history = replace(history, item_circle=np.where(history.item_circle == 1, -1,
                                                        history.item_circle))  # fmt: skip
    full = ShareIndex(history)
    asked = history.initiators()
    assert asked.sum() == 2
    light = ShareIndex(history, asked_by=asked, friends=history.friends())
    q = ShareQueries.of_groups(history, np.arange(history.n_groups))
    row, friend = full.candidates(q)
    np.testing.assert_array_equal(light.features(q, row, friend), full.features(q, row, friend))
    a, b = full.snapshot(), light.snapshot()
    for name in COUNTERS:
        np.testing.assert_array_equal(a.counters[name].keys, b.counters[name].keys)
        np.testing.assert_allclose(a.counters[name].totals, b.counters[name].totals)
    # Others keep no "as of" history: the restriction is real.
    outside = np.flatnonzero(~history.friends_of(asked))
    assert len(outside)
    assert light.user_events.count(outside, np.full(len(outside), 10**18)).sum() == 0
    assert len(light.friendships) < len(full.friendships)


def test_the_friend_lists_total_what_the_friendship_counter_counts(history) -> None:
    index = ShareIndex(history)  # every user asked: its counter holds every record
    counted = index.friendships.totals(with_last=True)
    listed = index.snapshot().counters["friendships"]
    np.testing.assert_array_equal(listed.keys, counted.keys)
    np.testing.assert_array_equal(listed.totals, counted.totals)
    np.testing.assert_array_equal(listed.last, counted.last)


def test_friend_lists_built_in_blocks_match_one_block(history) -> None:
    one = _FriendLists(history, block_users=history.n_users)
    many = _FriendLists(history, block_users=3)
    for name in ("dst", "since", "last", "count", "indptr"):
        np.testing.assert_array_equal(getattr(many, name), getattr(one, name))


def test_a_friendship_recorded_twice_counts_twice_and_keeps_both_times(history) -> None:
    src, dst = history.friend_src[:1], history.friend_dst[:1]
    t0 = int(history.friend_ts[0])
    twice = replace(
        history,
        friend_src=np.concatenate([history.friend_src, dst]),
        friend_dst=np.concatenate([history.friend_dst, src]),
        friend_ts=np.concatenate([history.friend_ts, [t0 + 5 * DAY]]),
    )  # fmt: skip
    lists = _FriendLists(twice)
    counted = ShareIndex(twice).friendships.totals(with_last=True)
    totals = lists.totals()
    key = int(src[0]) * history.n_users + int(dst[0])
    at = int(np.searchsorted(totals.keys, key))
    assert totals.last[at] == t0 + 5 * DAY and lists.since[at] <= t0
    np.testing.assert_array_equal(totals.totals, counted.totals)
    np.testing.assert_array_equal(totals.last, counted.last)


def test_asked_by_must_name_every_user(history) -> None:
    with pytest.raises(ValueError, match="asked_by has shape"):
        ShareIndex(history, asked_by=np.ones(history.n_users - 1, bool))


def test_a_friend_graph_of_another_size_is_refused(history) -> None:
    n = history.n_users
    with pytest.raises(ValueError, match=rf"friends has shape \({n + 1}, {n + 1}\)"):
        ShareIndex(history, friends=sp.csr_matrix((n + 1, n + 1), dtype=np.float32))


def _spread(history, users: int, items: int, index_type) -> object:
    """`history` in index spaces `users` and `items` wide (user u -> u * step), with its
    events' and friendships' indices of `index_type`, as `load_share_history` reads them."""
    su, si = users // history.n_users, items // history.n_items
    item_circle = np.full(items, -1)
    item_circle[np.arange(history.n_items) * si] = history.item_circle
    opt_out = np.zeros(users, bool)
    opt_out[np.flatnonzero(history.opt_out) * su] = True
    blocked = history.blocked.tocoo()
    narrow = {f: (getattr(history, f) * (si if "item" in f else su)).astype(index_type)
              for f in ("event_user", "event_item", "friend_src", "friend_dst")}  # fmt: skip
    return replace(
        history, n_users=users, n_items=items, **narrow,
        group_initiator=history.group_initiator * su, group_item=history.group_item * si,
        join_user=history.join_user * su, share_src=history.share_src * su,
        share_dst=history.share_dst * su, opt_out=opt_out, item_circle=item_circle,
        blocked=sp.csr_matrix((blocked.data, (blocked.row * su, blocked.col * su)),
                              shape=(users, users)),
    )  # fmt: skip


def test_int32_events_and_friendships_make_the_same_keys_past_two_billion(history) -> None:
    # 70k users x 48k items: user * n_users and user * n_items overflow int32.
    wide = _spread(history, 70_000, 48_000, np.int64)
    narrow = _spread(history, 70_000, 48_000, np.int32)
    assert narrow.event_user.dtype == np.int32
    full, light = ShareIndex(wide), ShareIndex(narrow, asked_by=narrow.initiators())
    q = ShareQueries.of_groups(wide, np.arange(wide.n_groups))
    row, friend = full.candidates(q)
    np.testing.assert_array_equal(light.candidates(q)[1], friend)
    np.testing.assert_array_equal(light.features(q, row, friend), full.features(q, row, friend))
    a, b = full.snapshot(), light.snapshot()
    for name in COUNTERS:
        np.testing.assert_array_equal(a.counters[name].keys, b.counters[name].keys)
    assert (a.user_items != b.user_items).nnz == 0
