"""The feeds over the session's small trained bundle, and a second bundle of the same data
trained with another seed (a model swap between pages)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.feeds.pages import CursorCodec
from recsys.recipe import TrainConfig
from recsys.runtime import RuntimeModel
from recsys.training.run import run_training

CODEC = CursorCodec(b"feeds-test-cursor-secret")


@pytest.fixture(scope="module")
def model(small_bundle: dict[str, Path]) -> RuntimeModel:
    return RuntimeModel.load(small_bundle["bundle"])


@pytest.fixture(scope="session")
def other_seed_bundle(small_bundle: dict[str, Path], tmp_path_factory) -> Path:
    config = TrainConfig.model_validate({"seed": 3, "content": {"evaluate_cold_start": False}})
    return run_training(small_bundle["data"], config,
                        models_dir=tmp_path_factory.mktemp("other-seed"))


@pytest.fixture(scope="module")
def other_model(other_seed_bundle: Path) -> RuntimeModel:
    return RuntimeModel.load(other_seed_bundle)
