"""Per-(user, candidate) features of the ranker, built in batches of users.

Each source contributes its score, its rank in its own top-n (the sentinel n when it did not
propose the item), its score relative to the user's best and its z-score over the user's
candidates (both scale-free across users and between the fit and the refit).
Then, as far as the data has them: log popularity, the user's activity, what is trending,
the item's age, the user's share of items in the candidate's circle, content similarity to
the user's items, the group-buy flag, the price gap to what the user buys, and, where each
user's items are ordered, similarity of the candidate to the user's latest items under every
item-item source (EASE, RP3beta, item-kNN): sequences (leave-last-out) live on that.
Features a data set cannot have are not built at all, so the ranker never learns a constant.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import scipy.sparse as sp

from recsys.feeds.side import SideData
from recsys.feeds.sources import (
    ModelSource,
    Source,
    _binary,
    _unit_rows,
    circle_shares,
    trend_scores,
)

logger = logging.getLogger(__name__)

#: State key of log(users counted): item counts are features per user (bundles before it: 0).
_POP_OFFSET = "pop_offset"
#: Decay of the latest items' weights in the "recent" similarity: 1, 1/2, 1/3, ...
_RECENT_DECAY = 1.0


@dataclass(frozen=True)
class CandidateBatch:
    """What the sources produced for one batch of users."""

    user_ids: np.ndarray
    #: (n, C) int64 merged candidates, -1 padded.
    candidates: np.ndarray
    #: source name -> (n, n_items) float32 dense scores (seen items at -inf).
    scores: dict[str, np.ndarray]
    #: source name -> (n, n_s) int64 its own top list (only sources proposing candidates).
    lists: dict[str, np.ndarray]


class FeatureBuilder:
    """Item and user state for the features, fitted on the same matrix as the sources."""

    def __init__(self, *, recent_items: int = 5) -> None:
        self.recent_items = int(recent_items)

    def fit(self, user_items: sp.csr_matrix, side: SideData, sources: list[Source]) -> Self:
        x = _binary(user_items)
        self.n_items_ = x.shape[1]
        self.source_names_ = [s.name for s in sources]
        self.proposing_ = [s.name for s in sources if s.config.n > 0]
        self.list_len_ = {s.name: s.config.n for s in sources if s.config.n > 0}
        self.item_pop_ = np.log1p(np.bincount(x.indices, minlength=self.n_items_)).astype(
            np.float32)
        # Counts grow with the users counted: the ranker learns on the first fit's users (a
        # sample of a big platform) and serves on the refit's. Per user, they compare.
        offset = np.float32(np.log(max(int((np.diff(x.indptr) > 0).sum()), 1)))
        state: dict[str, np.ndarray] = {_POP_OFFSET: np.array([offset], np.float32)}
        times = side.first_ts
        if times is not None and side.global_time and side.has_times:
            state["trend"] = trend_scores(user_items, side) - offset
            if side.item_created is not None:
                state["age"] = (times.data.max() - side.item_created).astype(np.float32)
        if side.item_circle is not None and len(np.unique(side.item_circle)) > 1:
            circle = side.item_circle
            state["circle"] = np.where(circle >= 0, circle, circle.max(initial=0) + 1)
        if side.item_content is not None:
            state["content"] = _unit_rows(side.item_content)
        if side.item_group_buy is not None and side.item_group_buy.any():
            state["group_buy"] = side.item_group_buy.astype(np.float32)
        if side.item_price is not None and (side.item_price > 0).any():
            state["log_price"] = np.where(side.item_price > 0, np.log(
                np.maximum(side.item_price, 1e-9)), np.nan).astype(np.float32)
        if times is not None and side.has_times:
            state["recent"] = latest_items(times, self.recent_items)
        self.state_ = state
        self.similarities_ = {s.name: s.item_similarity for s in sources
                              if isinstance(s, ModelSource) and s.item_similarity is not None}
        self.feature_names_ = self._names()
        return self

    def _names(self) -> list[str]:
        names = []
        for s in self.source_names_:
            names += [f"{s}_score", f"{s}_rel", f"{s}_z"]
            if s in self.list_len_:
                names.append(f"{s}_rank")
        names += ["n_proposing", "item_pop", "user_activity"]
        st = self.state_
        names += [n for n in ("trend", "age", "group_buy") if n in st]
        if "circle" in st:
            names.append("circle_share")
        if "content" in st:
            names.append("content_sim")
        if "log_price" in st:
            names.append("price_gap")
        if "recent" in st:
            for s in self.similarities_:
                names += [f"{s}_last_sim", f"{s}_recent_sim"]
        return names

    def transform(self, batch: CandidateBatch, user_items: sp.csr_matrix) -> np.ndarray:
        """(n * C, n_features) float32 in `feature_names_` order; rows of -1 candidates are
        NaN and must be dropped by the caller."""
        cand = batch.candidates
        n, c = cand.shape
        safe = np.where(cand >= 0, cand, 0)
        cols: dict[str, np.ndarray] = {}
        proposing = np.zeros((n, c), np.float32)
        for name in self.source_names_:
            dense = batch.scores[name]
            score = np.take_along_axis(dense, safe, axis=1)
            cols[f"{name}_score"] = score
            finite = np.where(np.isfinite(dense), np.abs(dense), 0.0)
            scale = finite.max(axis=1, keepdims=True)
            cols[f"{name}_rel"] = score / np.where(scale > 0, scale, 1.0)
            cols[f"{name}_z"] = _z_per_row(score, cand >= 0)
            if name in self.list_len_:
                rank = _rank_of(batch.lists[name], safe, self.n_items_, self.list_len_[name])
                cols[f"{name}_rank"] = rank
                proposing += rank < self.list_len_[name]
        cols["n_proposing"] = proposing
        cols["item_pop"] = self.item_pop_[safe] - self.state_.get(_POP_OFFSET, 0.0)
        x = _binary(user_items)
        activity = np.log1p(np.diff(x.indptr)).astype(np.float32)
        cols["user_activity"] = np.broadcast_to(activity[:, None], (n, c))
        st = self.state_
        for key in ("trend", "age", "group_buy"):
            if key in st:
                cols[key] = st[key][safe]
        if "circle" in st:
            shares = circle_shares(x, st["circle"])
            cols["circle_share"] = np.take_along_axis(shares, st["circle"][safe], axis=1)
        if "content" in st:
            profile = _unit_rows(np.asarray(x @ st["content"]))
            cols["content_sim"] = np.einsum("nd,ncd->nc", profile, st["content"][safe])
        if "log_price" in st:
            price = st["log_price"]
            known = np.where(np.isnan(price), 0.0, price)
            has = (~np.isnan(price)).astype(np.float32)
            total, count = np.asarray(x @ known).ravel(), np.asarray(x @ has).ravel()
            mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
            cols["price_gap"] = np.abs(price[safe] - mean[:, None])
        if "recent" in st:
            recent = _recent_rows(st["recent"], batch.user_ids)
            for name, sim in self.similarities_.items():
                last, decayed = _sequence_similarity(recent, sim, safe, self.n_items_)
                cols[f"{name}_last_sim"] = last
                cols[f"{name}_recent_sim"] = decayed
        out = np.stack([np.asarray(cols[f], np.float32).reshape(n, c)
                        for f in self.feature_names_], axis=2)
        out[cand < 0] = np.nan
        return out.reshape(n * c, len(self.feature_names_))

    # -- persistence ---------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "item_pop.npy", self.item_pop_, allow_pickle=False)
        for key, value in self.state_.items():
            np.save(directory / f"{key}.npy", value, allow_pickle=False)

    def load(self, directory: Path, sources: list[Source], names: list[str]) -> Self:
        """Restore what `save` wrote; `sources` are the fitted (loaded) sources."""
        self.item_pop_ = np.load(directory / "item_pop.npy")
        self.n_items_ = len(self.item_pop_)
        self.state_ = {p.stem: np.load(p) for p in sorted(directory.glob("*.npy"))
                       if p.stem != "item_pop"}
        self.source_names_ = [s.name for s in sources]
        self.proposing_ = [s.name for s in sources if s.config.n > 0]
        self.list_len_ = {s.name: s.config.n for s in sources if s.config.n > 0}
        self.similarities_ = {s.name: s.item_similarity for s in sources
                              if isinstance(s, ModelSource) and s.item_similarity is not None}
        self.feature_names_ = self._names()
        if self.feature_names_ != names:
            raise ValueError(f"saved features {names} differ from rebuilt {self.feature_names_}")
        return self


def latest_items(first_ts: sp.csr_matrix, n: int, *, block_users: int = 1 << 20) -> np.ndarray:
    """(n_users, n) int64 each user's latest items by first time, latest first, -1 padded
    (ties: higher item index first, which is reproducible).

    Sorted `block_users` rows at a time: one sort of every pair held ~5 GB of temporaries at
    10M users (100M pairs) for a (n_users, n) answer."""
    t = sp.csr_matrix(first_ts)
    n_users = t.shape[0]
    out = np.full((n_users, n), -1, dtype=np.int64)
    for start in range(0, n_users, block_users):
        stop = min(start + block_users, n_users)
        lo, hi = int(t.indptr[start]), int(t.indptr[stop])
        counts = np.diff(t.indptr[start : stop + 1])
        rows = np.repeat(np.arange(stop - start), counts)
        items = np.asarray(t.indices[lo:hi], np.int64)
        order = np.lexsort((-items, -np.asarray(t.data[lo:hi]), rows))
        pos = np.arange(hi - lo) - np.repeat(t.indptr[start:stop] - lo, counts)
        keep = pos < n
        out[start + rows[keep], pos[keep]] = items[order][keep]
    return out


def _z_per_row(score: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(n, C) scores standardised over each user's own candidates: a source's scale differs
    between users (activity) and between the fit and the refit; its spread within a list
    does not."""
    v = np.where(valid & np.isfinite(score), score, 0.0).astype(np.float64)
    count = np.maximum((valid & np.isfinite(score)).sum(axis=1, keepdims=True), 1)
    mean = v.sum(axis=1, keepdims=True) / count
    var = (v * v).sum(axis=1, keepdims=True) / count - mean * mean
    return ((v - mean) / np.sqrt(np.maximum(var, 1e-12))).astype(np.float32)


