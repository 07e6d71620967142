"""Catalogue refresh: new group buys and posts reach a child bundle without a retrain."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from recsys.bundle.bundle import Bundle
from recsys.bundle.manifest import data_fingerprint
from recsys.bundle.parts import BundleParts
from recsys.bundle.registry import ModelRegistry
from recsys.datastore import DataDir
from recsys.errors import BundleError, UnusableFileError
from recsys.idmap import IdMap
from recsys.ingest import ingest
from recsys.item_stats import users_per_item
from recsys.recipe import TrainConfig
from recsys.runtime import PolicyStep, RuntimeModel
from recsys.synth import SynthConfig, generate
from recsys.training.refresh import check_prefix, refresh_catalogue
from recsys.training.run import run_training
from tests.conftest import RANKED_FAST

DAY = "2024-12-31"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A 400-user sample, ingested, trained and promoted (copied by each test)."""
    root = tmp_path_factory.mktemp("refresh")
    generate(SynthConfig(n_users=400, n_items=250, seed=5), root / "raw")
    ingest(root / "raw", root / "data")
    config = TrainConfig.model_validate({"seed": 1, "content": {"evaluate_cold_start": False},
                                         "ranked": RANKED_FAST})
    path = run_training(root / "data", config, models_dir=root / "models")
    ModelRegistry(root / "models").promote(path.name)
    return root


@pytest.fixture
def env(trained, tmp_path) -> dict[str, Path]:
    shutil.copytree(trained / "data", tmp_path / "data")
    shutil.copytree(trained / "models", tmp_path / "models")
    (tmp_path / "delta").mkdir()
    return {"data": tmp_path / "data", "models": tmp_path / "models", "delta": tmp_path / "delta"}


def _items(rows: list[dict]) -> pd.DataFrame:
    base = {
        "title": "fresh item",
        "category": "drinks",
        "brand": "newbrand",
        "merchant_id": "m_new",
        "price": "19.9",
        "is_group_buy": "true",
        "created_ts": f"{DAY}T08:00:00Z",
        "status": "listed",
    }
    return pd.DataFrame([{**base, **r} for r in rows])


def _group_buy_delta(env: dict[str, Path], users: list[str]) -> list[str]:
    """3 new group-buy drinks items, posts naming them, group buys and join events."""
    new = ["gb_new_1", "gb_new_2", "gb_new_3"]
    titles = ["sparkling peach tea", "cold brew coffee six pack", "mango juice party box"]
    _items([{"item_id": i, "title": t} for i, t in zip(new, titles, strict=True)]).to_csv(
        env["delta"] / "items.csv", index=False
    )
    pd.DataFrame(
        {
            "post_id": [f"p_new_{k}" for k in range(3)],
            "author_id": users[:3],
            "circle_id": "snacks",
            "item_id": new,
            "created_ts": f"{DAY}T09:00:00Z",
            "text": ["so refreshing peach tea", "strong coffee for mornings", "juice for kids"],
            "deleted": "false",
        }
    ).to_csv(env["delta"] / "posts.csv", index=False)
    pd.DataFrame(
        {
            "group_id": [f"g_new_{k}" for k in range(3)],
            "item_id": new,
            "initiator_id": users[:3],
            "created_ts": f"{DAY}T10:00:00Z",
            "deadline_ts": "2025-01-02T10:00:00Z",
            "target_size": "3",
            "status": "open",
        }
    ).to_csv(env["delta"] / "group_buys.csv", index=False)
    # Each group's initiator starts it, the two others join.
    events = [
        {
            "event_id": f"e_new_{g}_{u}",
            "user_id": users[u],
            "item_id": new[g],
            "type": "group_buy_start" if u == g else "group_buy_join",
            "group_id": f"g_new_{g}",
            "channel": "feed",
            "ts": f"{DAY}T1{u}:30:00Z",
        }
        for g in range(3)
        for u in range(3)
    ]
    pd.DataFrame(events).to_csv(env["delta"] / "events.csv", index=False)
    return new


