"""Promotion is guarded by metrics and checksums, atomic, logged, and can be rolled back."""

from __future__ import annotations

import json

import pytest

from recsys.bundle import ModelRegistry
from recsys.errors import BundleError, PromotionRefusedError

GOOD = {"holdout": {"ndcg@10": 0.30}, "placement": {"model": {"all": {"macro_f1": 0.60}}}}
WORSE = {"holdout": {"ndcg@10": 0.25}, "placement": {"model": {"all": {"macro_f1": 0.60}}}}
SLIGHTLY = {"holdout": {"ndcg@10": 0.29}, "placement": {"model": {"all": {"macro_f1": 0.61}}}}


def test_versions_lists_complete_bundles_only(make_bundle, models_dir) -> None:
    make_bundle(GOOD, version="20260101T000000Z-aaaaaa")
    make_bundle(GOOD, version="20260102T000000Z-bbbbbb")
    (models_dir / ".tmp-20260103T000000Z-cccccc").mkdir()
    (models_dir / "20260104T000000Z-dddddd").mkdir()  # no manifest: partial
    registry = ModelRegistry(models_dir)
    assert [m.version for m in registry.versions()] == [
        "20260101T000000Z-aaaaaa",
        "20260102T000000Z-bbbbbb",
    ]
    assert registry.promoted() is None
    assert ModelRegistry(models_dir / "absent").versions() == []


def test_promote_refuses_regression_then_force(make_bundle, models_dir) -> None:
    registry = ModelRegistry(models_dir)
    make_bundle(GOOD, version="v1")
    make_bundle(WORSE, version="v2")
    registry.promote("v1")
    assert registry.promoted() == "v1"
    with pytest.raises(PromotionRefusedError, match=r"holdout.ndcg@10: 0.2500 vs 0.3000 in v1"):
        registry.promote("v2")
    assert registry.promoted() == "v1"
    registry.promote("v2", tolerance=0.1)  # a looser tolerance lets it through
    assert registry.promoted() == "v2"
    registry.promote("v1")
    registry.promote("v2", force=True)
    assert registry.promoted() == "v2"
    history = registry.history()
    assert [h["version"] for h in history] == ["v1", "v2", "v1", "v2"]
    assert history[-1]["forced"] is True and history[-1]["previous"] == "v1"


def test_within_tolerance_and_unguarded_metrics_pass(make_bundle, models_dir) -> None:
    registry = ModelRegistry(models_dir)
    make_bundle(GOOD, version="v1")
    make_bundle(SLIGHTLY, version="v2")
    make_bundle({"other": 1.0}, version="v3")
    registry.promote("v1")
    registry.promote("v2")  # -0.01 is inside the default 0.02 tolerance
    with pytest.raises(PromotionRefusedError, match="holdout.ndcg@10: not recorded"):
        registry.promote("v3")
    registry.promote("v3", guarded_metrics=["other"])  # v2 lacks "other": nothing to compare


def test_corrupt_or_missing_bundle_is_never_promoted(make_bundle, models_dir) -> None:
    registry = ModelRegistry(models_dir)
    make_bundle(GOOD, version="v1")
    registry.promote("v1")
    path = make_bundle(GOOD, version="v2")
    (path / "params.json").write_text("{}")
    with pytest.raises(BundleError, match="params.json"):
        registry.promote("v2", force=True)
    with pytest.raises(BundleError, match="no such bundle"):
        registry.promote("v9")
    with pytest.raises(BundleError, match="invalid bundle version"):
        registry.promote("../v1")
    assert registry.promoted() == "v1"
    assert registry.current_bundle().version == "v1"


def test_rollback_walks_back_the_promotion_stack(make_bundle, models_dir) -> None:
    registry = ModelRegistry(models_dir)
    with pytest.raises(BundleError, match="no bundle has been promoted"):
        registry.current_bundle()
    for v in ("v1", "v2", "v3"):
        make_bundle(GOOD, version=v)
    registry.promote("v1")
    with pytest.raises(BundleError, match="no earlier promoted version"):
        registry.rollback()
    registry.promote("v2")
    registry.promote("v3")
    assert registry.rollback() == "v2"
    assert registry.promoted() == "v2"
    assert registry.rollback() == "v1"
    with pytest.raises(BundleError, match="no earlier"):
        registry.rollback()
    assert registry.promoted() == "v1"
    lines = (models_dir / "promotions.jsonl").read_text().splitlines()
    assert [json.loads(x)["action"] for x in lines] == [
        "promote",
        "promote",
        "promote",
        "rollback",
        "rollback",
    ]
    # The pointer is one line and no temp file is left behind.
    assert (models_dir / "PROMOTED").read_text() == "v1\n"
    assert not list(models_dir.glob(".PROMOTED.tmp-*"))


def test_rollback_refuses_a_broken_target(make_bundle, models_dir) -> None:
    registry = ModelRegistry(models_dir)
    make_bundle(GOOD, version="v1")
    make_bundle(GOOD, version="v2")
    registry.promote("v1")
    registry.promote("v2")
    (models_dir / "v1" / "manifest.json").unlink()
    with pytest.raises(BundleError, match="partial"):
        registry.rollback()
    assert registry.promoted() == "v2"


def test_placement_is_compared_only_where_the_candidate_was_scored(make_bundle, models_dir):
    """Placement F1 exists only against planted truth: real data (none) is not refused for it,
    while a truth-scored candidate on the same data still is."""
    registry = ModelRegistry(models_dir)
    scored = {"holdout": {"ndcg@10": 0.3},
              "placement": {"model": {"subsets": {"all": {"macro_f1": 0.7}}}}}
    make_bundle(scored, version="v1")
    make_bundle({"holdout": {"ndcg@10": 0.3}, "placement": {"method": "history_frequency"}},
                version="v2")
    worse = {"holdout": {"ndcg@10": 0.3},
             "placement": {"model": {"subsets": {"all": {"macro_f1": 0.6}}}}}
    make_bundle(worse, version="v3")
    registry.promote("v1")
    registry.promote("v2")
    registry.promote("v1")
    with pytest.raises(PromotionRefusedError, match="placement.model.subsets.all.macro_f1"):
        registry.promote("v3")
