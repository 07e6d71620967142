"""The evaluation harness: one data directory, one split, tuned baselines and the shipped model.

Protocol (docs/evaluation.md): the interaction log is split *before* it becomes a matrix;
every model is tuned by seeded random search on a validation split carved from train (never
test), refitted on the whole train split with its best settings, and all models are ranked
over the full catalogue with training items excluded. The shipped recipe is measured twice:
as `recsys train` runs it ("shipped", the recipe as configured) and with its CF settings tuned
like the baselines ("shipped_tuned").
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.adapters.common import DATASET_JSON, AdapterInfo
from recsys.bundle.bundle import Bundle
from recsys.bundle.manifest import MANIFEST_NAME, Manifest, data_fingerprint, write_manifest
from recsys.config import load_config
from recsys.content.documents import item_documents
from recsys.content.encoder import NoUsableTextError
from recsys.datastore import DataDir
from recsys.engine.base import TrainingEngine
from recsys.engine.local import LocalEngine
from recsys.errors import ConfigError
from recsys.evaluation.evaluate import Comparison, compare_models
from recsys.evaluation.feed_curves import feed_curves
from recsys.evaluation.given_split import fixed_split, given_split, read_test_rows
from recsys.evaluation.shipped import RP3_ALPHA, RP3_BETA, tune_shipped
from recsys.evaluation.splits import (
    Split,
    carve_validation,
    check_usable,
    has_timestamps,
    split_log,
)
from recsys.evaluation.tuning import Range, TuningResult, check_trials, tune, write_tuned_config
from recsys.features.interactions import load_interaction_log, to_csr
from recsys.feeds.config import RankedConfig
from recsys.feeds.side import SideData
from recsys.feeds.side_loader import load_side_data
from recsys.idmap import IdMap
from recsys.recipe import TrainConfig, with_cf_params
from recsys.recommenders.base import Recommender
from recsys.recommenders.ease import MAX_ITEMS as EASE_MAX_ITEMS
from recsys.recommenders.ranked import RankedRecommender
from recsys.recommenders.registry import recommender_class
from recsys.recommenders.shipped import ShippedRecommender

logger = logging.getLogger(__name__)

SplitChoice = Literal["auto", "fixed", "temporal", "leave_last_out", "random"]
BASELINES: tuple[str, ...] = ("popularity", "itemknn", "rp3beta", "ease", "als", "bpr")
#: Baselines that are a registered model with one setting fixed: "rp3beta" is item-kNN with the
#: RP3beta similarity, reported on its own row since it is the sparse model closest to EASE.
_MODEL_OF: dict[str, str] = {"rp3beta": "itemknn"}

#: Search spaces of the baselines (seeded random search; `Range(log=True)` for scales).
BASELINE_SPACES: dict[str, dict[str, Any]] = {
    "popularity": {"weighting": ["count", "weight"]},
    "ease": {"l2": Range(20.0, 5000.0, log=True)},
    "itemknn": {
        "k": Range(20, 1000, log=True, integer=True),
        "similarity": ["cosine", "bm25", "tfidf"],
    },
    "rp3beta": {
        "k": Range(20, 1000, log=True, integer=True),
        "similarity": "rp3beta",
        "rp3_alpha": RP3_ALPHA,
        "rp3_beta": RP3_BETA,
    },
    "als": {
        "factors": [32, 64, 128],
        "regularization": Range(1e-3, 10.0, log=True),
        "alpha": Range(0.3, 30.0, log=True),
        "iterations": 15,
    },
    "bpr": {
        "factors": [32, 64, 128],
        "learning_rate": Range(0.003, 0.1, log=True),
        "regularization": Range(1e-4, 0.1, log=True),
        "iterations": [50, 100],
    },
}
# Execution settings, not hyper-parameters (kept out of the tuned config). BPR stays on one
# thread: implicit's multi-threaded SGD is lock-free and not reproducible.
_FIXED: dict[str, dict[str, Any]] = {"itemknn": {"num_threads": 2}, "als": {"num_threads": 2}}
#: The ranked recommender's label fold per split: carved the way the test fold was.
_LABEL_SPLIT: dict[str, str] = {"temporal": "temporal", "leave_last_out": "last"}


@dataclass(frozen=True)
class PreparedData:
    """A split ready to fit on: matrices share the (n_users, n_items) shape of the id maps."""

    dataset: str
    split: Split
    #: (n_users, n_items) confidence of the whole train split (refit) and its inner part (tuning).
    train: sp.csr_matrix
    inner_train: sp.csr_matrix
    #: (n_users, n_items) binary relevance.
    valid: sp.csr_matrix
    test: sp.csr_matrix
    content: np.ndarray | None
    #: (n_items,) int64 events per item in the whole train split: the long-tail head is the
    #: items making 80% of training *interactions*, which a summed matrix cannot count.
    train_events: np.ndarray
    #: Why `content` is None although content was asked for (the items have no usable text).
    content_skipped: str | None = None
    #: Side data of the whole train split (times, circles, group buys, prices, friends,
    #: content) for the ranked recommender; None when not asked for.
    side: SideData | None = None
    #: (n_items,) bool group-buy flags; None when no item is a group buy (public data sets).
    is_group_buy: np.ndarray | None = None


@dataclass
class EvaluationResult:
    """Everything one evaluation produced; `metrics` maps model name -> metric dict."""

    dataset: str
    comparison: Comparison
    tuning: dict[str, TuningResult]
    split_info: dict[str, Any]
    shipped_config: TrainConfig
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    #: model name -> what its own fit recorded (the ranked model's `report_`).
    fit_reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The feed's long-tail knob: picked weight, validation and test curves (`feed_curves`).
    feed: dict[str, Any] | None = None

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        return self.comparison.metrics


def dataset_info(data: DataDir) -> AdapterInfo | None:
    """The importer's `dataset.json` (what the data lacks, its fixed split), if there is one."""
    return AdapterInfo.read(data.root) if (data.root / DATASET_JSON).is_file() else None


