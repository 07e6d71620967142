"""End to end: synthetic sample -> ingest -> train -> bundle, and what a bundle must guarantee."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from recsys.bundle.bundle import Bundle
from recsys.bundle.parts import BundleParts
from recsys.config import load_config
from recsys.errors import BundleError, RecsysError
from recsys.ingest import ingest
from recsys.recipe import TrainConfig
from recsys.runtime import ExclusionRule, RuntimeModel
from recsys.synth import SynthConfig, generate
from recsys.training.run import run_training
from tests.conftest import RANKED_FAST, RANKED_OFF

NO_RANKED = TrainConfig.model_validate({"ranked": RANKED_OFF})
DEFAULT_TOML = Path(__file__).resolve().parents[2] / "pipelines" / "configs" / "default.toml"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sample")
    generate(SynthConfig(n_users=600, n_items=400, seed=3), root / "raw")
    ingest(root / "raw", root / "data")
    return root / "raw", root / "data"


@pytest.fixture(scope="module")
def two_bundles(sample, tmp_path_factory) -> tuple[Path, Path]:
    raw, data = sample
    models = tmp_path_factory.mktemp("models")
    config = TrainConfig.model_validate({"seed": 7, "ranked": RANKED_FAST})
    first = run_training(data, config, truth_dir=raw / "truth", models_dir=models)
    second = run_training(data, config, truth_dir=raw / "truth", models_dir=models)
    return first, second


def test_default_toml_documents_exactly_the_code_defaults() -> None:
    assert load_config(TrainConfig, DEFAULT_TOML) == TrainConfig()


def test_bundle_has_manifest_metrics_and_loads(two_bundles) -> None:
    path, _ = two_bundles
    manifest = json.loads((path / "manifest.json").read_text())
    for key in (
        "version",
        "created_at",
        "data_fingerprint",
        "config",
        "library_versions",
        "row_counts",
        "step_timings",
        "metrics",
        "files",
    ):
        assert key in manifest, key
    metrics = manifest["metrics"]
    assert 0.0 < metrics["holdout"]["ndcg@10"] <= 1.0
    for retrieval in ("user_to_item", "item_to_item"):
        assert metrics["index"][f"{retrieval}_recall@10"] >= 0.95, retrieval
    assert set(manifest["step_timings"]) >= {"interactions", "validation", "indexes", "bundle"}
    cold = metrics["cold_start"]
    assert cold["chosen"] == "newest" and cold["cold_items"] > 0
    for variant in ("catalogue_only", "with_ugc"):
        assert set(cold[variant]) == {"buyers", "all_users"}, variant
        buyers = cold[variant]["buyers"]
        # A cold item has no training popularity: the popularity fallback ranks it last.
        assert buyers["model_auc"] > buyers["popularity_auc"]
    content = metrics["content"]  # the synthetic titles and posts tell items apart
    assert content["map"] == "fitted" and content["text_coverage"] > 0.9
    assert content["mapped_items"] == manifest["row_counts"]["cold_items"]
    placement = metrics["placement"]
    assert placement["method"] == "learned with friends"
    assert "no_ugc" in placement["model"]["subsets"]
    Bundle.open(path)  # checksums verify
    parts = BundleParts.load(path)
    circles = parts.circles
    assert circles.affinities.shape == (len(parts.ids.users), len(circles.catalogue))
    assert circles.members.any(axis=1).all(), "every user gets at least one circle"
    history = parts.history.interacted
    ids, _ = _top_items(parts, np.arange(5))
    assert (ids >= 0).all()
    seen = history[:5].toarray() > 0
    assert not np.take_along_axis(seen, ids, axis=1).any(), "seen items are filtered"


def _top_items(parts: BundleParts, users: np.ndarray, k: int = 10):
    return ExclusionRule().recommend(
        parts.scorer.model, users, parts.history.interacted[users], k,
        purchased=parts.history.purchased[users],
        unlisted=np.flatnonzero(~np.asarray(parts.catalogue.listed)),
    )


def test_same_data_config_seed_gives_the_same_bundle(two_bundles) -> None:
    a, b = (BundleParts.load(p) for p in two_bundles)
    assert a.ids.items.ids.tolist() == b.ids.items.ids.tolist()
    assert a.ids.users.ids.tolist() == b.ids.users.ids.tolist()
    for name, arr in a.lists.to_arrays().items():
        np.testing.assert_array_equal(arr, b.lists.to_arrays()[name], err_msg=name)
    sa, sb = a.scorer.model, b.scorer.model
    np.testing.assert_allclose(sa.user_factors_, sb.user_factors_, atol=1e-4)
    np.testing.assert_allclose(sa.item_vectors_, sb.item_vectors_, atol=1e-4)
    users = np.arange(len(a.ids.users))
    ids_a, _ = _top_items(a, users)
    ids_b, _ = _top_items(b, users)
    assert (ids_a == ids_b).all(axis=1).mean() >= 0.99
    ranked_a, _ = a.ranked.model.recommend(users, a.history.interacted, 10)
    ranked_b, _ = b.ranked.model.recommend(users, b.history.interacted, 10)
    assert (ranked_a == ranked_b).all(axis=1).mean() >= 0.99


def test_the_ranked_part_is_fitted_on_the_history_with_side_data(two_bundles) -> None:
    """The default recipe fits the ranked recommender on the bundle's own training matrix,
    with the synthetic data's times, circles, friends and content, and records its fit."""
    path, _ = two_bundles
    manifest = json.loads((path / "manifest.json").read_text())
    report = manifest["metrics"]["ranked"]
    assert report["label_split"] == "temporal" and report["skipped_sources"] == {}
    assert report["fit_pairs"] + report["label_pairs"] <= manifest["row_counts"]["user_item_pairs"]
    assert report["seconds"] > 0 and "ranked" in manifest["step_timings"]
    assert manifest["config"]["ranked"]["enabled"] is True
    ranked = BundleParts.load(path).ranked
    assert ranked is not None and ranked.n_items == manifest["row_counts"]["items"]
    assert {s.name for s in ranked.model.sources_} >= {"friends", "circle_trending", "content"}
    # The default recipe's ALS source has the shipped CF's settings: it took that fit.
    assert report["adopted"] == ["als"]
    als = next(s for s in ranked.model.sources_ if s.name == "als").model_
    shipped = BundleParts.load(path).scorer.model
    np.testing.assert_array_equal(als.user_factors_, shipped.user_factors_)
    # Memory-mapped like the scorer's, so serving workers share the pages.
    assert isinstance(als.user_factors_, np.memmap)


