"""The `post_affinity` knob: off, the output is exactly what earlier versions made; on, who
engages with a post follows friendship with its author, and nothing else changes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from recsys.synth import SynthConfig, generate

#: Content digests of SynthConfig(n_users=600, seed=5, chunk_users=250) made by the generator
#: before the knob existed (rows, sha256 of pandas' row hashes, first 16 hex): a content hash,
#: so a new Parquet writer version does not break it, but any changed value does.
BEFORE_THE_KNOB = {
    "events": (6549, "ff98d8d7904a5898"),
    "posts": (608, "058781537c4b0d68"),
    "group_buys": (22, "ebd5cb9f05dbf04f"),
    "social_edges": (4409, "4e372e0080d8be17"),
    "users": (600, "f01c53ab46791719"),
    "items": (60, "f37047475ee1fd8d"),
}


def _content(root: Path, table: str) -> tuple[int, str]:
    df = pq.read_table(root / table).to_pandas()
    rows = pd.util.hash_pandas_object(df, index=False).to_numpy()
    return len(df), hashlib.sha256(rows.tobytes()).hexdigest()[:16]


def test_off_by_default_leaves_the_output_unchanged(tmp_path: Path) -> None:
    generate(SynthConfig(n_users=600, seed=5, chunk_users=250), tmp_path / "off")
    assert {t: _content(tmp_path / "off", t) for t in BEFORE_THE_KNOB} == BEFORE_THE_KNOB


def _friend_author_share(root: Path) -> tuple[float, pd.DataFrame]:
    events = pq.read_table(root / "events").to_pandas()
    posts = pq.read_table(root / "posts").to_pandas()[["post_id", "author_id"]]
    edges = pq.read_table(root / "social_edges").to_pandas()
    friends = set(zip(*edges.loc[edges["kind"] == "friend", ["src", "dst"]].T.to_numpy(),
                      strict=True))
    on_posts = events[events["post_id"].notna()].merge(posts, on="post_id")
    pairs = zip(on_posts["user_id"], on_posts["author_id"], strict=True)
    return float(np.mean([p in friends for p in pairs])), events


@pytest.mark.slow
def test_on_ties_engagement_to_friendship_and_changes_nothing_else(tmp_path: Path) -> None:
    config = SynthConfig(n_users=2000, seed=3)
    generate(config, tmp_path / "off")
    generate(config.model_copy(update={"post_affinity": 0.6}), tmp_path / "on")
    off_share, off = _friend_author_share(tmp_path / "off")
    on_share, on = _friend_author_share(tmp_path / "on")
    assert on_share > 3 * off_share
    # Same users, items, posts, groups and friendships; the same item events. Post events
    # name other posts (their times, and the friends a post is shared to, follow from them).
    for table in ("posts", "group_buys", "users", "items"):
        assert _content(tmp_path / "off", table) == _content(tmp_path / "on", table)
    edges = {name: pq.read_table(tmp_path / name / "social_edges").to_pandas()
             for name in ("off", "on")}
    friend_edges = [e[e["kind"] == "friend"].reset_index(drop=True) for e in edges.values()]
    pd.testing.assert_frame_equal(*friend_edges)
    assert len(on) == len(off)
    item_events = ["user_id", "item_id", "type", "channel"]
    key = off["item_id"].notna()
    assert (off.loc[key, item_events].sort_values(item_events).to_numpy()
            == on.loc[on["item_id"].notna(), item_events].sort_values(item_events).to_numpy()
            ).all()
