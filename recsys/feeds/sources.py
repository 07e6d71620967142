"""Candidate sources: each proposes items for a batch of users and scores any item for them.

One small interface (`Source`): `fit` on a user x item matrix and side data, dense `scores`
for a batch of users, and `candidates(user_ids, user_items, n) -> (ids, scores)` arrays like
the `Recommender` contract (seen items filtered, -1 padded). Model sources wrap the registered
recommenders (EASE, item-kNN, RP3beta = item-kNN with that similarity, ALS, popularity) rather
than re-implementing them; the others read side data (friends, circles, content) and are left
out, with the reason logged, when the data has none.

`build_sources` turns the configured chain into sources; `merge_candidates` unions their
lists per user, so every source's score and rank become features of every candidate.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.feeds.config import MODEL_KINDS, SourceConfig
from recsys.feeds.side import SideData
from recsys.recommenders.als import ALSRecommender
from recsys.recommenders.base import Recommender, top_k
from recsys.recommenders.ease import EASERecommender
from recsys.recommenders.itemknn import ItemKNNRecommender
from recsys.recommenders.popularity import PopularityRecommender

logger = logging.getLogger(__name__)

#: The registered model behind each model kind, and settings that kind always has. (The
#: classes, not the registry: the registry lists the ranked model, which imports this.)
_MODEL_OF: dict[str, tuple[type[Recommender], dict[str, Any]]] = {
    "ease": (EASERecommender, {}),
    "itemknn": (ItemKNNRecommender, {"num_threads": 2}),
    "rp3beta": (ItemKNNRecommender, {"similarity": "rp3beta"}),
    "als": (ALSRecommender, {"num_threads": 2, "iterations": 15}),
    "popularity": (PopularityRecommender, {}),
}


class Source(ABC):
    """A fitted source scores every item for a batch of users; higher is better."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    @abstractmethod
    def fit(self, user_items: sp.csr_matrix, side: SideData, *, seed: int = 0) -> Self:
        """Learn from a (n_users, n_items) confidence matrix and side data; returns self."""

    @abstractmethod
    def scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """(len(user_ids), n_items) float32 scores of every item."""

    def candidates(self, user_ids: np.ndarray, user_items: sp.csr_matrix,
                   n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-n unseen items per user: (ids (n_users, n) int64 -1 padded, scores float32)."""
        return top_n_unseen(self.scores(user_ids, user_items), user_items, n)

    def save(self, directory: Path) -> None:  # noqa: B027 - sources without state save nothing
        """Write the learned state into `directory` (arrays and JSON only)."""

    def load_state(self, directory: Path, *, mmap: bool = False) -> None:  # noqa: B027
        """Restore what `save` wrote; `mmap`: memory-map the big arrays where the source has
        them (a model's factors: shared between serving workers through the page cache)."""


def top_n_unseen(scores: np.ndarray, user_items: sp.csr_matrix,
                 n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-n of `scores` after the users' seen items are set to -inf (in place)."""
    seen = sp.csr_matrix(user_items).tocoo()
    scores[seen.row, seen.col] = -np.inf
    return top_k(scores, n)


class ModelSource(Source):
    """A registered recommender as a source: its dense scores, its top-n as candidates."""

    def __init__(self, config: SourceConfig) -> None:
        super().__init__(config)
        model, fixed = _MODEL_OF[config.kind]
        self.model_class = model
        self.model_params = {**fixed, **config.params}
        self.model_: Recommender | None = None

    def _params(self, seed: int) -> dict[str, Any]:
        """The wrapped model's constructor arguments for a fit seeded by `seed`."""
        params = dict(self.model_params)
        if self.model_class is ALSRecommender:
            params.setdefault("random_state", seed)
        return params

    def fit(self, user_items: sp.csr_matrix, side: SideData, *, seed: int = 0) -> Self:
        self.model_ = self.model_class(**self._params(seed)).fit(user_items, show_progress=False)
        return self

    def scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return np.asarray(self.model_._score(user_ids, user_items), dtype=np.float32)

    def adopt(self, model: Recommender, *, seed: int = 0) -> bool:
        """Take `model`, already fitted on the matrix this source would be fitted on, when it
        is the model `fit` would make (same class, same settings but threads, which do not
        change the result): a second identical fit buys nothing. Returns whether it did."""
        if type(model) is not self.model_class:
            return False
        have = model.get_params()
        same = all(have.get(k) == v for k, v in self._params(seed).items() if k != "num_threads")
        if same:
            self.model_ = model
        return same

    @property
    def item_similarity(self) -> sp.csr_matrix | np.ndarray | None:
        """The item x item weights of neighbour models (row i: item i's neighbours)."""
        model = self.model_
        if hasattr(model, "similarity_"):
            return model.similarity_
        if hasattr(model, "weights_"):
            return model.weights_
        return None

    def save(self, directory: Path) -> None:
        self.model_.save(directory)

    def load_state(self, directory: Path, *, mmap: bool = False) -> None:
        self.model_ = self.model_class.load(directory, mmap=mmap)


class FriendsSource(Source):
    """Items the user's friends interacted with, scored by how many friends did."""

    def fit(self, user_items: sp.csr_matrix, side: SideData, *, seed: int = 0) -> Self:
        self.friends_ = side.friends
        self.n_items_ = user_items.shape[1]
        self.engaged_ = _binary(user_items)
        return self

    def scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        known = (user_ids >= 0) & (user_ids < self.friends_.shape[0])
        rows = self.friends_[np.where(known, user_ids, 0)]
        rows = sp.csr_matrix(sp.diags(known.astype(np.float32)) @ rows)
        return np.asarray((rows @ self.engaged_).toarray(), dtype=np.float32)

    def save(self, directory: Path) -> None:
        _save_csr(directory, "friends", self.friends_)
        _save_csr(directory, "engaged", self.engaged_)

    def load_state(self, directory: Path, *, mmap: bool = False) -> None:
        self.friends_ = _load_csr(directory, "friends")
        self.engaged_ = _load_csr(directory, "engaged")
        self.n_items_ = self.engaged_.shape[1]


class CircleTrendingSource(Source):
    """Items gaining users lately, weighted by the user's share of interactions in the item's
    circle: what is trending in the user's circles. Without times, plain popularity."""

    def fit(self, user_items: sp.csr_matrix, side: SideData, *, seed: int = 0) -> Self:
        circle = side.item_circle
        self.n_items_ = user_items.shape[1]
        self.item_circle_ = np.where(circle >= 0, circle, circle.max(initial=0) + 1)
        self.trend_ = trend_scores(user_items, side)
        return self

    def scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        shares = circle_shares(user_items, self.item_circle_)
        return (shares[:, self.item_circle_] * self.trend_[None, :]).astype(np.float32)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "item_circle.npy", self.item_circle_, allow_pickle=False)
        np.save(directory / "trend.npy", self.trend_, allow_pickle=False)

    def load_state(self, directory: Path, *, mmap: bool = False) -> None:
        self.item_circle_ = np.load(directory / "item_circle.npy")
        self.trend_ = np.load(directory / "trend.npy")
        self.n_items_ = len(self.trend_)


class ContentSource(Source):
    """Items whose content is closest to the mean content of the user's items (cold items
    included: they need no interactions)."""

    def fit(self, user_items: sp.csr_matrix, side: SideData, *, seed: int = 0) -> Self:
        self.content_ = _unit_rows(np.asarray(side.item_content, dtype=np.float32))
        self.n_items_ = user_items.shape[1]
        return self

    def scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        profile = _unit_rows(np.asarray(_binary(user_items) @ self.content_))
        return (profile @ self.content_.T).astype(np.float32)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "content.npy", self.content_, allow_pickle=False)

    def load_state(self, directory: Path, *, mmap: bool = False) -> None:
        self.content_ = np.load(directory / "content.npy")
        self.n_items_ = len(self.content_)


_SIDE_KINDS: dict[str, tuple[type[Source], str]] = {
    "friends": (FriendsSource, "friends"),
    "circle_trending": (CircleTrendingSource, "item_circle"),
    "content": (ContentSource, "item_content"),
}


def make_source(config: SourceConfig) -> Source:
    """An unfitted source of the configured kind."""
    if config.kind in MODEL_KINDS:
        return ModelSource(config)
    return _SIDE_KINDS[config.kind][0](config)


def usable(config: SourceConfig, side: SideData, n_items: int,
           ease_max_items: int) -> str | None:
    """Why `config` cannot run on this data (None when it can)."""
    if config.kind == "ease" and n_items > ease_max_items:
        return (f"{n_items} items > ease_max_items {ease_max_items}: EASE's dense item x item "
                "inverse would not fit; the neighbour and factor sources cover this catalogue")
    if config.kind in _SIDE_KINDS:
        part = _SIDE_KINDS[config.kind][1]
        if getattr(side, part) is None:
            return f"the data has no {part}"
        if part == "friends" and side.friends.nnz == 0:
            return "the data has no friendships"
        if part == "item_circle" and len(np.unique(side.item_circle[side.item_circle >= 0])) < 2:
            return "the data has fewer than two circles"
    return None


def build_sources(configs: tuple[SourceConfig, ...], side: SideData, n_items: int,
                  ease_max_items: int) -> tuple[list[Source], dict[str, str]]:
    """Unfitted sources of the chain that can run on this data, and why the others cannot."""
    sources, skipped = [], {}
    for config in configs:
        why = usable(config, side, n_items, ease_max_items)
        if why is None:
            sources.append(make_source(config))
        else:
            skipped[config.name] = why
            logger.info("source %s left out: %s", config.name, why)
    if not any(s.config.n > 0 for s in sources):
        raise ConfigError(f"no source that proposes candidates can run on this data: {skipped}")
    return sources, skipped


def merge_candidates(lists: list[np.ndarray]) -> np.ndarray:
    """Union of several (n_users, n_s) id lists per row, -1 padded, in ascending id order.

    Returns
    -------
    (n_users, C) int64 with C the largest number of distinct ids of a row.
    """
    if not lists:
        raise ValueError("merge_candidates needs at least one list")
    ids = np.sort(np.concatenate(lists, axis=1), axis=1)
    keep = ids >= 0
    keep[:, 1:] &= ids[:, 1:] != ids[:, :-1]
    counts = keep.sum(axis=1)
    width = int(counts.max(initial=0))
    out = np.full((len(ids), width), -1, dtype=np.int64)
    rows = np.repeat(np.arange(len(ids)), counts)
    cols = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    out[rows, cols] = ids[keep]
    return out


# -- helpers shared with the features --------------------------------------------------------


def _binary(user_items: sp.csr_matrix) -> sp.csr_matrix:
    x = sp.csr_matrix(user_items, dtype=np.float32, copy=True)
    x.eliminate_zeros()
    x.data[:] = 1.0
    return x


def _unit_rows(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return (m / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def circle_shares(user_items: sp.csr_matrix, item_circle: np.ndarray) -> np.ndarray:
    """(n_users, n_circles) share of each user's items in each circle (rows sum to 1 or 0)."""
    n_circles = int(item_circle.max(initial=-1)) + 1
    onehot = sp.csr_matrix((np.ones(len(item_circle), np.float32),
                            (np.arange(len(item_circle)), item_circle)),
                           shape=(len(item_circle), n_circles))
    counts = np.asarray((_binary(user_items) @ onehot).toarray(), dtype=np.float32)
    totals = counts.sum(axis=1, keepdims=True)
    return counts / np.where(totals > 0, totals, 1.0)


def trend_scores(user_items: sp.csr_matrix, side: SideData, recent_share: float = 0.1,
                 ) -> np.ndarray:
    """(n_items,) users in the latest `recent_share` of time, smoothed, over the item's
    overall users: what gains users now. Without global times, log popularity."""
    users = np.bincount(_binary(user_items).indices, minlength=user_items.shape[1])
    times = side.first_ts
    if times is None or not side.global_time or not side.has_times:
        return np.log1p(users).astype(np.float32)
    cut = np.quantile(times.data, 1.0 - recent_share)
    recent = np.bincount(times.indices[times.data >= cut], minlength=user_items.shape[1])
    expected = users * recent_share
    return (np.log1p(recent) + np.log1p(recent / (expected + 1.0))).astype(np.float32)


def _save_csr(directory: Path, name: str, m: sp.csr_matrix) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for part in ("data", "indices", "indptr"):
        np.save(directory / f"{name}_{part}.npy", getattr(m, part), allow_pickle=False)
    np.save(directory / f"{name}_shape.npy", np.asarray(m.shape, np.int64), allow_pickle=False)


def _load_csr(directory: Path, name: str) -> sp.csr_matrix:
    parts = [np.load(directory / f"{name}_{p}.npy") for p in ("data", "indices", "indptr")]
    return sp.csr_matrix(tuple(parts), shape=tuple(np.load(directory / f"{name}_shape.npy")))
