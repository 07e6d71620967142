from __future__ import annotations

import logging

import numpy as np

from recsys.circles import Circle, CircleCatalogue
from recsys.contract import EventType
from recsys.features.circle_engagement import MATRICES, user_circle_engagement
from recsys.idmap import IdMap
from tests.features.conftest import CATALOGUE

# Circle columns: 0 = beauty (makeup, skincare), 1 = digital (phones).


def test_engagement_matrices_match_hand_counts(data, users, caplog):
    with caplog.at_level(logging.WARNING):
        got = user_circle_engagement(data, users, CATALOGUE)
    assert set(got) == set(MATRICES)
    for m in got.values():
        assert m.shape == (4, 2) and m.dtype == np.float32
    # p0 by u1 in digital; p1, p3 by u0 in beauty; p2 (u0) is deleted.
    np.testing.assert_array_equal(got["posts_written"].toarray(), [[2, 0], [0, 1], [0, 0], [0, 0]])
    # u0 likes p0 (digital); u1 comments p1 (beauty); u1's like of deleted p2 is left out;
    # u3's view of p0 is not engagement.
    np.testing.assert_array_equal(got["posts_engaged"].toarray(), [[0, 1], [1, 0], [0, 0], [0, 0]])
    # u0 buys i0 (makeup); u2 buys i1 (phones).
    np.testing.assert_array_equal(got["purchases"].toarray(), [[1, 0], [0, 0], [0, 1], [0, 0]])
    # u0: 3 events on i0; u1: share i2 (skincare); u2: i3 (garden: no circle) and i1;
    # u3: view of i2.
    np.testing.assert_array_equal(got["item_events"].toarray(), [[3, 0], [1, 0], [0, 1], [1, 0]])
    assert got.dropped["item_events.no_circle"] == 1
    assert got.dropped["item_events.unknown_user"] == 1  # ghost
    assert got.dropped["purchases.no_circle"] == 0
    assert "garden" in caplog.text


def test_deleted_posts_and_purchase_types_are_options(data, users):
    got = user_circle_engagement(
        data,
        users,
        CATALOGUE,
        include_deleted_posts=True,
        purchase_types=(EventType.PURCHASE, EventType.GROUP_BUY_JOIN),
    )
    np.testing.assert_array_equal(got["posts_written"].toarray()[0], [3, 0])
    np.testing.assert_array_equal(got["posts_engaged"].toarray()[1], [2, 0])
    np.testing.assert_array_equal(got["purchases"].toarray()[2], [0, 1])
    assert got.dropped["purchases.no_circle"] == 1  # u2's group-buy join on a garden item


def test_unknown_circles_and_authors_are_counted(data, users):
    only_beauty = CircleCatalogue((Circle("beauty", "美妆", "Beauty", ("makeup", "skincare")),))
    got = user_circle_engagement(data, users, only_beauty)
    assert got["posts_written"].shape == (4, 1)
    assert got.dropped["posts_written.no_circle"] == 1  # p0 in digital
    few_users = IdMap(["u0"])
    got = user_circle_engagement(data, few_users, CATALOGUE)
    assert got.dropped["posts_written.unknown_user"] == 1  # p0 by u1
    assert got["posts_written"].toarray().tolist() == [[2, 0]]
