"""`recsys evaluate`: tuned baselines and the shipped recipe on one split, with an HTML report.

    recsys evaluate --data DATA_DIR [--bundle models/VERSION] [--split auto] \
        [--baselines popularity,itemknn,rp3beta,ease,als,bpr] [--trials 8] [--out reports/NAME] \
        [--tuned-dir DIR]

With `--bundle`, the bundle's recipe (its manifest config) is what is evaluated as "shipped":
retrained on the train split (a model is never evaluated on data it was trained on), and the
results are recorded in the bundle's manifest under ``metrics.evaluation``.
The tuned configs go next to metrics.json and report.html unless `--tuned-dir` says otherwise:
evaluating some data must not overwrite the committed recipes in pipelines/configs/tuned/.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from recsys.bundle.bundle import Bundle
from recsys.config import load_config
from recsys.errors import ConfigError, RecsysError
from recsys.evaluation.harness import (
    BASELINES,
    EvaluationResult,
    SplitChoice,
    evaluation_entry,
    placement_f1,
    prepare,
    record_in_bundle,
    run_evaluation,
    write_tuned_configs,
)
from recsys.evaluation.report import write_report
from recsys.recipe import TrainConfig

logger = logging.getLogger("recsys.evaluate")

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "default.toml"
SPLITS = ("auto", "fixed", "temporal", "leave_last_out", "random")


@dataclass(frozen=True)
class EvaluateRun:
    result: EvaluationResult
    report: Path
    tuned_configs: list[Path]
    seconds: float


def run_evaluate(
    data_dir: Path,
    *,
    out_dir: Path,
    split: SplitChoice = "auto",
    baselines: tuple[str, ...] = BASELINES,
    n_trials: int = 8,
    seed: int = 0,
    config: TrainConfig | None = None,
    bundle: Path | None = None,
    tuned_dir: Path | None = None,
    model_trials: dict[str, int] | None = None,
    with_cf_only: bool = False,
) -> EvaluateRun:
    """Prepare the split, tune and compare, write the report, the tuned configs (into
    `tuned_dir`, by default `out_dir`) and, with a bundle, its manifest entry."""
    started = time.perf_counter()
    placement = None
    opened = None
    if bundle is not None:
        opened = Bundle.open(bundle)
        config = TrainConfig.model_validate(opened.manifest.config)
        placement = placement_f1(opened.manifest)
    config = config or load_config(TrainConfig, DEFAULT_CONFIG)
    prepared = prepare(data_dir, split=split, config=config, seed=seed)
    result = run_evaluation(
        prepared, config=config, baselines=baselines, n_trials=n_trials, seed=seed,
        model_trials=model_trials, with_cf_only=with_cf_only,
    )
    seconds = time.perf_counter() - started
    meta = {
        "title": f"recsys evaluation: {result.dataset}",
        "data set": result.dataset,
        "split": result.split_info,
        "shipped recipe": (f"bundle {opened.version}" if opened else "default recipe")
        + f": cf {config.cf.model_dump(mode='json')}",
        "tuning": f"seeded random search on validation only, {n_trials} trials per model "
        f"(overrides {model_trials or 'none'}), seed {seed}",
        "tuned settings": {m: t.best_params for m, t in result.tuning.items()},
        "not run": result.skipped or "none",
        "seconds (tune + fit) per model": {m: round(s, 1) for m, s in result.seconds.items()},
        "wall time s": round(seconds, 1),
    }
    report = write_report(
        out_dir,
        result.metrics,
        item_popularity=result.comparison.item_interactions,
        exposure=result.comparison.exposure,
        placement=placement,
        meta=meta,
    )
    tuned = write_tuned_configs(result, out_dir if tuned_dir is None else tuned_dir)
    if opened is not None:
        record_in_bundle(opened.root, evaluation_entry(result, data_dir))
    return EvaluateRun(result=result, report=report, tuned_configs=tuned, seconds=seconds)


def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Ingested (or imported) data directory.")],
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Bundle whose recipe is evaluated; gets the results."),
    ] = None,
    split: Annotated[
        str, typer.Option("--split", help=f"One of {', '.join(SPLITS)}.")
    ] = "auto",
    baselines: Annotated[
        str, typer.Option("--baselines", help="Comma-separated baselines; '' for none.")
    ] = ",".join(BASELINES),
    trials: Annotated[int, typer.Option("--trials", help="Random-search trials per model.")] = 8,
    seed: Annotated[int, typer.Option("--seed", help="Seeds splits, tuning and models.")] = 0,
    config: Annotated[
        Path | None, typer.Option("--config", help="Recipe to evaluate when no --bundle.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default reports/<data name>).")
    ] = None,
    tuned_dir: Annotated[
        Path | None,
        typer.Option("--tuned-dir", help="Where tuned configs go (default: the --out folder; "
                     "pipelines/configs/tuned only when given)."),
    ] = None,
) -> None:
    """Tune baselines and the shipped recipe on validation, compare them on test, write a report."""
    try:
        if split not in SPLITS:
            raise ConfigError(f"--split must be one of {SPLITS}; got {split!r}")
        if bundle is not None and config is not None:
            raise ConfigError("give --bundle or --config, not both: a bundle brings its recipe")
        names = tuple(b.strip() for b in baselines.split(",") if b.strip())
        unknown = sorted(set(names) - set(BASELINES))
        if unknown:
            raise ConfigError(f"unknown baseline(s) {unknown}; expected some of {BASELINES}")
        cfg = load_config(TrainConfig, config) if config is not None else None
        run = run_evaluate(
            data, out_dir=out or Path("reports") / data.name, split=split,  # type: ignore[arg-type]
            baselines=names, n_trials=trials, seed=seed, config=cfg, bundle=bundle,
            tuned_dir=tuned_dir,
        )
    except RecsysError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    for name, metrics in run.result.metrics.items():
        typer.echo(
            f"{name:14s} ndcg@10 {metrics['ndcg@10']:.4f}  recall@10 {metrics['recall@10']:.4f}"
            f"  long_tail_share@10 {metrics['long_tail_share@10']:.4f}"
        )
    typer.echo(f"report: {run.report}")
    for path in run.tuned_configs:
        typer.echo(f"tuned config: {path}")
