from __future__ import annotations

import pandas as pd
import pytest

from recsys.adapters import adapt
from tests.adapters.helpers import check_source
from tests.conftest import shared_dataset

pytestmark = pytest.mark.datasets


def test_movielens_100k_full_import(tmp_path) -> None:
    src = shared_dataset("movielens_100k")
    info = adapt("movielens-100k", src, tmp_path)
    frames = check_source(tmp_path, info)
    assert (len(frames["users"]), len(frames["items"]), len(frames["events"])) == (
        943, 1682, 100000)
    assert len(frames["circles"]) == 19 and info.has_timestamps
    ratings = pd.read_parquet(tmp_path / "meta" / "ratings.parquet")
    assert ratings["rating"].value_counts().sort_index().tolist() == [
        6110, 11370, 27145, 34174, 21201]
    ts = frames["events"]["ts"]
    assert (ts.min().timestamp(), ts.max().timestamp()) == (874724710, 893286638)
    toy = frames["items"].set_index("item_id").loc["1"]
    assert toy["title"] == "Toy Story (1995)" and toy["category"] == "Animation"
    # signup is the first rating: no user acts before signing up
    first = frames["events"].groupby("user_id")["ts"].min()
    signup = frames["users"].set_index("user_id")["signup_ts"]
    assert (signup.loc[first.index] == first).all()


def test_movielens_100k_slice_matches_raw(tmp_path) -> None:
    src = shared_dataset("movielens_100k")
    raw = pd.read_csv(src / "u.data", sep="\t", header=None, names=["u", "i", "r", "t"])
    info = adapt("movielens-100k", src, tmp_path, limit_users=20)
    frames = check_source(tmp_path, info)
    kept = raw[raw["u"] <= 20]
    assert len(frames["events"]) == len(kept)
    assert info.reported["ratings_of_users_outside_slice"] == len(raw) - len(kept)
    assert sorted(frames["users"]["user_id"].astype(int)) == list(range(1, 21))
    got = frames["events"][["user_id", "item_id"]].astype(int)
    pd.testing.assert_frame_equal(
        got.sort_values(["user_id", "item_id"]).reset_index(drop=True),
        kept[["u", "i"]].set_axis(["user_id", "item_id"], axis=1)
        .sort_values(["user_id", "item_id"]).reset_index(drop=True),
    )


def test_movielens_1m_slice_keeps_the_fixed_split(tmp_path) -> None:
    src = shared_dataset("movielens_1m")
    info = adapt("movielens-1m", src, tmp_path, limit_users=30)
    frames = check_source(tmp_path, info)
    expected = {}
    for fold in ("train", "test"):
        for line in (src / f"{fold}.txt").read_text().splitlines():
            tokens = line.split()
            if tokens and int(tokens[0]) < 30:
                expected[fold] = expected.get(fold, 0) + len(tokens) - 1
    split = pd.read_parquet(tmp_path / "meta" / "split.parquet")
    assert split["fold"].value_counts().to_dict() == expected
    assert len(frames["events"]) == sum(expected.values())
    assert not info.has_timestamps and info.split["path"] == "meta/split.parquet"
    assert len(frames["items"]) == 3883 and len(frames["users"]) == 30
    # item ids were shifted back to MovieIDs: user 1's first train item is MovieID 1
    assert frames["items"].set_index("item_id").loc["1", "title"] == "Toy Story (1995)"
    assert split.merge(frames["events"], on=["user_id", "item_id"]).shape[0] == len(split)
