"""`recsys evaluate`: tuned baselines and the shipped recipe on one split, with an HTML report.

    recsys evaluate --data DATA_DIR [--bundle models/VERSION] [--split auto] \
        [--test TEST_ROWS.csv] [--baselines popularity,itemknn,rp3beta,ease,als,bpr] \
        [--trials 8] [--trials-for ease=1,als=8] [--out reports/NAME] [--tuned-dir DIR]

`--test FILE` evaluates a split the user brings: FILE names the test rows (user_id, item_id
[, ts]; CSV or Parquet, see recsys.evaluation.given_split); it implies `--split fixed`.

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

from pipelines.engine_opts import EngineOpt, MasterOpt, check_engine, start_spark
from recsys.bundle.bundle import Bundle
from recsys.config import load_config
from recsys.engine.base import TrainingEngine
from recsys.errors import ConfigError
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
from recsys.evaluation.tuning import check_trials
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
    test_file: Path | None = None,
    engine: TrainingEngine | None = None,
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
    prepared = prepare(data_dir, split=split, config=config, seed=seed, test_file=test_file)
    result = run_evaluation(
        prepared, config=config, baselines=baselines, n_trials=n_trials, seed=seed,
        model_trials=model_trials, with_cf_only=with_cf_only, engine=engine,
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
        "content map": f"skipped: {prepared.content_skipped}" if prepared.content_skipped
        else "fitted",
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
        feed=result.feed,
    )
    tuned = write_tuned_configs(result, out_dir if tuned_dir is None else tuned_dir)
    if opened is not None:
        record_in_bundle(opened.root, evaluation_entry(result, data_dir))
    return EvaluateRun(result=result, report=report, tuned_configs=tuned, seconds=seconds)


def parse_trials_for(text: str) -> dict[str, int]:
    """`ease=1,als=8` -> {"ease": 1, "als": 8}; names are checked against the models that
    run by `run_evaluation`."""
    counts: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = (x.strip() for x in part.partition("="))
        if not sep or not name:
            raise ConfigError(f"--trials-for: {part!r} is not MODEL=N (e.g. ease=1,als=8)")
        try:
            counts[name] = int(value)
        except ValueError:
            raise ConfigError(
                f"--trials-for: {part!r}: the trial count must be a whole number >= 1"
            ) from None
    return counts


def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Ingested (or imported) data directory.")],
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Bundle whose recipe is evaluated; gets the results."),
    ] = None,
    split: Annotated[
        str, typer.Option("--split", help=f"One of {', '.join(SPLITS)}.")
    ] = "auto",
    test: Annotated[
        Path | None,
        typer.Option("--test", help="Test rows of your own split (CSV or Parquet with columns "
                     "user_id, item_id[, ts]); implies --split fixed."),
    ] = None,
    baselines: Annotated[
        str, typer.Option("--baselines", help="Comma-separated baselines; '' for none.")
    ] = ",".join(BASELINES),
    trials: Annotated[
        int, typer.Option("--trials", min=1, help="Random-search trials per model.")
    ] = 8,
    trials_for: Annotated[
        str | None,
        typer.Option("--trials-for", help="Per-model trial counts, e.g. ease=1,als=8 "
                     "('shipped' is the recipe); the others get --trials."),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Seeds splits, tuning and models.")
    ] = 0,
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
    engine: EngineOpt = "local",
    master: MasterOpt = None,
) -> None:
    """Tune baselines and the shipped recipe on validation, compare them on test, write a report."""
    check_engine(engine, master)
    if split not in SPLITS:
        raise ConfigError(f"--split must be one of {SPLITS}; got {split!r}")
    if test is not None and split not in ("auto", "fixed"):
        raise ConfigError(f"--test fixes the split: give --split fixed (or leave it), not {split}")
    if bundle is not None and config is not None:
        raise ConfigError("give --bundle or --config, not both: a bundle brings its recipe")
    names = tuple(b.strip() for b in baselines.split(",") if b.strip())
    unknown = sorted(set(names) - set(BASELINES))
    if unknown:
        raise ConfigError(f"unknown baseline(s) {unknown}; expected some of {BASELINES}")
    model_trials = parse_trials_for(trials_for) if trials_for else None
    check_trials(trials, model_trials, names)
    cfg = load_config(TrainConfig, config) if config is not None else None
    options = dict(
        out_dir=out or Path("reports") / data.name, split=split, baselines=names,
        n_trials=trials, seed=seed, config=cfg, bundle=bundle, tuned_dir=tuned_dir,
        model_trials=model_trials, test_file=test,
    )
    if engine == "spark":
        # The shipped recipe's fit on the train split runs on Spark (MLlib); splits, tuning
        # and the baselines stay here (docs/spark.md).
        from recsys.spark.training import spark_engine

        with spark_engine(start_spark(master, "recsys evaluate"), data) as on_spark:
            run = run_evaluate(data, engine=on_spark, **options)  # type: ignore[arg-type]
    else:
        run = run_evaluate(data, **options)  # type: ignore[arg-type]
    info = run.result.split_info
    if test is not None:
        typer.echo(
            f"test rows: {info['test_rows']:,} read, {info['test_rows_unknown_user']:,} unknown "
            f"users, {info['test_rows_unknown_item']:,} unknown items (not evaluated); "
            f"{info['test_rows_in_data']:,} found in the data, {info['test_rows_added']:,} added; "
            f"{info['n_test']:,} test events evaluated (dropped: "
            f"{info['dropped_unknown_user']:,} users and {info['dropped_unknown_item']:,} items "
            f"without training events, {info['dropped_seen_in_train']:,} pairs seen in training)"
        )
    for name, metrics in run.result.metrics.items():
        typer.echo(
            f"{name:14s} ndcg@10 {metrics['ndcg@10']:.4f}  recall@10 {metrics['recall@10']:.4f}"
            f"  long_tail_share@10 {metrics['long_tail_share@10']:.4f}"
        )
    typer.echo(f"report: {run.report}")
    for path in run.tuned_configs:
        typer.echo(f"tuned config: {path}")
