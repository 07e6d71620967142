"""Seeded random search of hyper-parameters on a validation split, never on test.

A space maps each parameter to a `Range` (uniform, or log-uniform for scale parameters such as
l2 or a learning rate), a list of choices, or a fixed value. Every trial is recorded, so the
report can show how flat or sharp the optimum is. The winners go to a named TOML file
(``pipelines/configs/tuned/<dataset>.toml``), one table per model.
"""

from __future__ import annotations

import json
import logging
import math
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from recsys.errors import ConfigError
from recsys.evaluation.evaluate import evaluate_model
from recsys.metrics.ranking import ACCURACY_METRICS
from recsys.recommenders.registry import recommender_class

logger = logging.getLogger(__name__)

_TUNABLE_METRICS = (*ACCURACY_METRICS, "coverage", "long_tail_share", "novelty")
# Resampling attempts before a small discrete space counts as exhausted.
_MAX_RESAMPLES = 50


@dataclass(frozen=True)
class Range:
    """A numeric interval; `log` samples log-uniformly, `integer` rounds."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def __post_init__(self) -> None:
        if not self.low <= self.high or (self.log and self.low <= 0):
            raise ConfigError(f"bad range [{self.low}, {self.high}] (log={self.log})")

    def sample(self, rng: np.random.Generator) -> float | int:
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return int(round(value)) if self.integer else float(f"{value:.4g}")


ParamSpace = Mapping[str, Range | Sequence[Any] | int | float | str | bool]


@dataclass(frozen=True)
class Trial:
    number: int
    params: dict[str, Any]
    score: float
    metrics: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class TuningResult:
    model_name: str
    metric: str
    seed: int
    best_params: dict[str, Any]
    best_score: float
    trials: list[Trial] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_params(space: ParamSpace, rng: np.random.Generator) -> dict[str, Any]:
    """One draw from `space` (parameters in sorted order, so the seed fully determines it)."""
    params: dict[str, Any] = {}
    for name in sorted(space):
        spec = space[name]
        if isinstance(spec, Range):
            params[name] = spec.sample(rng)
        elif isinstance(spec, list | tuple):
            if not spec:
                raise ConfigError(f"parameter {name!r} has an empty list of choices")
            params[name] = spec[int(rng.integers(len(spec)))]
        else:
            params[name] = spec
    return params


def tune(
    model_name: str,
    param_space: ParamSpace,
    train: sp.csr_matrix,
    valid: sp.csr_matrix,
    *,
    n_trials: int,
    seed: int,
    metric: str = "ndcg@10",
    fixed_params: Mapping[str, Any] | None = None,
    show_progress: bool = True,
    label: str | None = None,
) -> TuningResult:
    """Random search: fit on `train`, score `metric` on `valid`, keep the best (first on ties).

    Stops early when a discrete space has no untried combination left. Trials fit quietly;
    `show_progress` draws one bar over the trials instead of one per fit. `label` names the
    result and the log lines when the searched model is a variant of `model_name` (e.g.
    "rp3beta" for item-kNN with the RP3beta similarity).
    """
    cls = recommender_class(model_name)
    model_name = label or model_name
    name, _, k = metric.partition("@")
    if not k.isdigit() or name not in _TUNABLE_METRICS:
        raise ConfigError(f"metric must be one of {_TUNABLE_METRICS} '@k'; got {metric!r}")
    if n_trials < 1:
        raise ConfigError(f"n_trials must be >= 1; got {n_trials}")
    rng = np.random.default_rng(seed)
    trials: list[Trial] = []
    seen: set[str] = set()
    bar = tqdm(total=n_trials, desc=f"tune {model_name}", unit="trial",
               disable=not show_progress)
    for number in range(n_trials):
        for _ in range(_MAX_RESAMPLES):
            params = sample_params(param_space, rng)
            key = json.dumps(params, sort_keys=True, default=str)
            if key not in seen:
                break
        else:
            logger.info("tune %s: space exhausted after %d trials", model_name, number)
            break
        seen.add(key)
        start = time.perf_counter()
        model = cls(**{**(fixed_params or {}), **params}).fit(train, show_progress=False)
        result = evaluate_model(model, train, valid, ks=(int(k),))
        trial = Trial(number, params, result[metric], result, time.perf_counter() - start)
        trials.append(trial)
        bar.update()
        logger.info(
            "tune %s trial %d/%d: %s -> %s=%.4f (%.1f s)",
            model_name, number + 1, n_trials, params, metric, trial.score, trial.seconds,
        )
    bar.close()
    best = max(trials, key=lambda t: (t.score, -t.number))
    return TuningResult(model_name, metric, seed, dict(best.params), best.score, trials)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | np.integer | np.floating):
        return repr(value.item() if isinstance(value, np.generic) else value)
    if isinstance(value, str):
        return json.dumps(value)
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) to a tuned config")


def write_tuned_config(
    path: str | Path,
    dataset: str,
    best: Mapping[str, TuningResult | Mapping[str, Any]],
) -> Path:
    """Write (or update) one TOML table per model with its tuned parameters.

    Tables for models not in `best` are kept, so models can be tuned in separate runs. For
    TuningResults, the score, metric, seed and trial count go to ``[tuning.<model>]``.
    """
    path = Path(path)
    tables: dict[str, dict[str, Any]] = {}
    provenance: dict[str, dict[str, Any]] = {}
    if path.exists():
        existing = tomllib.loads(path.read_text(encoding="utf-8"))
        provenance = existing.pop("tuning", {})
        tables = {k: v for k, v in existing.items() if isinstance(v, dict)}
    for model, entry in best.items():
        if isinstance(entry, TuningResult):
            tables[model] = dict(entry.best_params)
            provenance[model] = {
                "metric": entry.metric,
                "score": round(entry.best_score, 6),
                "seed": entry.seed,
                "n_trials": len(entry.trials),
            }
        else:
            tables[model] = dict(entry)
    lines = [
        f"# Tuned hyper-parameters for data set {dataset!r}: one table per model.",
        "# Written by recsys.evaluation.tuning.write_tuned_config from a validation split.",
    ]
    for model in sorted(tables):
        lines += ["", f"[{model}]"]
        lines += [f"{key} = {_toml_value(v)}" for key, v in sorted(tables[model].items())]
    for model in sorted(provenance):
        lines += ["", f"[tuning.{model}]"]
        lines += [f"{key} = {_toml_value(v)}" for key, v in sorted(provenance[model].items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    logger.info("wrote tuned config %s (%s)", path, ", ".join(sorted(tables)))
    return path


def check_trials(n_trials: int, model_trials: Mapping[str, int] | None,
                 baselines: Sequence[str]) -> None:
    """Trial counts must be whole numbers >= 1, and per-model ones must name a model that
    runs (a typo would otherwise silently tune with the default count)."""
    counts = {"n_trials": n_trials, **(model_trials or {})}
    bad = {m: n for m, n in counts.items() if isinstance(n, bool) or not isinstance(n, int)
           or n < 1}
    if bad:
        raise ConfigError(f"trial counts must be whole numbers >= 1; got {bad}")
    running = (*baselines, "shipped")
    stray = sorted(set(model_trials or {}) - set(running))
    if stray:
        raise ConfigError(f"trials given for model(s) {stray} that do not run; "
                          f"expected some of {list(running)}")
