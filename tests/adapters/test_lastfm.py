from __future__ import annotations

import pandas as pd
import pytest

from recsys.adapters import adapt
from tests.adapters.helpers import check_source
from tests.conftest import shared_dataset

pytestmark = pytest.mark.datasets


def test_lastfm_slice_matches_raw(tmp_path) -> None:
    src = shared_dataset("lastfm_hetrec2k")
    plays = pd.read_csv(src / "user_artists.dat", sep="\t")
    friends = pd.read_csv(src / "user_friends.dat", sep="\t")
    info = adapt("lastfm-hetrec", src, tmp_path, limit_users=60)
    frames = check_source(tmp_path, info)
    users = set(sorted(plays["userID"].unique())[:60])
    kept = plays[plays["userID"].isin(users)]
    assert len(frames["events"]) == len(kept)
    assert set(frames["events"]["type"]) == {"view"}
    counts = pd.read_parquet(tmp_path / "meta" / "plays.parquet")
    assert counts["plays"].sum() == kept["weight"].sum()
    inside = friends["userID"].isin(users) & friends["friendID"].isin(users)
    assert len(frames["social_edges"]) == inside.sum()
    assert info.reported["friend_rows_leaving_slice"] == (~inside).sum()
    edges = set(zip(frames["social_edges"]["src"], frames["social_edges"]["dst"], strict=True))
    assert all((d, s) in edges for s, d in edges)  # friendship in both directions
    assert len(frames["items"]) == 17632
    assert frames["items"].set_index("item_id").loc["1", "title"] == "MALICE MIZER"
    assert 15 <= len(frames["circles"]) <= 21
    assert not info.has_timestamps
