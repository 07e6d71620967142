"""The shipped model as a recommender: what `recsys train` serves, so it can be compared fairly.

The feed scores ``user_factors . item_vectors``, where item vectors are the recipe's CF item
factors except for items with fewer than ``content.warm_min_users`` training users, whose
factors are too noisy (or absent); those get vectors mapped from their content by a ridge map
fitted on the warm items, weighted by ``log1p(users)`` so well-estimated factors count more.
The long-tail re-ranking knob is not applied here (it is zero for accuracy comparisons).

`tune_shipped` tunes the recipe's CF hyper-parameters on a validation split, exactly as the
baselines are tuned, so "shipped (tuned)" and "shipped (default)" can both be reported.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from recsys.content.cold_start import place_cold_items
from recsys.errors import ConfigError, ContractError, UnknownUserError
from recsys.evaluation.evaluate import evaluate_model, users_per_item
from recsys.evaluation.tuning import (
    ParamSpace,
    Range,
    Trial,
    TuningResult,
    sample_params,
)
from recsys.recommenders.base import Recommender
from recsys.recommenders.registry import recommender_class
from recsys.training.config import TrainConfig

logger = logging.getLogger(__name__)

# Resampling attempts before a small discrete space counts as exhausted (as in tuning.tune).
_MAX_RESAMPLES = 50

#: CF hyper-parameters searched for the tuned shipped recipe, per CF model of the recipe.
SHIPPED_SPACES: dict[str, dict[str, Any]] = {
    "als": {
        "factors": [32, 64, 128],
        "regularization": Range(1e-3, 10.0, log=True),
        "alpha": Range(0.3, 30.0, log=True),
    },
    "bpr": {
        "factors": [32, 64, 128],
        "learning_rate": Range(0.003, 0.1, log=True),
        "regularization": Range(1e-4, 0.1, log=True),
    },
}


def _as_config(config: TrainConfig | Mapping[str, Any] | None) -> TrainConfig:
    if config is None:
        return TrainConfig()
    if isinstance(config, TrainConfig):
        return config
    return TrainConfig.model_validate(dict(config))


def with_cf_params(config: TrainConfig, params: Mapping[str, Any]) -> TrainConfig:
    """`config` with its `[cf]` section updated by `params` (validated, unknown keys fail)."""
    cf = {**config.cf.model_dump(mode="json"), **params}
    return TrainConfig.model_validate({**config.model_dump(mode="json"), "cf": cf})


class ShippedRecommender(Recommender):
    """The training recipe's CF model plus content-mapped vectors for under-observed items.

    Parameters
    ----------
    config : the training recipe (`TrainConfig`, or its JSON dict as stored in a manifest).
    content : (n_items, d) float32 content vectors of every item (the recipe's encoder output);
        None scores every item by its CF factors (no content map).

    Attributes
    ----------
    user_factors_ : (n_users, f) float32
    item_vectors_ : (n_items, f) float32; CF factors, content-mapped rows for cold items.
    cold_items_ : (n_cold,) int64 item indices whose vectors came from content.
    """

    name = "shipped"

    def __init__(
        self,
        *,
        config: TrainConfig | Mapping[str, Any] | None = None,
        content: np.ndarray | None = None,
    ) -> None:
        self.config = _as_config(config)
        self.content = None if content is None else np.asarray(content, dtype=np.float32)

    def fit(self, user_items: sp.csr_matrix) -> Self:
        """Fit the recipe's CF on a (n_users, n_items) confidence matrix, then map cold items."""
        x = sp.csr_matrix(user_items)
        if self.content is not None and self.content.shape[0] != x.shape[1]:
            raise ContractError(
                f"content has {self.content.shape[0]} rows but user_items has {x.shape[1]} items"
            )
        cfg = self.config
        started = time.perf_counter()
        cf = recommender_class(cfg.cf.model)(**cfg.cf.model_kwargs(cfg.seed)).fit(x)
        factors = np.asarray(cf.item_factors_, dtype=np.float32)
        self.user_factors_ = np.ascontiguousarray(cf.user_factors_, dtype=np.float32)
        self.item_vectors_ = factors.copy()
        self.cold_items_ = np.empty(0, np.int64)
        if self.content is not None:
            n_users_of = users_per_item(x)
            cold = np.flatnonzero(n_users_of < cfg.content.warm_min_users).astype(np.int64)
            if len(cold) and len(cold) < x.shape[1]:
                self.item_vectors_, _ = place_cold_items(
                    factors,
                    self.content,
                    cold,
                    alpha=cfg.content.map_alpha,
                    item_weight=np.log1p(n_users_of),
                )
                self.cold_items_ = cold
        self.n_items_ = int(x.shape[1])
        logger.info(
            "shipped recipe (%s, %s) fitted in %.1f s; %d of %d items content-mapped",
            cfg.cf.model,
            json.dumps(cfg.cf.model_kwargs(cfg.seed), sort_keys=True),
            time.perf_counter() - started,
            len(self.cold_items_),
            self.n_items_,
        )
        return self

    def _score(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        n_users = self.user_factors_.shape[0]
        unknown = (user_ids < 0) | (user_ids >= n_users)
        if unknown.any():
            raise UnknownUserError(
                f"the shipped model knows users 0..{n_users - 1}; "
                f"got {user_ids[unknown][:5].tolist()}"
            )
        return self.user_factors_[user_ids] @ np.asarray(self.item_vectors_).T

    def get_params(self) -> dict[str, Any]:
        # Content vectors are an input of `fit`, not a hyper-parameter: the fitted state
        # (item_vectors_) already carries what they contributed.
        return {"config": self.config.model_dump(mode="json")}

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "user_factors_": self.user_factors_,
            "item_vectors_": self.item_vectors_,
            "cold_items_": self.cold_items_,
        }

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors_ = state["user_factors_"]
        self.item_vectors_ = state["item_vectors_"]
        self.cold_items_ = state["cold_items_"]


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
) -> TuningResult:
    """Random search over the recipe's CF hyper-parameters, fit on `train`, scored on `valid`.

    The same protocol as `recsys.evaluation.tuning.tune` (seeded draws, no repeated draw,
    best first on ties); the recipe's other sections stay as given. `best_params` are `[cf]`
    keys, ready for `with_cf_params`.
    """
    if n_trials < 1:
        raise ConfigError(f"n_trials must be >= 1; got {n_trials}")
    name, _, k = metric.partition("@")
    if not k.isdigit():
        raise ConfigError(f"metric must look like 'ndcg@10'; got {metric!r}")
    space = SHIPPED_SPACES[config.cf.model] if space is None else space
    rng = np.random.default_rng(seed)
    trials: list[Trial] = []
    seen: set[str] = set()
    for number in range(n_trials):
        for _ in range(_MAX_RESAMPLES):
            params = sample_params(space, rng)
            key = json.dumps(params, sort_keys=True, default=str)
            if key not in seen:
                break
        else:
            logger.info("tune shipped: space exhausted after %d trials", number)
            break
        seen.add(key)
        start = time.perf_counter()
        model = ShippedRecommender(config=with_cf_params(config, params), content=content)
        result = evaluate_model(model.fit(train), train, valid, ks=(int(k),))
        trials.append(Trial(number, params, result[metric], result, time.perf_counter() - start))
        logger.info(
            "tune shipped trial %d/%d: %s -> %s=%.4f (%.1f s)",
            number + 1, n_trials, params, metric, result[metric], trials[-1].seconds,
        )
    best = max(trials, key=lambda t: (t.score, -t.number))
    return TuningResult("shipped", metric, seed, dict(best.params), best.score, trials)
