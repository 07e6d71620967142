"""The shipped scorer: what `recsys train` fits, evaluation measures and the runtime serves.

One class, so the order a user is served is the order that was evaluated. It scores
``user_factors . item_vectors``, where item vectors are the recipe's CF item factors except for
items with fewer than ``content.warm_min_users`` training users, whose factors are too noisy (or
absent); those get vectors mapped from their content by a ridge map fitted on the warm items,
weighted by ``log1p(users)`` so well-estimated factors count more. When ``item_knn.weight > 0``
those CF scores are blended with sparse item-item neighbour scores (`blend.blend_scores`), each
normalised per user. The long-tail re-ranking knob is not applied here.

User ids outside the fitted users raise UnknownUserError: a user the model never saw has no
factor row, and answering with another row would serve someone else's feed. Who gets the scorer
at all is decided before it is called (`recsys.runtime.policy`).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from recsys.content.cold_start import place_cold_items
from recsys.content.factor_map import ContentToFactorMap
from recsys.errors import ConfigError, ContractError, UnknownUserError
from recsys.item_stats import users_per_item
from recsys.recipe import TrainConfig, with_cf_params
from recsys.recommenders.als import ALSRecommender
from recsys.recommenders.base import Recommender, cosine_to
from recsys.recommenders.blend import blend_scores, neighbour_scores
from recsys.recommenders.bpr import BPRRecommender
from recsys.recommenders.itemknn import ItemKNNRecommender

logger = logging.getLogger(__name__)

#: The CF models a recipe may name (`[cf] model`).
_CF_MODELS: dict[str, type[Recommender]] = {"als": ALSRecommender, "bpr": BPRRecommender}


def _as_config(config: TrainConfig | Mapping[str, Any] | None) -> TrainConfig:
    if config is None:
        return TrainConfig()
    if isinstance(config, TrainConfig):
        return config
    return TrainConfig.model_validate(dict(config))


class ShippedRecommender(Recommender):
    """The training recipe's CF model plus content-mapped vectors for under-observed items,
    blended with item-item neighbours when the recipe's ``item_knn.weight`` is above 0.

    Parameters
    ----------
    config : the training recipe (`TrainConfig`, or its JSON dict as stored in a manifest).
    content : (n_items, d) float32 content vectors of every item (the recipe's encoder output);
        None scores every item by its CF factors (no content map).
    cf : an unfitted CF estimator with ``fit(user_items)``, ``user_factors_`` and
        ``item_factors_`` used instead of the recipe's (None: the recipe's `[cf]` model).

    Attributes
    ----------
    user_factors_ : (n_users, f) float32
    item_vectors_ : (n_items, f) float32; CF factors, content-mapped rows for cold items.
    cold_items_ : (n_cold,) int64 item indices whose vectors came from content.
    similarity_ : (n_items_fit, n_items_fit) float32 CSR item-item neighbours, or None
        (weight 0). A refreshed model may know more items than this matrix: those have none.
    factor_map_ : the fitted content -> factor map, or None without content. Not saved with
        the model: a bundle keeps it with the content encoder (`recsys.bundle.parts`).
    cf_ : the fitted CF estimator (after `fit` only; not saved).
    """

    name = "shipped"

    def __init__(
        self,
        *,
        config: TrainConfig | Mapping[str, Any] | None = None,
        content: np.ndarray | None = None,
        cf: Any = None,
    ) -> None:
        self.config = _as_config(config)
        self.content = None if content is None else np.asarray(content, dtype=np.float32)
        # An unfitted CF estimator to use instead of the recipe's (the Spark engine's MLlib
        # ALS, fitted on the cluster); like `content`, an input of `fit`, not a parameter.
        self.cf = cf

    def fit(self, user_items: sp.csr_matrix, *, show_progress: bool = True) -> Self:
        """Fit the recipe's CF on a (n_users, n_items) confidence matrix, then map cold items."""
        x = sp.csr_matrix(user_items)
        if self.content is not None and self.content.shape[0] != x.shape[1]:
            raise ContractError(
                f"content has {self.content.shape[0]} rows but user_items has {x.shape[1]} items"
            )
        cfg = self.config
        started = time.perf_counter()
        cf = self.cf if self.cf is not None else _CF_MODELS[cfg.cf.model](
            **cfg.cf.model_kwargs(cfg.seed)
        )
        cf.fit(x, show_progress=show_progress)
        # The fitted CF itself (not saved: the vectors below are), for training to hand to a
        # model that would fit the same one (the ranked recommender's ALS source).
        self.cf_ = cf
        factors = np.asarray(cf.item_factors_, dtype=np.float32)  # type: ignore[attr-defined]
        self.user_factors_ = np.ascontiguousarray(
            cf.user_factors_, dtype=np.float32  # type: ignore[attr-defined]
        )
        self.item_vectors_ = factors.copy()
        self.cold_items_ = np.empty(0, np.int64)
        self.factor_map_: ContentToFactorMap | None = None
        if self.content is not None:
            n_users_of = users_per_item(x)
            cold = np.flatnonzero(n_users_of < cfg.content.warm_min_users).astype(np.int64)
            if len(cold) < x.shape[1]:  # some warm item to learn the map from
                self.item_vectors_, self.factor_map_ = place_cold_items(
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

    @property
    def n_users_(self) -> int:
        return int(self.user_factors_.shape[0])

    def _score(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        unknown = (user_ids < 0) | (user_ids >= self.n_users_)
        if unknown.any():
            raise UnknownUserError(
                f"the shipped model knows users 0..{self.n_users_ - 1}; "
                f"got {user_ids[unknown][:5].tolist()}"
            )
        factor = self.user_factors_[user_ids] @ np.asarray(self.item_vectors_).T
        if self.similarity_ is None:
            return factor
        knn = neighbour_scores(user_items, self.similarity_)
        return blend_scores(factor, knn, self.config.item_knn.weight)

    def _item_similarity(self, item_ids: np.ndarray) -> np.ndarray:
        """Cosine similarity of the item vectors (content-mapped items included)."""
        return cosine_to(self.item_vectors_, item_ids)

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

    def with_item_vectors(self, item_vectors: np.ndarray, mapped: np.ndarray) -> ShippedRecommender:
        """A shallow copy over a grown or re-mapped catalogue (a refresh; no refit).

        Parameters
        ----------
        item_vectors : (n_items_new, f) float32, n_items_new >= n_items_; the first n_items_
            rows are the existing items' (possibly re-mapped) vectors.
        mapped : item indices whose vectors now come from content (new or re-mapped items).
        """
        self._check_fitted()
        vectors = np.asarray(item_vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.item_vectors_.shape[1]:
            raise ContractError(
                f"item vectors must be (n, {self.item_vectors_.shape[1]}); got {vectors.shape}"
            )
        if len(vectors) < self.n_items_:
            raise ContractError(
                f"{len(vectors)} item vectors for a model of {self.n_items_} items: "
                "a refresh only adds items"
            )
        other = copy.copy(self)
        other.item_vectors_ = vectors
        other.cold_items_ = np.union1d(self.cold_items_, np.asarray(mapped, np.int64))
        other.n_items_ = len(vectors)
        return other

    def for_user_factors(self, user_factors: np.ndarray) -> ShippedRecommender:
        """A shallow copy scoring users 0..n-1 with these (n, f) factors (folded-in users);
        every other array is shared, none is written."""
        self._check_fitted()
        other = copy.copy(self)
        other.user_factors_ = np.asarray(user_factors, dtype=np.float32)
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
        self.factor_map_ = None
        self.similarity_ = None
        if "similarity_indptr" in state:
            n = len(state["similarity_indptr"]) - 1
            self.similarity_ = sp.csr_matrix(
                (state["similarity_data"], state["similarity_indices"],
                 state["similarity_indptr"]), shape=(n, n),
            )
