"""`recsys train`: one command that turns a data directory into a versioned model bundle.

The composition is the library's (`recsys.training.run.run_training`, steps in docs/training.md).
"""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.engine_opts import EngineOpt, MasterOpt, check_engine, start_spark
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
    engine: EngineOpt = "local",
    master: MasterOpt = None,
) -> None:
    """Train CF, content map, circle placement, indexes and lists into a new model bundle."""
    check_engine(engine, master)
    cfg = load_config(TrainConfig, config, seed=seed)
    if engine == "spark":
        from recsys.spark.training import spark_engine

        with spark_engine(start_spark(master, "recsys train"), data) as spark:
            path = run_training(data, cfg, truth_dir=truth, models_dir=models_dir, engine=spark)
    else:
        path = run_training(data, cfg, truth_dir=truth, models_dir=models_dir)
    typer.echo(f"bundle: {path}")
