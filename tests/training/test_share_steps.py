"""The share-targeting training step: affinities without a group's own outcome, and the
reasons it is skipped."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.bundle.parts import BundleParts, PostsAndGroups
from recsys.circles import CircleCatalogue
from recsys.config import load_config
from recsys.contract import EventType
from recsys.datastore import DataDir
from recsys.errors import ConfigError
from recsys.features.circle_engagement import user_circle_engagement
from recsys.idmap import IdMap
from recsys.recipe import TrainConfig
from recsys.social.history import load_share_history
from recsys.training.share_steps import fit_share_targeting


def _inputs(data_dir):
    data = DataDir(data_dir)
    users, items = IdMap.load(data.idmap_path("users")), IdMap.load(data.idmap_path("items"))
    catalogue = CircleCatalogue.from_table(data.read_table("circles"))
    return data, users, items, catalogue


def test_the_ranker_reads_affinities_without_group_buys(share_world) -> None:
    parts = BundleParts.load(share_world["bundle"])
    data, users, items, catalogue = _inputs(share_world["data"])
    placer = parts.circles.placer
    assert placer is not None and parts.share is not None
    without = user_circle_engagement(
        data, users, catalogue, exclude_types=(EventType.GROUP_BUY_START,
                                               EventType.GROUP_BUY_JOIN),
    )  # fmt: skip
    expected = placer.predict_proba(without, parts.scorer.model.user_factors_,
                                    parts.social.friends).astype(np.float16)  # fmt: skip
    np.testing.assert_array_equal(np.asarray(parts.share.affinity), expected)
    # The bundle's own affinities count group joins: a joiner's affinity to the circle of the
    # item they joined for is higher there than in what the ranker learned from.
    history = load_share_history(data, users, items, catalogue)
    joiner, item = history.join_user, history.group_item[history.join_group]
    circle = history.item_circle[item]
    ok = circle >= 0
    with_groups = np.asarray(parts.circles.affinities)[joiner[ok], circle[ok]]
    leak_free = np.asarray(parts.share.affinity, np.float32)[joiner[ok], circle[ok]]
    assert with_groups.mean() > leak_free.mean() + 0.005
    manifest = json.loads((share_world["bundle"] / "manifest.json").read_text())
    facts = manifest["metrics"]["share_targeting"]
    assert facts["affinity"].startswith("placer") and facts["completion"]["groups"] > 0


def test_skipped_with_a_reason(share_world, tmp_path) -> None:
    data, users, items, catalogue = _inputs(share_world["data"])
    posts_groups = PostsAndGroups.from_data(data, items)
    friends = sp.csr_matrix((len(users), len(users)), dtype=np.float32)
    factors = np.zeros((len(users), 4), np.float32)

    def run(data_dir, config, friend_matrix):
        return fit_share_targeting(DataDir(data_dir), users, items, catalogue, posts_groups,
                                   friend_matrix, None, factors, config)  # fmt: skip

    off = TrainConfig.model_validate({"share": {"enabled": False}})
    assert run(data.root, off, friends) == (None, {"skipped": off_reason()})
    part, metrics = run(data.root, TrainConfig(), friends)
    assert part is None and "no group buys or no friendships" in metrics["skipped"]
    copy = tmp_path / "data"
    shutil.copytree(data.root, copy)
    shutil.rmtree(copy / "group_buys")
    some = sp.csr_matrix(np.eye(len(users), dtype=np.float32))
    _, metrics = run(copy, TrainConfig(), some)
    assert "no group buys" in metrics["skipped"]
    many = TrainConfig.model_validate({"share": {"min_groups": 100_000}})
    _, metrics = run(data.root, many, some)
    assert "share.min_groups = 100000" in metrics["skipped"]


def off_reason() -> str:
    return "turned off by the recipe (share.enabled = false)"


def test_the_runs_seed_seeds_the_ranker() -> None:
    with pytest.raises((ValueError, ConfigError), match="top-level seed"):
        TrainConfig.model_validate({"share": {"ranker": {"random_state": 3}}})
    assert load_config(TrainConfig, None, seed=4).share.ranker.random_state == 0