def test_a_platform_above_the_fit_caps_validates_and_learns_on_user_samples(sample,
                                                                            tmp_path) -> None:
    """Past `validation_max_users` and `[ranked] max_fit_users` (1M each by default), the
    validation fit and the ranker's first fit run on seeded user samples, which is what keeps
    a 10M-user training within one machine; the bundle still serves every user."""
    _, data = sample
    config = TrainConfig.model_validate({
        "validation_max_users": 300, "ranked": {**RANKED_FAST, "max_fit_users": 250}})
    path = run_training(data, config, models_dir=tmp_path / "models")
    manifest = json.loads((path / "manifest.json").read_text())
    metrics = manifest["metrics"]
    assert metrics["validation_users"] == 300 and metrics["ranked"]["fit_users"] == 250
    assert 0 < metrics["holdout"]["users"] <= 300 and metrics["holdout"]["ndcg@10"] > 0
    parts = BundleParts.load(path)
    users = np.flatnonzero(np.diff(parts.history.interacted.indptr) > 0)
    ids, _ = parts.ranked.model.recommend(users, parts.history.interacted[users], k=5)
    assert len(users) > 500 and (ids >= 0).all()


def test_corrupt_bundle_is_detected(two_bundles, tmp_path) -> None:
    copy = tmp_path / two_bundles[0].name
    shutil.copytree(two_bundles[0], copy)
    target = copy / "scorer" / "item_vectors_.npy"
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="item_vectors_.npy"):
        Bundle.open(copy)
    with pytest.raises(BundleError, match="item_vectors_.npy"):
        RuntimeModel.load(copy)  # loading verifies by default, not only Bundle.open
    RuntimeModel.load(copy, verify=False)  # the explicit opt-out for verified hot paths


def test_failed_run_leaves_no_bundle(sample, tmp_path) -> None:
    _, data = sample
    models = tmp_path / "models"
    broken = tmp_path / "broken"
    shutil.copytree(data, broken)
    shutil.rmtree(broken / "events")
    with pytest.raises(RecsysError):
        run_training(broken, NO_RANKED, models_dir=models)
    leftovers = [p for p in models.glob("*")] if models.exists() else []
    assert leftovers == []


def test_a_crash_while_writing_leaves_no_bundle(sample, tmp_path, monkeypatch) -> None:
    _, data = sample
    models = tmp_path / "models"
    real_save = BundleParts.save

    def save_then_crash(self: BundleParts, root: Path, **kwargs: object) -> None:
        real_save(self, root, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(BundleParts, "save", save_then_crash)
    with pytest.raises(OSError, match="disk full"):
        run_training(data, NO_RANKED, models_dir=models)
    assert [p.name for p in models.iterdir()] == []


def test_data_without_posts_falls_back_to_history_placement(sample, tmp_path) -> None:
    """Public data sets have no UGC to learn circles from: training still completes, placing
    users by their own history's circle shares, and says so in the manifest."""
    _, data = sample
    no_posts = tmp_path / "data"
    shutil.copytree(data, no_posts)
    shutil.rmtree(no_posts / "posts")
    path = run_training(no_posts, NO_RANKED, models_dir=tmp_path / "models")
    metrics = json.loads((path / "manifest.json").read_text())["metrics"]
    placement = metrics["placement"]
    assert placement["method"] == "history_frequency"
    assert "enabled = false" in metrics["ranked"]["skipped"]
    assert "labelled users" in placement["fallback_reason"]
    parts = BundleParts.load(path)
    assert parts.ranked is None  # [ranked] enabled = false: no part
    assert parts.circles.placer is None
    assert parts.circles.members.any(axis=1).all()
    active = np.diff(parts.history.interacted.indptr) > 0
    np.testing.assert_allclose(parts.circles.affinities[active].sum(axis=1), 1.0, rtol=1e-5)
