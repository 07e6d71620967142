"""Splits: seeded, pair-level, counted drops, timestamp fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.errors import ContractError
from recsys.evaluation import splits as s


def _log(n_users: int = 50, n_items: int = 40, n_events: int = 2000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_idx": rng.integers(0, n_users, n_events).astype(np.int32),
            "item_idx": rng.integers(0, n_items, n_events).astype(np.int32),
            "ts": rng.integers(0, 10_000, n_events).astype(np.int64) * 1_000_000,
            "weight": np.ones(n_events, np.float32),
        }
    )


def _pairs(df: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(df["user_idx"].tolist(), df["item_idx"].tolist(), strict=True))


def test_has_timestamps() -> None:
    log = _log()
    assert s.has_timestamps(log)
    assert not s.has_timestamps(log.assign(ts=0))
    with pytest.raises(ContractError, match="ts"):
        s.has_timestamps(log.drop(columns="ts"))


def test_temporal_cut_and_counted_drops() -> None:
    log = _log()
    # a user and an item that only exist after the cut
    late = pd.DataFrame(
        {"user_idx": [99, 0], "item_idx": [0, 77], "ts": [10**12, 10**12], "weight": [1.0, 1.0]}
    ).astype(log.dtypes.to_dict())
    split = s.temporal_split(pd.concat([log, late]), test_fraction=0.25)
    cut = split.info["cut_ts"]
    assert split.train["ts"].max() < cut <= split.test["ts"].min()
    assert split.info["dropped_unknown_user"] == 1
    assert split.info["dropped_unknown_item"] == 1
    assert split.info["dropped_seen_in_train"] > 0  # dense random log: many repeats
    assert not _pairs(split.test) & _pairs(split.train)
    total = split.info["n_train"] + split.info["n_test"] + 2 + split.info["dropped_seen_in_train"]
    assert total == len(log) + 2


def test_random_holdout_is_seeded_and_pair_level() -> None:
    log = _log()
    a = s.random_holdout(log, test_fraction=0.2, seed=3)
    b = s.random_holdout(log, test_fraction=0.2, seed=3)
    c = s.random_holdout(log, test_fraction=0.2, seed=4)
    pd.testing.assert_frame_equal(a.test, b.test)
    assert _pairs(a.test) != _pairs(c.test)
    assert not _pairs(a.test) & _pairs(a.train)
    assert a.info["dropped_seen_in_train"] == 0  # whole pairs are held out
    n_pairs = log.drop_duplicates(["user_idx", "item_idx"]).groupby("user_idx").size()
    n_test = a.test.drop_duplicates(["user_idx", "item_idx"]).groupby("user_idx").size()
    expected = np.minimum(np.rint(n_pairs * 0.2), n_pairs - 1)
    np.testing.assert_array_equal(n_test.reindex(n_pairs.index, fill_value=0), expected)


def test_leave_last_out_takes_latest_item() -> None:
    log = pd.DataFrame(
        {
            "user_idx": [0, 0, 0, 1, 1, 2],
            "item_idx": [0, 1, 2, 0, 1, 2],
            "ts": [1, 5, 3, 9, 2, 4],
            "weight": [1.0] * 6,
        }
    )
    split = s.leave_last_out(log, n=1, seed=0)
    assert sorted(_pairs(split.test)) == [(0, 1), (1, 0)]
    assert split.info["users_too_short"] == 1  # user 2 has one item


def test_leave_last_out_ties_broken_by_seed() -> None:
    log = _log(n_users=5, n_items=30, n_events=150).assign(ts=7)
    log.loc[0, "ts"] = 8  # has_timestamps is True, yet nearly everything ties
    picks = {frozenset(_pairs(s.leave_last_out(log, seed=seed).test)) for seed in range(6)}
    assert len(picks) > 1
    again = s.leave_last_out(log, seed=2).test
    pd.testing.assert_frame_equal(again, s.leave_last_out(log, seed=2).test)


def test_no_timestamps_falls_back_and_says_so() -> None:
    log = _log().assign(ts=0)
    split = s.temporal_split(log, seed=1)
    assert split.info["method"] == "random"
    assert "no timestamps" in split.info["fallback"]
    assert "fallback" in s.leave_last_out(log).info


def test_carve_validation_keeps_test_and_never_overlaps() -> None:
    log = _log()
    outer = s.random_holdout(log, seed=0)
    split = s.carve_validation(outer, seed=1, test_fraction=0.25)
    assert split.validation is not None
    pd.testing.assert_frame_equal(split.test, outer.test)
    assert not _pairs(split.validation) & _pairs(split.train)
    assert _pairs(split.validation) <= _pairs(outer.train)
    assert split.info["validation"]["method"] == "random"
    with pytest.raises(ValueError, match="unknown split method"):
        s.carve_validation(outer, "weekly")  # type: ignore[arg-type]
