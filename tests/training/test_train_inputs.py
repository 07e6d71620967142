"""`recsys train` on data that lacks something: no interactions, no users, no items, no text.

Data without interactions is refused in one line; items without usable text train a bundle
whose content map is skipped, said so in the manifest, and which `recsys refresh` still extends.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from recsys.bundle.parts import BundleParts
from recsys.bundle.registry import ModelRegistry
from recsys.circles import Circle, CircleCatalogue
from recsys.datastore import DataDir
from recsys.idmap import IdMap
from recsys.ingest import ingest
from recsys.recipe import TrainConfig
from recsys.runtime import RuntimeModel
from recsys.training.refresh import refresh_catalogue
from recsys.training.run import run_training
from tests.evaluation.test_harness import FAST, _table, make_data_dir

runner = CliRunner()
PLACES = CircleCatalogue((Circle("places", "地点", "Places", ("place",)),))


@pytest.fixture(scope="module")
def place_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 users x 40 items titled "place N" in one category, as Brightkite imports: the
    documents do not tell items apart. Written as a source folder, then ingested."""
    root = tmp_path_factory.mktemp("places")
    raw = make_data_dir(root / "raw")
    source = DataDir(raw)
    source.write_table("items", _table("items", [
        dict(item_id=f"i{i}", title=f"place {i}", category="place") for i in range(40)]))
    source.write_table("circles", PLACES.to_table())
    ingest(raw, root / "data")
    return root / "data"


def _one_error_line(args: list[str]) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {type(result.exception).__name__}: {result.exception}")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_data_without_events_is_refused_in_one_line(place_data: Path, tmp_path: Path) -> None:
    data = DataDir(tmp_path / "data")
    _copy(place_data, data.root)
    data.write_table("events", _table("events", []))
    line = _one_error_line(["train", "--data", data.root, "--models-dir", tmp_path / "models"])
    assert line == (f"error: {data.root}: no usable events: the events table has no rows; "
                    "training and evaluation need interactions between known users and items")
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


@pytest.mark.parametrize(("entity", "reason"), [("users", "unknown_user"), ("items", "no_item")])
def test_empty_users_or_items_table_is_refused_in_one_line(
    place_data: Path, tmp_path: Path, entity: str, reason: str
) -> None:
    data = DataDir(tmp_path / "data")
    _copy(place_data, data.root)
    data.write_table(entity, _table(entity, []))
    IdMap([]).save(data.idmap_path(entity))
    line = _one_error_line(["train", "--data", data.root, "--models-dir", tmp_path / "models"])
    assert f"{data.root}: no usable events: all 722 events were dropped ({reason} 722)" in line


def test_items_without_usable_text_skip_the_content_map(place_data: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    path = run_training(place_data, FAST, models_dir=models)
    manifest = json.loads((path / "manifest.json").read_text())
    content = manifest["metrics"]["content"]
    assert content["map"] == "skipped" and content["mapped_items"] == 0
    assert content["reason"].startswith("items have no usable text: 25.0% of 40 item documents")
    assert content["text_coverage"] == 0.25  # "place place" where the id has one digit
    assert manifest["row_counts"]["cold_items"] == 0
    assert "cold_start" not in manifest["metrics"]
    assert not (path / "content").exists()
    parts = BundleParts.load(path)
    assert parts.content is None
    assert len(parts.scorer.model.cold_items_) == 0  # every item kept its CF factors
    runtime = RuntimeModel.load(path)
    warm = parts.ids.users.ids[np.flatnonzero(np.diff(parts.history.interacted.indptr))[:3]]
    for user in warm:
        assert len(runtime.recommend(str(user), 5).items) == 5

    # A refresh adds items all the same: no content map, so no CF vector until the retrain.
    ModelRegistry(models).promote(path.name)
    delta = tmp_path / "delta"
    delta.mkdir()
    pd.DataFrame([{"item_id": "new1", "title": "place 41", "category": "place",
                   "merchant_id": "m", "price": "1.0", "is_group_buy": "true",
                   "created_ts": "2024-02-01T00:00:00Z", "status": "listed"}]
                 ).to_csv(delta / "items.csv", index=False)
    data = tmp_path / "data"
    _copy(place_data, data)
    summary = refresh_catalogue(data, delta, models)
    child = BundleParts.load(models / summary.version)
    vectors = child.scorer.model.item_vectors_
    assert summary.new_items == 1 and child.content is None
    assert vectors.shape[0] == 41 and not vectors[-1].any()
    assert 40 not in child.scorer.model.cold_items_  # a zero vector is not content-mapped


def test_a_lower_coverage_threshold_fits_the_map(place_data: Path, tmp_path: Path) -> None:
    """`content.min_text_coverage` decides: below the share measured, the map is fitted and
    the manifest gives its numbers."""
    config = TrainConfig.model_validate(
        {**FAST.model_dump(), "content": {**FAST.content.model_dump(), "min_text_coverage": 0.2}})
    path = run_training(place_data, config, models_dir=tmp_path / "models")
    content = json.loads((path / "manifest.json").read_text())["metrics"]["content"]
    assert content["map"] == "fitted" and content["text_coverage"] == 0.25
    assert content["n_components"] == FAST.content.n_components and content["mapped_items"] > 0
    assert -1.0 <= content["train_r2"] <= 1.0
    assert BundleParts.load(path).content is not None


def _copy(src: Path, dst: Path) -> None:
    import shutil

    shutil.copytree(src, dst)
