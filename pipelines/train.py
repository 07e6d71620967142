"""`recsys train`: one command that turns a data directory into a versioned model bundle.

The composition is the library's (`recsys.training.run.run_training`, steps in docs/training.md).
"""

from __future__ import annotations

from pathlib import Path

import typer

from recsys.config import load_config
from recsys.recipe import TrainConfig
from recsys.training.run import run_training

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "default.toml"


def train(
    data: Path = typer.Option(
        ..., "--data", help="Ingested data directory (recsys ingest output)."
    ),
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", help="Training config (TOML)."),
    truth: Path | None = typer.Option(
        None, "--truth", help="Planted truth folder of a synthetic data set, to score placement."
    ),
    models_dir: Path | None = typer.Option(None, "--models-dir", help="Where bundles go."),
    seed: int | None = typer.Option(None, "--seed", min=0, help="Override the config's seed."),
) -> None:
    """Train CF, content map, circle placement, indexes and lists into a new model bundle."""
    cfg = load_config(TrainConfig, config, seed=seed)
    path = run_training(data, cfg, truth_dir=truth, models_dir=models_dir)
    typer.echo(f"bundle: {path}")