def test_new_group_buys_get_vectors_index_entries_and_lists(env) -> None:
    registry = ModelRegistry(env["models"])
    parent = registry.current_bundle()
    before = BundleParts.load(parent.root, mmap=False)
    new = _group_buy_delta(env, before.ids.users.ids[:3].tolist())

    summary = refresh_catalogue(env["data"], env["delta"], env["models"])

    assert registry.promoted() == summary.version != parent.version
    Bundle.open(parent.root, verify=True)  # the parent is untouched
    child = registry.current_bundle(verify=True)
    assert child.manifest.parent_version == parent.version
    assert child.manifest.row_counts["items"] == len(before.ids.items) + 3
    assert child.manifest.metrics["refresh"]["new_items"] == 3
    assert child.manifest.metrics["refresh"]["new_posts"] == 3
    assert child.manifest.metrics["holdout"] == parent.manifest.metrics["holdout"]
    assert child.manifest.data_fingerprint == data_fingerprint(env["data"])
    assert "refresh.items" in child.manifest.step_timings
    assert summary.new_items == 3 and summary.new_users_not_placed == 0
    assert summary.quarantined == {}

    model = BundleParts.load(child.root)
    n_before, n_after = len(before.ids.items), len(model.ids.items)
    idx = model.ids.items.to_index(new)
    assert (idx == np.arange(n_before, n_before + 3)).all()
    old_vectors = before.scorer.model.item_vectors_
    vectors = np.asarray(model.scorer.model.item_vectors_)
    assert vectors.shape == (n_before + 3, old_vectors.shape[1])
    assert model.scorer.model.n_items_ == n_after
    assert set(idx.tolist()) <= set(model.scorer.model.cold_items_.tolist())
    assert np.isfinite(vectors[idx]).all() and np.abs(vectors[idx]).sum() > 0
    np.testing.assert_array_equal(vectors[:n_before], old_vectors)
    # the user side is the parent's, byte for byte
    np.testing.assert_array_equal(model.scorer.model.user_factors_,
                                  before.scorer.model.user_factors_)
    item_index = model.indexes.items
    assert item_index.ntotal == n_after
    ids, scores = item_index.search(vectors[idx], k=item_index.ntotal)
    for row, item in enumerate(idx):
        hit = np.flatnonzero(ids[row] == item)
        assert len(hit) == 1
        assert scores[row, hit[0]] == pytest.approx(vectors[item] @ vectors[item], rel=1e-4)
    for matrix in ("interacted", "purchased"):
        got, was = getattr(model.history, matrix), getattr(before.history, matrix)
        assert got.shape == (len(before.ids.users), n_after)
        assert got.nnz == was.nnz
    circle = int(model.catalogue.circle_idx[idx[0]])
    assert circle >= 0
    group_buy_items, _ = model.lists.group_buy.get(circle)
    assert set(group_buy_items.tolist()) & set(idx.tolist())
    assert len(model.lists.item_popularity) == n_after
    assert model.lists.item_popularity[idx].min() > 0
    runtime = RuntimeModel.load(child.root)
    # The parent's ranked part knows the items before the refresh: it ranks that prefix.
    assert runtime.parts.ranked.n_items == len(before.ids.items) < n_after
    warm = np.flatnonzero(np.diff(model.history.interacted.indptr) > 0)[:5]
    for u in model.ids.users.ids[warm]:
        answer = runtime.recommend(u, 10)
        assert len(answer.items) == 10 and answer.step is PolicyStep.RANKED
    assert runtime.similar_items(new[0], 3).items  # a new item has neighbours at once
    # The data directory holds the new rows too, under the same ids.
    data = DataDir(env["data"])
    assert len(IdMap.load(data.idmap_path("items"))) == n_after
    assert not list(env["data"].parent.glob(".data.refresh-*"))


