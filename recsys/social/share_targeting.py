"""Share targeting: rank a user's friends by how likely each is to join this group buy.

A LightGBM ranker over `share_features.FEATURES`, learned from past group buys: each past
group is a query, the initiator's friends at the time are its candidates, those who joined are
the positives (friends who were asked and did not join, in failed groups too, are negatives and
feed the propensity features). Training keeps at most `max_negatives` sampled non-joiners per
group (a popular initiator has thousands of friends); validation groups keep all of them, stop
the boosting and fit one Platt map from scores to join probabilities, which the completion
chance (`completion`) sums.

`rank` is batch-first: candidates -> the contact filter (`contact.allowed_targets`) ->
features -> scores -> top k, as arrays. Persistence: LightGBM's text model plus params.json.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal, Self

import lightgbm as lgb
import numpy as np
import scipy.sparse as sp
from pydantic import Field
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from recsys.config import FrozenConfig
from recsys.errors import BundleError, InvalidInputError, NotFittedError
from recsys.social.contact import allowed_targets, pair_lookup, suggestion_counts
from recsys.social.share_features import FEATURES, ShareIndex, ShareQueries

logger = logging.getLogger(__name__)

MODEL_NAME = "share_targeter_lgbm"


class ShareTargetingConfig(FrozenConfig):
    """Hyper-parameters of the ranker and the contact rules (defaults documented in place)."""

    objective: Literal["lambdarank", "binary"] = "lambdarank"
    n_estimators: int = Field(500, gt=0, description="boosting rounds at most (early stopping)")
    learning_rate: float = Field(0.05, gt=0)
    num_leaves: int = Field(31, gt=1)
    min_child_samples: int = Field(50, gt=0)
    feature_fraction: float = Field(0.9, gt=0, le=1)
    early_stopping_rounds: int = Field(40, gt=0)
    max_negatives: int = Field(100, gt=0, description="non-joiners kept per training group")
    n_threads: int = Field(1, ge=0, description="LightGBM threads; 0 = all cores")
    bought_window_days: float | None = Field(
        30.0, gt=0, description="exclude friends who bought the item this recently; None = off"
    )
    max_suggestions: int | None = Field(
        3, gt=0, description="suggest the same friend to the same user at most this often"
    )
    random_state: int = 0


class ShareTargeter:
    """Ranks friends as share targets (see the module docstring)."""

    name = MODEL_NAME

    def __init__(self, config: ShareTargetingConfig | None = None) -> None:
        self.config = config or ShareTargetingConfig()

    # -- fitting -----------------------------------------------------------------------------

    def fit(
        self,
        index: ShareIndex,
        queries: ShareQueries,
        joined: sp.spmatrix,
        *,
        valid_queries: ShareQueries,
        valid_joined: sp.spmatrix,
    ) -> Self:
        """Learn from past groups `queries` (who joined: (n_queries, n_users) 0/1 `joined`);
        stop and calibrate on the separate groups `valid_queries`."""
        cfg = self.config
        rng = np.random.default_rng(cfg.random_state)
        window = cfg.bought_window_days
        x, y, qid = training_rows(index, queries, joined, max_negatives=cfg.max_negatives,
                                  rng=rng, bought_window_days=window)  # fmt: skip
        xv, yv, qv = training_rows(index, valid_queries, valid_joined, max_negatives=None,
                                   rng=rng, bought_window_days=window)  # fmt: skip
        if not y.any() or not yv.any():
            raise InvalidInputError(
                "share targeting needs joiners among the candidates of both the training and "
                f"the validation groups; got {int(y.sum())} and {int(yv.sum())}"
            )
        params = {
            "objective": cfg.objective, "learning_rate": cfg.learning_rate,
            "num_leaves": cfg.num_leaves, "min_child_samples": cfg.min_child_samples,
            "feature_fraction": cfg.feature_fraction, "num_threads": cfg.n_threads,
            "seed": cfg.random_state, "deterministic": True, "force_col_wise": True,
            "verbose": -1,
        }  # fmt: skip
        if cfg.objective == "lambdarank":
            params |= {"eval_at": [5], "lambdarank_truncation_level": 20}
        train = _dataset(x, y, qid, cfg.objective)
        valid = _dataset(xv, yv, qv, cfg.objective, reference=train)
        booster = lgb.train(
            params, train, num_boost_round=cfg.n_estimators, valid_sets=[valid],
            callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
        )  # fmt: skip
        self.booster_ = booster
        self.best_iteration_ = int(booster.best_iteration or cfg.n_estimators)
        scores = self._raw(xv)
        platt = LogisticRegression(C=1e4).fit(scores[:, None], yv)
        self.platt_ = np.array([platt.coef_[0, 0], platt.intercept_[0]])
        logger.info(
            "share targeter: %d training rows (%d groups), %d validation rows, %d rounds",
            len(y), len(np.unique(qid)), len(yv), self.best_iteration_,
        )  # fmt: skip
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load()")

    def _raw(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster_.predict(x, num_iteration=self.best_iteration_), np.float64)

    def score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ranking scores and join probabilities of feature rows (m, len(FEATURES))."""
        self._check_fitted()
        raw = self._raw(x)
        return raw, expit(raw * self.platt_[0] + self.platt_[1])

    # -- ranking -----------------------------------------------------------------------------

    def rank(
        self,
        index: ShareIndex,
        queries: ShareQueries,
        *,
        k: int = 10,
        suggested: sp.spmatrix | dict[tuple[int, int], int] | None = None,
        exclude_bought: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The top `k` allowed friends of each query.

        Returns
        -------
        friends : (n_queries, k) int64 user indices, best first, -1 padded.
        scores : (n_queries, k) float64 ranking scores (NaN padded).
        proba : (n_queries, k) float64 join probabilities (NaN padded).
        expected : (n_queries,) float64 expected joiners: the sum of the join probabilities
            of every allowed friend (not just the top k).
        """
        row, friend = allowed_candidates(
            index, queries, self.config, suggested=suggested, exclude_bought=exclude_bought
        )
        raw, proba = self.score(index.features(queries, row, friend))
        expected = np.bincount(row, weights=proba, minlength=len(queries))
        ids, top = top_k(row, friend, raw, len(queries), k)
        # Position -1 (padding) reads the NaN appended last.
        return ids, np.append(raw, np.nan)[top], np.append(proba, np.nan)[top], expected

    # -- persistence -------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write model.txt (LightGBM text) and params.json into `directory`."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(directory / "model.txt"), num_iteration=self.best_iteration_)
        meta = {
            "model": self.name, "config": self.config.model_dump(mode="json"),
            "features": list(FEATURES), "platt": self.platt_.tolist(),
            "best_iteration": self.best_iteration_,
        }  # fmt: skip
        (directory / "params.json").write_text(json.dumps(meta, indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        directory = Path(directory)
        try:
            meta = json.loads((directory / "params.json").read_text())
        except FileNotFoundError:
            raise BundleError(f"{directory}: no params.json; not a saved {cls.__name__}") from None
        if meta.get("model") != MODEL_NAME:
            raise BundleError(f"{directory}: holds {meta.get('model')!r}, not {MODEL_NAME!r}")
        if meta.get("features") != list(FEATURES):
            raise BundleError(f"{directory}: saved with other features than {list(FEATURES)}")
        path = directory / "model.txt"
        if not path.is_file():
            raise BundleError(f"{path}: missing; the saved share targeter is incomplete")
        model = cls(ShareTargetingConfig(**meta["config"]))
        model.booster_ = lgb.Booster(model_file=str(path))
        model.best_iteration_ = int(meta["best_iteration"])
        model.platt_ = np.asarray(meta["platt"], np.float64)
        return model


def allowed_candidates(
    index: ShareIndex,
    queries: ShareQueries,
    config: ShareTargetingConfig,
    *,
    suggested: sp.spmatrix | dict[tuple[int, int], int] | None = None,
    exclude_bought: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The friends each query may suggest: (row, friend) after `contact.allowed_targets`."""
    row, friend = index.candidates(queries)
    user = queries.user[row]
    bought = None
    if exclude_bought and config.bought_window_days is not None:
        bought = index.bought_within(queries, row, friend, config.bought_window_days)
    counts = suggestion_counts(suggested, user, friend)
    ok = allowed_targets(
        user, friend, friends=index.friends, blocked=index.history.blocked,
        opt_out=index.history.opt_out, bought_recently=bought, suggested=counts,
        max_suggestions=config.max_suggestions,
    )  # fmt: skip
    return row[ok], friend[ok]


def training_rows(
    index: ShareIndex,
    queries: ShareQueries,
    joined: sp.spmatrix,
    *,
    max_negatives: int | None,
    rng: np.random.Generator,
    bought_window_days: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows of past groups: (x (m, d), y (m,) bool joined, qid (m,) query index).

    Candidates are the friends the contact rules allow (opt-outs and blocks never enter, nor
    with `bought_window_days` recent buyers: the ranker learns on the candidates it will
    rank); groups without a joiner among them carry no ranking signal and are left out.
    """
    joined = sp.csr_matrix(joined)
    if joined.shape[0] != len(queries):
        raise InvalidInputError(
            f"joined has {joined.shape[0]} rows; expected {len(queries)} queries"
        )
    row, friend = index.candidates(queries)
    bought = None
    if bought_window_days is not None:
        bought = index.bought_within(queries, row, friend, bought_window_days)
    ok = allowed_targets(
        queries.user[row], friend, friends=index.friends, blocked=index.history.blocked,
        opt_out=index.history.opt_out, bought_recently=bought,
    )  # fmt: skip
    row, friend = row[ok], friend[ok]
    y = pair_lookup(joined, row, friend) > 0
    has_pos = np.bincount(row, weights=y, minlength=len(queries)) > 0
    keep = has_pos[row]
    if max_negatives is not None:
        # Random rank among the query's negatives; keep the first `max_negatives`.
        key = rng.random(len(row))
        order = np.lexsort((key, y, row))  # per query: negatives first, in random order
        neg_rank = np.empty(len(row), np.int64)
        start = np.searchsorted(row[order], row[order], side="left")
        neg_rank[order] = np.arange(len(row)) - start
        keep &= y | (neg_rank < max_negatives)
    row, friend, y = row[keep], friend[keep], y[keep]
    return index.features(queries, row, friend), y, row


def top_k(
    row: np.ndarray, friend: np.ndarray, score: np.ndarray, n_queries: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(n_queries, k) best friends per query (-1 padded) and the positions of their rows."""
    order = np.lexsort((friend, -score, row))
    r = row[order]
    rank = np.arange(len(r)) - np.searchsorted(r, r, side="left")
    keep = rank < k
    ids = np.full((n_queries, k), -1, np.int64)
    pos = np.full((n_queries, k), -1, np.int64)
    ids[r[keep], rank[keep]] = friend[order][keep]
    pos[r[keep], rank[keep]] = order[keep]
    return ids, pos


def _dataset(
    x: np.ndarray, y: np.ndarray, qid: np.ndarray, objective: str,
    reference: lgb.Dataset | None = None,
) -> lgb.Dataset:
    order = np.argsort(qid, kind="stable")
    group = np.bincount(qid[order])
    return lgb.Dataset(
        x[order], y[order].astype(np.float64), feature_name=list(FEATURES),
        group=group[group > 0] if objective == "lambdarank" else None, reference=reference,
        free_raw_data=True,
    )  # fmt: skip