def _recent_rows(recent: np.ndarray, user_ids: np.ndarray) -> np.ndarray:
    known = (user_ids >= 0) & (user_ids < len(recent))
    rows = np.full((len(user_ids), recent.shape[1]), -1, dtype=np.int64)
    rows[known] = recent[user_ids[known]]
    return rows


def _rank_of(top: np.ndarray, cand: np.ndarray, n_items: int, sentinel: int) -> np.ndarray:
    """Position of each candidate in a source's top list; `sentinel` when absent."""
    n = len(top)
    dense = np.full((n, n_items), sentinel, dtype=np.float32)
    rows, cols = np.nonzero(top >= 0)
    dense[rows, top[rows, cols]] = cols
    return np.take_along_axis(dense, cand, axis=1)


def _sequence_similarity(recent: np.ndarray, sim: sp.csr_matrix | np.ndarray,
                         cand: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Similarity of each candidate to the user's latest item, and to the latest few with
    weights 1, 1/2, 1/3, ... (users without history: 0)."""
    n, length = recent.shape
    weights = np.where(recent >= 0, 1.0 / (1.0 + _RECENT_DECAY * np.arange(length)), 0.0)
    safe = np.where(recent >= 0, recent, 0)
    out = []
    for w in (weights[:, :1], weights):
        rows = np.repeat(np.arange(n), w.shape[1])
        m = sp.csr_matrix((w.ravel().astype(np.float32), (rows, safe[:, :w.shape[1]].ravel())),
                          shape=(n, n_items))
        prod = m @ sim
        dense = prod.toarray() if sp.issparse(prod) else np.asarray(prod)
        out.append(np.take_along_axis(dense, cand, axis=1).astype(np.float32))
    return out[0], out[1]