def test_bad_rows_are_quarantined_and_delistings_applied(env) -> None:
    parent = ModelRegistry(env["models"]).current_bundle()
    before = BundleParts.load(parent.root, mmap=False)
    listed = before.ids.items.ids[np.flatnonzero(before.catalogue.listed)[0]]
    _items(
        [
            {"item_id": "ok_1"},
            {"item_id": listed, "status": "delisted"},  # an update of an existing item
            {"item_id": "bad_price", "price": "cheap"},
        ]
    ).to_csv(env["delta"] / "items.csv", index=False)

    summary = refresh_catalogue(env["data"], env["delta"], env["models"])

    assert summary.new_items == 1
    assert summary.quarantined == {"items": 1}
    assert summary.status_updates == 1 and summary.delisted_items == 1
    quarantine = pq.read_table(DataDir(env["data"]).quarantine_path("items")).to_pandas()
    bad = quarantine[quarantine["item_id"] == "bad_price"]
    assert bad[["_file", "_row", "_field"]].values.tolist() == [["delta/items.csv", 3, "price"]]
    model = RuntimeModel.load(ModelRegistry(env["models"]).current_bundle().root)
    is_listed = model.parts.catalogue.listed
    assert not is_listed[model.parts.ids.items.to_index([listed])[0]]
    assert is_listed[model.parts.ids.items.to_index(["ok_1"])[0]]
    for user in model.parts.ids.users.ids:
        assert listed not in {i.item_id for i in model.recommend(user, 20).items}
    items = DataDir(env["data"]).read_table("items").to_pandas().set_index("item_id")
    assert items.loc[listed, "status"] == "delisted"


def test_new_and_unknown_users_are_reported(env) -> None:
    parent = ModelRegistry(env["models"]).current_bundle()
    model = BundleParts.load(parent.root, mmap=False)
    item = model.ids.items.ids[0]
    _items([{"item_id": "solo_1", "is_group_buy": "false"}]).to_csv(
        env["delta"] / "items.csv", index=False
    )
    # A typed Parquet delta: its cells are judged as text like a CSV's.
    pd.DataFrame(
        {
            "user_id": ["u_brand_new", "u_bad_signup"],
            "signup_ts": pd.to_datetime([f"{DAY}T00:00:00Z", "1960-01-01T00:00:00Z"]),
            "share_opt_out": [False, False],
        }
    ).to_parquet(env["delta"] / "users.parquet")
    pd.DataFrame(
        {
            "event_id": ["e_known", "e_unknown"],
            "user_id": ["u_brand_new", "u_nobody"],
            "item_id": [item, item],
            "type": ["view", "view"],
            "ts": [f"{DAY}T12:00:00Z"] * 2,
        }
    ).to_csv(env["delta"] / "events.csv", index=False)

    summary = refresh_catalogue(env["data"], env["delta"], env["models"])

    assert summary.new_users_not_placed == 1
    assert summary.quarantined == {"users": 1, "events": 1}
    quarantine = pq.read_table(DataDir(env["data"]).quarantine_path("events")).to_pandas()
    assert quarantine.loc[quarantine["event_id"] == "e_unknown", "_field"].tolist() == ["user_id"]
    child = ModelRegistry(env["models"]).current_bundle()
    assert child.manifest.metrics["refresh"]["new_users_not_placed"] == 1
    assert child.manifest.row_counts["users"] == len(model.ids.users)


def test_cold_item_with_new_posts_is_remapped(env) -> None:
    parent = ModelRegistry(env["models"]).current_bundle()
    before = BundleParts.load(parent.root, mmap=False)
    item_users = users_per_item(before.history.interacted)
    cold = np.flatnonzero(item_users < TrainConfig().content.warm_min_users)
    assert len(cold), "the sample should have cold items"
    item = int(cold[0])
    author = before.ids.users.ids[0]
    pd.DataFrame(
        {
            "post_id": ["p_cold_1", "p_cold_2"],
            "author_id": [author, author],
            "circle_id": ["snacks", "snacks"],
            "item_id": [before.ids.items.ids[item]] * 2,
            "created_ts": [f"{DAY}T09:00:00Z"] * 2,
            "text": ["spicy noodles late night snack", "crispy chips and spicy noodles"],
            "deleted": ["false", "false"],
        }
    ).to_csv(env["delta"] / "posts.csv", index=False)

    summary = refresh_catalogue(env["data"], env["delta"], env["models"])

    assert summary.new_items == 0 and summary.new_posts == 2
    assert summary.remapped_cold_items == 1
    model = BundleParts.load(ModelRegistry(env["models"]).current_bundle().root)
    vectors, was = model.scorer.model.item_vectors_, before.scorer.model.item_vectors_
    changed = np.flatnonzero(np.any(vectors != was, axis=1))
    assert changed.tolist() == [item]
    index = model.indexes.items
    ids, _ = index.search(vectors[[item]], k=index.ntotal)
    scores = vectors @ vectors[item]
    assert ids[0, 0] == int(np.argmax(scores))  # the index holds the re-mapped vector


