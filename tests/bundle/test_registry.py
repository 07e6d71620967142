"""Promotion is guarded by metrics and checksums, atomic, logged, and can be rolled back."""

from __future__ import annotations

import json
import logging
import math

import pytest

from recsys.bundle import BundleWriter, Manifest, ModelRegistry
from recsys.errors import BundleError, PromotionRefusedError


def _metrics(ndcg: float, macro_f1: float) -> dict:
    """Both default guarded metrics, at their real keys."""
    return {
        "holdout": {"ndcg@10": ndcg},
        "placement": {"model": {"subsets": {"all": {"macro_f1": macro_f1}}}},
    }


GOOD = _metrics(0.30, 0.60)
WORSE = _metrics(0.25, 0.60)
SLIGHTLY = _metrics(0.29, 0.61)


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


def test_a_nan_guarded_metric_is_refused_even_on_first_promotion(make_bundle, models_dir) -> None:
    registry = ModelRegistry(models_dir)
    make_bundle(_metrics(math.nan, 0.6), version="v1")  # written as null: JSON has no NaN
    with pytest.raises(
        PromotionRefusedError,
        match=r"promotion of v1 refused: holdout.ndcg@10: null or not a number in v1 "
        r"\(a guarded metric must be a finite number\)",
    ):
        registry.promote("v1")
    assert registry.promoted() is None
    make_bundle(GOOD, version="v2")
    registry.promote("v2")
    with pytest.raises(PromotionRefusedError, match="holdout.ndcg@10: null or not a number"):
        registry.promote("v1")
    registry.promote("v1", force=True)
    assert registry.promoted() == "v1"


def test_nan_and_inf_in_memory_never_pass_the_guard(make_bundle, models_dir) -> None:
    registry = ModelRegistry(models_dir)
    reference = registry.manifest(make_bundle(GOOD, version="v1").name)
    for bad, shown in ((math.nan, "NaN"), (math.inf, "inf"), ("0.9", "null or not a number")):
        candidate = Manifest(
            version="v2", created_at="2026-01-01T00:00:00Z", metrics=_metrics(bad, 0.7)
        )
        for ref in (reference, None):
            assert registry.regressions(candidate, ref) == [
                f"holdout.ndcg@10: {shown} in v2 (a guarded metric must be a finite number)"
            ]


def test_a_nan_reference_or_an_unrecorded_metric_compares_nothing(
    make_bundle, models_dir, caplog
) -> None:
    registry = ModelRegistry(models_dir)
    make_bundle(_metrics(math.nan, 0.6), version="v1")
    registry.promote("v1", force=True)
    make_bundle(WORSE, version="v2")
    registry.promote("v2")  # v1's ndcg is no number: v2 cannot be worse than it
    make_bundle(GOOD, version="v3")
    with caplog.at_level(logging.WARNING, logger="recsys.bundle.registry"):
        registry.promote("v3", guarded_metrics=["holdout.ndgc@10"])  # a typo
    assert (
        "guarded metric holdout.ndgc@10 is not recorded by v3 nor by promoted v2: nothing guards "
        "it (check the metric name)"
    ) in caplog.text


def test_comparing_bundles_trained_on_other_data_warns(make_bundle, models_dir, caplog) -> None:
    registry = ModelRegistry(models_dir)
    make_bundle(GOOD, version="v1", fingerprint="ab" * 32)
    make_bundle(SLIGHTLY, version="v2", fingerprint="ab" * 32)
    make_bundle(GOOD, version="v3", fingerprint="cd" * 32)
    registry.promote("v1")
    with caplog.at_level(logging.WARNING, logger="recsys.bundle.registry"):
        registry.promote("v2")
        assert "other data" not in caplog.text
        registry.promote("v3")
    assert (
        "v3 was trained on other data than promoted v2 (data_fingerprint cdcdcdcdcdcd... vs "
        "abababababab...): their metrics were measured on different data and are not comparable"
    ) in caplog.text
    # A refreshed child carries its parent's metrics: refreshing data is not a comparison.
    with BundleWriter(models_dir, "v4", parent=registry.bundle("v3")) as writer:
        writer.commit(data_fingerprint="ef" * 32)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="recsys.bundle.registry"):
        registry.promote("v4")
    assert "other data" not in caplog.text and registry.promoted() == "v4"


def test_temp_folders_are_never_listed_or_promoted(make_bundle, models_dir) -> None:
    path = make_bundle(GOOD, version="v1")
    temp = models_dir / ".tmp-v2"
    temp.mkdir()
    (temp / "manifest.json").write_bytes((path / "manifest.json").read_bytes())
    registry = ModelRegistry(models_dir)
    assert [m.version for m in registry.versions()] == ["v1"]
    with pytest.raises(BundleError, match="invalid bundle version"):
        registry.promote(".tmp-v2", force=True)


def test_removing_bundles_repairs_the_pointer_and_the_rollback_history(
    make_bundle, models_dir
) -> None:
    registry = ModelRegistry(models_dir)
    for v in ("v1", "v2", "v3", "v4"):
        make_bundle(GOOD, version=v)
    for v in ("v1", "v2", "v3"):
        registry.promote(v)
    assert registry.remove("v4") == "v3"  # never promoted: the pointer stays
    assert registry.remove("v2") == "v3"
    assert registry.remove("v3") == "v1"  # promoted: back to the latest earlier one left
    assert registry.promoted() == "v1" and not (models_dir / "v3").exists()
    with pytest.raises(BundleError, match="no earlier promoted version"):
        registry.rollback()  # v2 and v3 are gone from the stack, not just from disk
    assert registry.remove("v1") is None
    assert registry.promoted() is None and not (models_dir / "PROMOTED").exists()
    actions = [(h["action"], h["version"]) for h in registry.history()]
    assert actions[-3:] == [("remove", "v3"), ("rollback", "v1"), ("remove", "v1")]
    with pytest.raises(BundleError, match="no such bundle folder"):
        registry.remove("v1")


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