def data_has_times(
    info: AdapterInfo | None, log: pd.DataFrame, time_kind: str | None = None
) -> bool:
    """Whether `ts` is a real time: it must vary in the log, and neither ingest's `time_kind`
    (`DataDir.time_kind()`, which already weighed a mapping and the import's `dataset.json`)
    nor, for data without one, `dataset.json` may say otherwise. Amazon's adapter stores each
    event's position in its user's sequence as `ts`: it varies, yet a global cut over
    positions means nothing."""
    if time_kind is not None:
        return time_kind == "real" and has_timestamps(log)
    return has_timestamps(log) and (info is None or info.has_timestamps)


def resolve_split(
    requested: SplitChoice,
    info: AdapterInfo | None,
    log: pd.DataFrame,
    time_kind: str | None = None,
) -> tuple[str, str | None]:
    """The split to run, and why it is not a temporal one when times are missing.

    'auto': the data set's fixed split if it brings one, else temporal if it has real times
    (`data_has_times`), else random. 'temporal' on data without real times falls back to
    random too (docs/datasets.md: such data is never split by time).

    Returns
    -------
    method : "fixed", "temporal", "leave_last_out" or "random".
    fallback : None, or a sentence for the split record saying the data has no times.
    """
    if requested == "fixed" and (info is None or not info.split):
        raise ConfigError("split 'fixed' asked for, but the data set brings no predefined split")
    if requested not in ("auto", "temporal"):
        return requested, None
    if requested == "auto" and info is not None and info.split:
        return "fixed", None
    if data_has_times(info, log, time_kind):
        return "temporal", None
    if not has_timestamps(log):
        why = "every ts is the same"
    elif time_kind is not None:
        why = f"ingest_report.json says time_kind={time_kind}"
    else:
        why = ("dataset.json says has_timestamps=false"
               + (" (ts is only an order)" if info is not None and info.ordered else ""))
    return "random", f"no timestamps ({why}): random per-user holdout instead of temporal"


