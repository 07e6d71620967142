"""The shipped model as a recommender: what `recsys train` serves, so it can be compared fairly.

The feed scores ``user_factors . item_vectors``, where item vectors are the recipe's CF item
factors except for items with fewer than ``content.warm_min_users`` training users, whose
factors are too noisy (or absent); those get vectors mapped from their content by a ridge map
fitted on the warm items, weighted by ``log1p(users)`` so well-estimated factors count more.
When ``item_knn.weight > 0`` those CF scores are blended with sparse item-item neighbour
scores (`recsys.recommenders.hybrid.blend_scores`), each normalised per user.
The long-tail re-ranking knob is not applied here (it is zero for accuracy comparisons).

`tune_shipped` tunes the recipe's CF and item-item settings on a validation split, as the
baselines are tuned, so "shipped (tuned)" and "shipped (default)" can both be reported.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

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
from recsys.recommenders.hybrid import blend_scores, neighbour_scores
from recsys.recommenders.itemknn import ItemKNNRecommender
from recsys.recommenders.registry import recommender_class
from recsys.training.config import TrainConfig

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


def _as_config(config: TrainConfig | Mapping[str, Any] | None) -> TrainConfig:
    if config is None:
        return TrainConfig()
    if isinstance(config, TrainConfig):
        return config
    return TrainConfig.model_validate(dict(config))


def with_cf_params(config: TrainConfig, params: Mapping[str, Any]) -> TrainConfig:
    """`config` updated by `params`: plain keys go to `[cf]`, "section.key" to that section
    (validated, unknown keys fail)."""
    data = config.model_dump(mode="json")
    for key, value in params.items():
        section, _, name = key.rpartition(".")
        section = section or "cf"
        if not isinstance(data.get(section), dict):
            raise ConfigError(f"unknown config section {section!r} in tuned key {key!r}")
        data[section] = {**data[section], name: value}
    return TrainConfig.model_validate(data)


class ShippedRecommender(Recommender):
    """The training recipe's CF model plus content-mapped vectors for under-observed items,
    blended with item-item neighbours when the recipe's ``item_knn.weight`` is above 0.

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
    similarity_ : (n_items, n_items) float32 CSR item-item neighbours, or None (weight 0).
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

    def fit(self, user_items: sp.csr_matrix, *, show_progress: bool = True) -> Self:
        """Fit the recipe's CF on a (n_users, n_items) confidence matrix, then map cold items."""
        x = sp.csr_matrix(user_items)
        if self.content is not None and self.content.shape[0] != x.shape[1]:
            raise ContractError(
                f"content has {self.content.shape[0]} rows but user_items has {x.shape[1]} items"
            )
        cfg = self.config
        started = time.perf_counter()
        cf = recommender_class(cfg.cf.model)(**cfg.cf.model_kwargs(cfg.seed))
        cf.fit(x, show_progress=show_progress)
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
        self.similarity_: sp.csr_matrix | None = None
        if cfg.item_knn.weight > 0:
            knn = ItemKNNRecommender(**cfg.item_knn.model_kwargs())
            self.similarity_ = knn.fit(x, show_progress=False).similarity_
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
        factor = self.user_factors_[user_ids] @ np.asarray(self.item_vectors_).T
        if self.similarity_ is None:
            return factor
        knn = neighbour_scores(user_items, self.similarity_)
        return blend_scores(factor, knn, self.config.item_knn.weight)

    def with_blend_weight(self, weight: float) -> ShippedRecommender:
        """A shallow copy scoring with another blend weight (no refit: both parts are kept).

        Needs a model fitted with weight > 0 (weight 0 fits no neighbours).
        """
        self._check_fitted()
        if self.similarity_ is None:
            raise ConfigError("with_blend_weight needs a model fitted with item_knn.weight > 0")
        other = copy.copy(self)
        other.config = with_cf_params(self.config, {"item_knn.weight": float(weight)})
        return other

    def get_params(self) -> dict[str, Any]:
        # Content vectors are an input of `fit`, not a hyper-parameter: the fitted state
        # (item_vectors_) already carries what they contributed.
        return {"config": self.config.model_dump(mode="json")}

    def _state(self) -> dict[str, np.ndarray]:
        state = {
            "user_factors_": self.user_factors_,
            "item_vectors_": self.item_vectors_,
            "cold_items_": self.cold_items_,
        }
        if self.similarity_ is not None:
            s = self.similarity_
            state.update(similarity_data=s.data, similarity_indices=s.indices,
                         similarity_indptr=s.indptr)
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors_ = state["user_factors_"]
        self.item_vectors_ = state["item_vectors_"]
        self.cold_items_ = state["cold_items_"]
        self.similarity_ = None
        if "similarity_indptr" in state:
            n = len(state["similarity_indptr"]) - 1
            self.similarity_ = sp.csr_matrix(
                (state["similarity_data"], state["similarity_indices"],
                 state["similarity_indptr"]), shape=(n, n),
            )


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