def test_failed_refresh_changes_nothing(env) -> None:
    registry = ModelRegistry(env["models"])
    promoted = registry.promoted()
    versions = sorted(p.name for p in env["models"].iterdir())
    fingerprint = data_fingerprint(env["data"])
    # No title column at all: ingest cannot use the file.
    _items([{"item_id": "x1"}]).drop(columns=["title"]).to_csv(
        env["delta"] / "items.csv", index=False
    )

    with pytest.raises(UnusableFileError, match="delta/items.csv.*title"):
        refresh_catalogue(env["data"], env["delta"], env["models"])

    assert registry.promoted() == promoted
    assert sorted(p.name for p in env["models"].iterdir()) == versions
    assert data_fingerprint(env["data"]) == fingerprint
    assert not list(env["data"].parent.glob(".data.*"))


def test_header_only_delta_table_is_an_empty_delta(env) -> None:
    _items([{"item_id": "solo_2"}]).to_csv(env["delta"] / "items.csv", index=False)
    (env["delta"] / "posts.csv").write_text(
        "post_id,author_id,circle_id,item_id,created_ts,text,deleted\n", encoding="utf-8"
    )

    summary = refresh_catalogue(env["data"], env["delta"], env["models"])

    assert (summary.new_items, summary.new_posts) == (1, 0)
    assert summary.delta_rows == {"items": 1, "posts": 0}
    assert summary.quarantined == {}


def test_delta_file_with_no_accepted_row_fails_and_changes_nothing(env) -> None:
    registry = ModelRegistry(env["models"])
    promoted = registry.promoted()
    fingerprint = data_fingerprint(env["data"])
    _items([{"item_id": "x2"}]).to_csv(env["delta"] / "items.csv", index=False)
    # Millisecond timestamps where seconds or ISO are expected: every new user is rejected.
    pd.DataFrame(
        {
            "user_id": ["u_ms_1", "u_ms_2"],
            "signup_ts": ["1735603200000", "1735606800000"],
            "share_opt_out": ["false", "false"],
        }
    ).to_csv(env["delta"] / "users.csv", index=False)

    with pytest.raises(UnusableFileError, match="no row accepted") as err:
        refresh_catalogue(env["data"], env["delta"], env["models"])

    assert (err.value.path, err.value.row, err.value.field) == ("delta/users.csv", 1, "signup_ts")
    assert registry.promoted() == promoted
    assert data_fingerprint(env["data"]) == fingerprint


def test_cli_no_promote_writes_an_unpromoted_child(env) -> None:
    registry = ModelRegistry(env["models"])
    promoted = registry.promoted()
    _items([{"item_id": "cli_1"}]).to_csv(env["delta"] / "items.csv", index=False)
    args = ["refresh", "--data", str(env["data"]), "--new", str(env["delta"])]
    args += ["--models-dir", str(env["models"]), "--no-promote"]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    assert "new items 1" in result.output and "not promoted" in result.output
    assert registry.promoted() == promoted
    children = [m for m in registry.versions() if m.parent_version == promoted]
    assert len(children) == 1


def test_refresh_refuses_when_ids_moved() -> None:
    check_prefix(IdMap(["a", "b"]), IdMap(["a", "b", "c"]), "items")
    with pytest.raises(BundleError, match="retrain"):
        check_prefix(IdMap(["a", "b"]), IdMap(["b", "a", "c"]), "items")
    with pytest.raises(BundleError, match="retrain"):
        check_prefix(IdMap(["a", "b"]), IdMap(["a"]), "items")


def test_refresh_keeps_the_time_kind_of_the_base(env) -> None:
    """Order-only times stay order-only: the combined source has no dataset.json to say so."""
    report = DataDir(env["data"]).report_path
    recorded = json.loads(report.read_text(encoding="utf-8"))
    report.write_text(json.dumps({**recorded, "time_kind": "order"}), encoding="utf-8")
    assert DataDir(env["data"]).time_kind() == "order"
    _items([{"item_id": "solo_3"}]).to_csv(env["delta"] / "items.csv", index=False)

    refresh_catalogue(env["data"], env["delta"], env["models"])

    assert DataDir(env["data"]).time_kind() == "order"