def _binary(log: pd.DataFrame, n_users: int, n_items: int) -> sp.csr_matrix:
    m = to_csr(log, n_users, n_items)
    m.data[:] = 1.0
    return m


def prepare(
    data_dir: str | Path,
    *,
    split: SplitChoice = "auto",
    config: TrainConfig | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.2,
    with_content: bool = True,
    test_file: str | Path | None = None,
    with_side: bool = False,
) -> PreparedData:
    """Read the log with the recipe's event weights, split it, carve validation, build matrices
    (and, `with_side`, the ranked recommender's side data from the train split).

    `test_file` names the test rows of a split the user brings (`given_split`); it implies
    split 'fixed' and is refused with any other split.
    """
    config = config or TrainConfig()
    rows = None
    if test_file is not None:
        if split not in ("auto", "fixed"):
            raise ConfigError(f"a test file fixes the split: give split 'fixed' (or 'auto'), "
                              f"not {split!r}")
        rows = read_test_rows(test_file)
    data = DataDir(data_dir).check_ingested()
    users = IdMap.load(data.idmap_path("users"))
    items = IdMap.load(data.idmap_path("items"))
    info = dataset_info(data)
    time_kind = data.time_kind()
    log = load_interaction_log(data, users, items, config.interactions)
    method, fallback = (("fixed", None) if rows is not None
                        else resolve_split(split, info, log, time_kind))
    if fallback is not None:
        logger.warning("split %r on %s: %s", split, data.root.name, fallback)
    fraction = {"test_fraction": test_fraction}
    if rows is not None:
        outer = given_split(log, users, items, rows, source=Path(test_file).name)  # type: ignore[arg-type]
        inner_method, inner_kwargs = "random", {"test_fraction": validation_fraction}
    elif method == "fixed":
        outer = fixed_split(data, users, items, log, info)  # type: ignore[arg-type]
        inner_method, inner_kwargs = "random", {"test_fraction": validation_fraction}
    elif method == "leave_last_out":
        outer = split_log(log, "leave_last_out", seed=seed)
        inner_method, inner_kwargs = "leave_last_out", {}
    else:
        outer = split_log(log, method, seed=seed, **fraction)  # type: ignore[arg-type]
        inner_method, inner_kwargs = method, {"test_fraction": validation_fraction}
    outer.info["has_timestamps"] = data_has_times(info, log, time_kind)
    outer.info["requested"] = split
    if fallback is not None:
        outer.info["fallback"] = fallback
    check_usable(outer, data.root)
    tuned = carve_validation(outer, inner_method, seed=seed, **inner_kwargs)  # type: ignore[arg-type]
    n_users, n_items = len(users), len(items)
    half_life = config.interactions.half_life_days
    # One reference time for both fits, so time decay weighs an event the same in each.
    ref = int(outer.train["ts"].max())
    train = to_csr(outer.train, n_users, n_items, half_life_days=half_life, reference_ts=ref)
    inner = to_csr(tuned.train, n_users, n_items, half_life_days=half_life, reference_ts=ref)
    content, skipped = None, None
    if with_content:
        # Posts written in the test period would leak it into cold items' vectors; a split
        # without one time cut (random, leave-last-out, fixed) reads every post.
        docs = item_documents(data, items, posts_before_us=outer.info.get("cut_ts"))
        try:
            content = config.content.encoder(config.seed).fit_transform(docs)
        except NoUsableTextError as exc:  # as in training: no content map, CF factors only
            skipped = f"items have no usable text: {exc}"
            logger.warning("content map skipped (%s): the shipped recipe is CF only", skipped)
    side = None
    if with_side:
        ordered = has_timestamps(outer.train) and (info is None or info.has_timestamps
                                                   or info.ordered)
        side = load_side_data(data, users, items, outer.train, ordered=ordered,
                              global_time=outer.info["has_timestamps"], content=content)
    name = info.name if info is not None else data.root.name
    logger.info("prepared %s: %d users x %d items, split %s", name, n_users, n_items, tuned.info)
    flags = data.read_table("items", ["item_id", "is_group_buy"])
    is_group_buy = np.zeros(n_items, dtype=bool)
    rows = items.to_index(flags["item_id"])
    known = rows >= 0
    is_group_buy[rows[known]] = flags["is_group_buy"].to_numpy(zero_copy_only=False)[known]
    return PreparedData(
        dataset=name, split=tuned, train=train, inner_train=inner,
        valid=_binary(tuned.validation, n_users, n_items),
        test=_binary(outer.test, n_users, n_items),
        content=content,
        train_events=np.bincount(outer.train["item_idx"].to_numpy(), minlength=n_items),
        content_skipped=skipped,
        side=side,
        is_group_buy=is_group_buy if is_group_buy.any() else None,
    )


