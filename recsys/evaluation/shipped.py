"""Tuning the shipped scorer (`recsys.recommenders.shipped.ShippedRecommender`, the one class
training, evaluation and serving share) like the baselines.

`tune_shipped` tunes the recipe's CF and item-item settings on a validation split, as the
baselines are tuned, so "shipped (tuned)" and "shipped (default)" can both be reported.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from recsys.errors import ConfigError
from recsys.evaluation.evaluate import evaluate_model
from recsys.evaluation.tuning import (
    ParamSpace,
    Range,
    Trial,
    TuningResult,
    sample_params,
)
from recsys.recipe import TrainConfig, with_cf_params
from recsys.recommenders.shipped import ShippedRecommender

logger = logging.getLogger(__name__)

# Resampling attempts before a small discrete space counts as exhausted (as in tuning.tune).
_MAX_RESAMPLES = 50

#: RP3beta's walk power and popularity penalty, searched for the baseline and the recipe. The
#: validation optima of ML-1M (0.6-0.8, 0.6-0.65), Last.fm (0.6-1, 0.3) and Amazon Beauty
#: (0.35, 0.15) lie inside; above beta 0.8 rare items flood the lists.
RP3_ALPHA = Range(0.2, 1.2)
RP3_BETA = Range(0.0, 0.8)
#: Item-item settings searched with every CF model ("section.key" names a non-[cf] key).
_ITEM_KNN_SPACE: dict[str, Any] = {
    "item_knn.k": Range(20, 1000, log=True, integer=True),
    "item_knn.similarity": ["cosine", "bm25", "rp3beta"],
    # Drawn for every similarity, used by rp3beta only.
    "item_knn.rp3_alpha": RP3_ALPHA,
    "item_knn.rp3_beta": RP3_BETA,
}
#: Blend weights scored for every trial's fit: the weight needs no refit, only a re-score.
BLEND_WEIGHTS: tuple[float, ...] = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.0)

#: Hyper-parameters searched for the tuned shipped recipe, per CF model of the recipe.
SHIPPED_SPACES: dict[str, dict[str, Any]] = {
    "als": {
        "factors": [32, 64, 128],
        "regularization": Range(1e-3, 10.0, log=True),
        "alpha": Range(0.3, 30.0, log=True),
        **_ITEM_KNN_SPACE,
    },
    "bpr": {
        "factors": [32, 64, 128],
        "learning_rate": Range(0.003, 0.1, log=True),
        "regularization": Range(1e-4, 0.1, log=True),
        **_ITEM_KNN_SPACE,
    },
}


def _current(config: TrainConfig, key: str) -> Any:
    section, _, name = key.rpartition(".")
    return getattr(getattr(config, section or "cf"), name)


def tune_shipped(
    config: TrainConfig,
    train: sp.csr_matrix,
    valid: sp.csr_matrix,
    *,
    content: np.ndarray | None = None,
    space: ParamSpace | None = None,
    n_trials: int,
    seed: int,
    metric: str = "ndcg@10",
    blend_weights: Sequence[float] | None = BLEND_WEIGHTS,
    candidates: Sequence[Mapping[str, Any]] = (),
    show_progress: bool = True,
) -> TuningResult:
    """Random search over the recipe's CF and item-item settings, fit on `train`, scored on
    `valid`.

    The first fit is `config` itself (so tuning never ends below the recipe it starts from
    on validation), then each of `candidates` (e.g. the tuned ALS and item-kNN baselines'
    settings together), then seeded draws without repeats as in `recsys.evaluation.tuning.tune`,
    `n_trials` fits in all.
    Each fit is scored at every weight of `blend_weights` and the config's own (a re-score,
    not a refit; each is a recorded trial); None keeps the config's weight. `best_params`
    use `with_cf_params` keys ("factors", "item_knn.k", ...). Fits are quiet; `show_progress`
    draws one bar over them.
    """
    if n_trials < 1:
        raise ConfigError(f"n_trials must be >= 1; got {n_trials}")
    name, _, k = metric.partition("@")
    if not k.isdigit():
        raise ConfigError(f"metric must look like 'ndcg@10'; got {metric!r}")
    space = SHIPPED_SPACES[config.cf.model] if space is None else space
    weights = ([config.item_knn.weight] if not blend_weights
               else sorted({*blend_weights, config.item_knn.weight}))
    rng = np.random.default_rng(seed)
    trials: list[Trial] = []
    seen: set[str] = set()
    bar = tqdm(total=n_trials, desc="tune shipped", unit="fit", disable=not show_progress)
    for number in range(n_trials):
        if number == 0:
            params = {key: _current(config, key) for key in space}
        elif number <= len(candidates):
            params = {key: _current(config, key) for key in space} | dict(candidates[number - 1])
        else:
            for _ in range(_MAX_RESAMPLES):
                params = sample_params(space, rng)
                if json.dumps(params, sort_keys=True, default=str) not in seen:
                    break
            else:
                logger.info("tune shipped: space exhausted after %d fits", number)
                break
        seen.add(json.dumps(params, sort_keys=True, default=str))
        start = time.perf_counter()
        # Fit with neighbours whenever some weight needs them; each weight is then a re-score.
        fit_weight = max(weights) if max(weights) > 0 else 0.0
        model = ShippedRecommender(
            config=with_cf_params(config, {**params, "item_knn.weight": fit_weight}),
            content=content,
        ).fit(train, show_progress=False)
        for w in weights:
            scored = model if fit_weight == 0 else model.with_blend_weight(w)
            result = evaluate_model(scored, train, valid, ks=(int(k),))
            full = {**params, "item_knn.weight": float(w)}
            trials.append(Trial(len(trials), full, result[metric], result,
                                time.perf_counter() - start))
            start = time.perf_counter()
        best_here = max(trials[-len(weights):], key=lambda t: t.score)
        logger.info(
            "tune shipped fit %d/%d: %s -> best %s=%.4f at weight %s",
            number + 1, n_trials, params, metric, best_here.score,
            best_here.params["item_knn.weight"],
        )
        bar.update()
    bar.close()
    best = max(trials, key=lambda t: (t.score, -t.number))
    return TuningResult("shipped", metric, seed, dict(best.params), best.score, trials)
