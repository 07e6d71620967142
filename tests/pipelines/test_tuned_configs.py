"""The committed tuned configs: `<dataset>.toml` is a recipe `recsys train --config` takes, and
`<dataset>.baselines.toml` (one table per baseline, which train would reject) sits beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipelines
from recsys.config import load_config
from recsys.errors import ConfigError
from recsys.recipe import TrainConfig

TUNED = Path(pipelines.__file__).resolve().parent / "configs" / "tuned"
BASELINES = sorted(TUNED.glob("*.baselines.toml"))
RECIPES = sorted(set(TUNED.glob("*.toml")) - set(BASELINES))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_every_tuned_recipe_is_a_valid_training_config(recipe: Path) -> None:
    load_config(TrainConfig, recipe)


@pytest.mark.parametrize("baselines", BASELINES, ids=lambda p: p.name)
def test_every_baselines_file_sits_beside_its_recipe(baselines: Path) -> None:
    assert (TUNED / baselines.name.replace(".baselines.toml", ".toml")).is_file()
    with pytest.raises(ConfigError):  # the per-baseline format is not a recipe
        load_config(TrainConfig, baselines)


def test_there_are_tuned_configs() -> None:
    assert RECIPES and BASELINES
