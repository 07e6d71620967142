"""The activity and back-test parts: saved and loaded through the layout, checked in size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.bundle.parts import Backtest, BundleParts, UserActivity
from recsys.errors import BundleError

DAY = 86_400_000_000


def test_activity_from_log_and_round_trip(tmp_path) -> None:
    log = pd.DataFrame({"user_idx": [0, 0, 2], "ts": [5 * DAY, 9 * DAY, 2 * DAY]})
    activity = UserActivity.from_log(log, 4, recent_days=5.0)
    assert activity.last_active_ts[0] == 9 * DAY and activity.end_ts == 9 * DAY
    assert activity.recent_events.tolist() == [2, 0, 0, 0]  # events in (4 d, 9 d]
    assert activity.active_since(1.0).tolist() == [True, False, False, False]
    assert activity.active_since(7.0).tolist() == [True, False, True, False]
    activity.save(tmp_path)
    loaded = UserActivity.load(tmp_path)
    assert loaded.start_ts == 2 * DAY and loaded.end_ts == 9 * DAY and loaded.recent_days == 5.0
    np.testing.assert_array_equal(loaded.recent_events, activity.recent_events)
    np.testing.assert_array_equal(loaded.last_active_ts, activity.last_active_ts)


def test_backtest_round_trip_and_shape_checks(tmp_path) -> None:
    bought = sp.csr_matrix(np.eye(3, 2, dtype=np.float32))
    part = Backtest(
        cut_ts=10, end_ts=20, user_vectors=np.ones((3, 4), np.float32),
        item_vectors=np.ones((2, 4), np.float32), item_users=np.array([1, 2]),
        user_events=np.ones(3, np.float32), recent_events=np.zeros(3, np.float32),
        bought_before=bought, bought_after=bought,
    )  # fmt: skip
    assert Backtest.load_optional(tmp_path) is None
    part.save(tmp_path)
    loaded = Backtest.load_optional(tmp_path)
    assert (loaded.cut_ts, loaded.end_ts, loaded.n_users, loaded.n_items) == (10, 20, 3, 2)
    assert (loaded.bought_after != bought).nnz == 0
    with pytest.raises(BundleError, match="back-test arrays disagree"):
        Backtest(10, 20, np.ones((3, 4)), np.ones((2, 4)), np.ones(2), np.ones(4), np.ones(3),
                 bought, bought)  # fmt: skip


def test_a_trained_bundle_has_both_parts(small_bundle) -> None:
    parts = BundleParts.load(small_bundle["bundle"])
    assert len(parts.activity) == len(parts.ids.users)
    bt = parts.backtest
    assert bt is not None and bt.days == pytest.approx(30.0)
    assert bt.end_ts == parts.activity.end_ts
    assert bt.user_vectors.shape == parts.scorer.model.user_factors_.shape
    # purchases on the two sides of the cut are exactly the bundle's purchases
    both = (bt.bought_before + bt.bought_after).astype(bool).astype(np.float32)
    assert (both != parts.history.purchased.astype(bool).astype(np.float32)).nnz == 0