def run_evaluation(
    prepared: PreparedData,
    *,
    config: TrainConfig | None = None,
    baselines: Sequence[str] = BASELINES,
    n_trials: int = 8,
    seed: int = 0,
    metric: str = "ndcg@10",
    ks: Sequence[int] = (10, 20),
    tune_shipped_recipe: bool = True,
    model_trials: Mapping[str, int] | None = None,
    with_cf_only: bool = False,
    ranked: RankedConfig | None = None,
    with_feed: bool = True,
    engine: TrainingEngine | None = None,
) -> EvaluationResult:
    """Tune every baseline (and the shipped recipe's CF) on validation, refit, compare on test.

    `engine` fits the shipped recipe on the train split (default: `LocalEngine`; the Spark
    engine fits its CF with MLlib on the cluster); the baselines always fit here.

    `model_trials` overrides `n_trials` per model (e.g. fewer for EASE on big catalogues,
    whose every trial inverts an item x item matrix). `with_cf_only` adds "shipped_cf_only",
    the recipe's CF alone: no content-mapped vectors, no item-kNN blend (a diagnostic).
    `ranked` adds "ranked", the sources -> ranker recommender with that recipe, fitted on the
    train split with its side data (it tunes itself inside; its label fold is carved like
    the split: by time, each user's last item, or at random).
    `with_feed` adds "feed", the shipped recipe re-ranked by the feed's long-tail re-ranker at
    the `tail_weight` picked on validation, and the curves of `feed_curves` (`result.feed`).
    Fits are quiet: each model's tuning draws one progress bar over its trials, and the log
    says how long each fit took.
    """
    config = config or TrainConfig()
    unknown = sorted(set(baselines) - set(BASELINE_SPACES))
    if unknown:
        raise ConfigError(f"unknown baseline(s) {unknown}; expected some of {list(BASELINES)}")
    check_trials(n_trials, model_trials, baselines)
    trials_of = {**{m: n_trials for m in (*baselines, "shipped")}, **(model_trials or {})}
    p = prepared
    models: dict[str, Recommender] = {}
    tuning: dict[str, TuningResult] = {}
    skipped: dict[str, str] = {}
    seconds: dict[str, float] = {}
    fit_reports: dict[str, dict[str, Any]] = {}
    n_items = p.train.shape[1]
    for name in baselines:
        start = time.perf_counter()
        if name == "ease" and n_items > EASE_MAX_ITEMS:
            skipped[name] = (f"{n_items} items > {EASE_MAX_ITEMS:,}: EASE's dense item x item "
                             "inverse is too big")
            continue
        model = _MODEL_OF.get(name, name)
        fixed = _FIXED.get(model, {})
        tuning[name] = tune(model, BASELINE_SPACES[name], p.inner_train, p.valid,
                            n_trials=trials_of[name], seed=seed, metric=metric,
                            fixed_params=fixed, label=name)
        cls = recommender_class(model)
        models[name] = cls(**fixed, **tuning[name].best_params).fit(p.train, show_progress=False)
        seconds[name] = time.perf_counter() - start
    start = time.perf_counter()
    models["shipped"] = (engine or LocalEngine()).fit_scorer(p.train, p.content, config)
    seconds["shipped"] = time.perf_counter() - start
    feed = None
    if with_feed:
        start = time.perf_counter()
        curves = feed_curves(train=p.train, inner_train=p.inner_train, valid=p.valid,
                             test=p.test, train_events=p.train_events, shipped=models["shipped"],
                             config=config, content=p.content, is_group_buy=p.is_group_buy)
        models["feed"] = curves.model
        feed = curves.summary()
        seconds["feed"] = time.perf_counter() - start
    if with_cf_only and p.content is not None:
        # Diagnostic: the recipe's CF alone (no content-mapped vectors, no item-kNN blend),
        # to see what those two add.
        start = time.perf_counter()
        cf_only = with_cf_params(config, {"item_knn.weight": 0.0})
        models["shipped_cf_only"] = ShippedRecommender(config=cf_only).fit(
            p.train, show_progress=False)
        seconds["shipped_cf_only"] = time.perf_counter() - start
    if tune_shipped_recipe:
        start = time.perf_counter()
        tuning["shipped"] = tune_shipped(config, p.inner_train, p.valid, content=p.content,
                                         n_trials=trials_of["shipped"], seed=seed, metric=metric,
                                         candidates=_blend_of_tuned_baselines(config, tuning))
        tuned_cfg = with_cf_params(config, tuning["shipped"].best_params)
        shipped_tuned = ShippedRecommender(config=tuned_cfg, content=p.content)
        models["shipped_tuned"] = shipped_tuned.fit(p.train, show_progress=False)
        seconds["shipped_tuned"] = time.perf_counter() - start
    if ranked is not None:
        start = time.perf_counter()
        if ranked.label_split == "auto":
            method = p.split.info.get("method")
            ranked = ranked.model_copy(update={"label_split": _LABEL_SPLIT.get(method, "random")})
        models["ranked"] = RankedRecommender(config=ranked).fit(
            p.train, side=p.side, show_progress=False)
        seconds["ranked"] = time.perf_counter() - start
        fit_reports["ranked"] = models["ranked"].report_
    comparison = compare_models(models, p.train, p.test, ks=ks,
                                item_interactions=p.train_events)
    for name, secs in seconds.items():
        logger.info("%s: ndcg@10 %.4f (tune + fit %.1f s)", name,
                    comparison.metrics[name].get("ndcg@10", float("nan")), secs)
    return EvaluationResult(
        dataset=p.dataset, comparison=comparison, tuning=tuning, split_info=p.split.info,
        shipped_config=config, skipped=skipped, seconds=seconds, fit_reports=fit_reports,
        feed=feed,
    )


def _blend_of_tuned_baselines(config: TrainConfig,
                               tuning: Mapping[str, TuningResult]) -> list[dict[str, Any]]:
    """The recipe's two halves set as their tuned baselines, as candidate fits for
    `tune_shipped`: tuned ALS with tuned item-kNN, then with tuned RP3beta (when tuned), so
    each half starts from its own validation optimum."""
    if config.cf.model != "als" or "als" not in tuning:
        return []
    candidates = []
    for name in ("itemknn", "rp3beta"):
        if name in tuning:
            knn = tuning[name].best_params
            candidates.append({**tuning["als"].best_params,
                               **{f"item_knn.{key}": knn[key] for key in
                                  ("k", "similarity", "rp3_alpha", "rp3_beta") if key in knn}})
    return candidates


def _toml(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def write_tuned_configs(result: EvaluationResult, tuned_dir: str | Path) -> list[Path]:
    """Write `<dataset>.toml` (a TrainConfig: the recipe with its tuned `[cf]`) and
    `<dataset>.baselines.toml` (one table per baseline, `tuning.write_tuned_config` format).

    The first is what `recsys train --config` takes; baselines are not part of the training
    recipe, so their settings live beside it rather than in TrainConfig.
    """
    tuned_dir = Path(tuned_dir)
    tuned_dir.mkdir(parents=True, exist_ok=True)
    written = []
    base = {m: t for m, t in result.tuning.items() if m != "shipped"}
    if base:
        written.append(write_tuned_config(tuned_dir / f"{result.dataset}.baselines.toml",
                                          result.dataset, base))
    shipped = result.tuning.get("shipped")
    if shipped is not None:
        cfg = with_cf_params(result.shipped_config, shipped.best_params)
        path = tuned_dir / f"{result.dataset}.toml"
        lines = [
            f"# Training recipe for data set {result.dataset!r}: the shipped recipe with its CF",
            f"# and item-item settings tuned on a validation split ({shipped.metric} "
            f"{shipped.best_score:.4f}, {len(shipped.trials)} trials, seed {shipped.seed}).",
            "# Unlisted keys keep the defaults of pipelines/configs/default.toml.",
            f"# Use: recsys train --data DATA_DIR --config {_shown(path)}",
            "",
            f"seed = {cfg.seed}",
            "",
            "[cf]",
            *(f"{k} = {_toml(v)}" for k, v in cfg.cf.model_dump(mode="json").items()),
            "",
            "[item_knn]",
            *(f"{k} = {_toml(v)}" for k, v in cfg.item_knn.model_dump(mode="json").items()),
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        load_config(TrainConfig, path)  # what we wrote must be a valid recipe
        written.append(path)
    logger.info("wrote tuned configs %s", [str(p) for p in written])
    return written


def _shown(path: Path) -> str:
    """`path` relative to the working directory when inside it, else its name: a file we
    write may be committed, and must not carry this machine's absolute paths."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.name


def evaluation_entry(result: EvaluationResult, data_dir: str | Path) -> dict[str, Any]:
    """The JSON-safe summary recorded in a bundle's manifest under metrics.evaluation."""
    def safe(v: float) -> float | None:
        return float(v) if np.isfinite(v) else None

    return {
        "dataset": result.dataset,
        "data_fingerprint": data_fingerprint(data_dir),
        "evaluated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "split": {k: v for k, v in result.split_info.items() if not isinstance(v, dict)},
        "models": {m: {k: safe(v) for k, v in r.items()} for m, r in result.metrics.items()},
        "tuned_params": {m: t.best_params for m, t in result.tuning.items()},
    }


def record_in_bundle(bundle_root: str | Path, entry: dict[str, Any]) -> Manifest:
    """Rewrite the bundle's manifest.json atomically with ``metrics["evaluation"] = entry``.

    manifest.json is not in its own file list, so the checksums stay valid; it is re-signed by
    the bundle's one manifest writer. The bundle is verified before and after.
    """
    root = Path(bundle_root)
    manifest = Bundle.open(root).manifest
    updated = Manifest.model_validate(
        {**manifest.model_dump(mode="json"), "metrics": {**manifest.metrics, "evaluation": entry}}
    )
    write_manifest(root, updated)
    Bundle.open(root)
    logger.info("recorded evaluation of %s in %s", entry.get("dataset"), root / MANIFEST_NAME)
    return updated


def placement_f1(manifest: Manifest) -> dict[str, float] | None:
    """Per-circle F1 of the bundle's placement model (all users), when training measured it."""
    node: Any = manifest.metrics
    for key in ("placement", "model", "subsets", "all", "per_circle"):
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return None
    f1 = {c: v.get("f1") for c, v in node.items() if isinstance(v, dict)}
    return {c: float(v) for c, v in f1.items() if v is not None} or None
