"""Share targeting: rank a user's friends by how likely each is to join this group buy.

A LightGBM ranker over `share_features.FEATURES`, learned from past group buys: each past
group is a query, the initiator's friends at the time are its candidates, those who joined are
the positives (friends who were asked and did not join, in failed groups too, are negatives and
feed the propensity features). Training keeps at most `max_negatives` sampled non-joiners per
group (a popular initiator has thousands of friends); validation groups keep all of them, stop
the boosting and fit one Platt map from scores to join probabilities, which the completion
chance (`completion`) sums.

The boosting runs twice: from zero, and from the logit of `prior_feature` (the friend's
calibrated affinity to the item's circle), so trees learn corrections to what placement
already knows; the fit that scores better on the validation groups is kept. On the synthetic
set the prior won (the trees added little to it); on Last.fm, whose "affinities" are rough
history shares, boosting from it lost to CF by far more than boosting from zero.

`rank` is batch-first: candidates -> the contact filter (`contact.allowed_targets`) ->
features -> scores -> top k, as arrays. Persistence: LightGBM's text model plus params.json.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

import lightgbm as lgb
import numpy as np
import scipy.sparse as sp
from pydantic import Field, field_validator
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from recsys.errors import BundleError, InvalidInputError, NotFittedError
from recsys.social.contact import ContactRules, allowed_targets, pair_lookup, suggestion_counts
from recsys.social.share_features import FEATURES, ShareQueries
from recsys.social.share_index import ShareIndex

logger = logging.getLogger(__name__)

MODEL_NAME = "share_targeter_lgbm"
_EPS = 1e-3


class ShareTargetingConfig(ContactRules):
    """Hyper-parameters of the ranker, and the contact rules its candidates follow."""

    objective: Literal["lambdarank", "binary"] = "lambdarank"
    n_estimators: int = Field(500, gt=0, description="boosting rounds at most (early stopping)")
    learning_rate: float = Field(0.05, gt=0)
    num_leaves: int = Field(31, gt=1)
    min_child_samples: int = Field(50, gt=0)
    feature_fraction: float = Field(0.9, gt=0, le=1)
    early_stopping_rounds: int = Field(40, gt=0)
    max_negatives: int = Field(100, gt=0, description="non-joiners kept per training group")
    n_threads: int = Field(1, ge=0, description="LightGBM threads; 0 = all cores")
    prior_feature: str | None = Field(
        "friend_circle_affinity", description="also boost from the logit of this feature (a "
        "calibrated probability), so the trees learn corrections to it, and keep that fit when "
        "it scores better on the validation groups; None boosts from zero only",
    )
    monotone_increasing: tuple[str, ...] = Field(
        (), description="features whose rise may only raise the score (LightGBM constraints)"
    )
    random_state: int = 0

    @field_validator("prior_feature")
    @classmethod
    def _known_prior(cls, name: str | None) -> str | None:
        if name is not None and name not in FEATURES:
            raise ValueError(f"prior_feature {name!r} is not one of the features {FEATURES}")
        return name

    @field_validator("monotone_increasing")
    @classmethod
    def _known_monotone(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(names) - set(FEATURES))
        if unknown:
            raise ValueError(f"monotone_increasing names unknown features {unknown}")
        return names


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
        if cfg.monotone_increasing:
            params["monotone_constraints"] = [int(f in cfg.monotone_increasing) for f in FEATURES]
        self.prior_fill_ = 0.5
        if cfg.prior_feature is not None:
            column = x[:, FEATURES.index(cfg.prior_feature)]
            known = np.isfinite(column)
            self.prior_fill_ = float(np.clip(column[known].mean(), _EPS, 1 - _EPS)) if (
                known.any()) else 0.5
        # Boosting from the prior helps where the feature is a calibrated membership chance
        # (placement's) and hurts where it is a rough share (data without posts): the
        # validation groups decide, per fit.
        fits = []
        for use_prior in ([True, False] if cfg.prior_feature is not None else [False]):
            self.prior_used_ = use_prior
            train = _dataset(x, y, qid, cfg.objective, init_score=self._prior(x))
            valid = _dataset(xv, yv, qv, cfg.objective, reference=train,
                             init_score=self._prior(xv))  # fmt: skip
            booster = lgb.train(
                params, train, num_boost_round=cfg.n_estimators, valid_sets=[valid],
                callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
            )  # fmt: skip
            fits.append((_validation_score(booster), use_prior, booster))
        self.validation_scores_ = {("prior" if p else "zero"): v for v, p, _ in fits}
        _, self.prior_used_, booster = max(fits, key=lambda f: f[0])
        self.booster_ = booster
        self.best_iteration_ = int(booster.best_iteration or cfg.n_estimators)
        scores = self._raw(xv)
        platt = LogisticRegression(C=1e4).fit(scores[:, None], yv)
        self.platt_ = np.array([platt.coef_[0, 0], platt.intercept_[0]])
        logger.info(
            "share targeter: %d training rows (%d groups), %d validation rows, %d rounds, "
            "boosted from %s (validation %s)", len(y), len(np.unique(qid)), len(yv),
            self.best_iteration_, "the prior" if self.prior_used_ else "zero",
            self.validation_scores_,
        )  # fmt: skip
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load()")

    def _prior(self, x: np.ndarray) -> np.ndarray | None:
        """The boosting's starting margin: the logit of `prior_feature` (None: zero)."""
        if self.config.prior_feature is None or not self.prior_used_:
            return None
        p = np.asarray(x[:, FEATURES.index(self.config.prior_feature)], np.float64)
        p = np.clip(np.where(np.isfinite(p), p, self.prior_fill_), _EPS, 1 - _EPS)
        return np.log(p / (1 - p))

    def _raw(self, x: np.ndarray) -> np.ndarray:
        # A request scores a few hundred rows: more threads than the config's only cost.
        raw = np.asarray(self.booster_.predict(
            x, num_iteration=self.best_iteration_, num_threads=self.config.n_threads
        ), np.float64)  # fmt: skip
        prior = self._prior(x)
        return raw if prior is None else raw + prior

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
        suggested: sp.spmatrix | Mapping[tuple[int, int], int] | None = None,
        exclude_bought: bool = True,
        rules: ContactRules | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The top `k` friends of each query the contact rules allow (`rules`, default the
        ones the ranker learned with).

        Returns
        -------
        friends : (n_queries, k) int64 user indices, best first, -1 padded.
        scores : (n_queries, k) float64 ranking scores (NaN padded).
        proba : (n_queries, k) float64 join probabilities (NaN padded).
        expected : (n_queries,) float64 expected joiners: the sum of the join probabilities
            of every allowed friend (not just the top k).
        """
        row, friend = allowed_candidates(
            index, queries, rules or self.config, suggested=suggested,
            exclude_bought=exclude_bought,
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
            "best_iteration": self.best_iteration_, "prior_fill": self.prior_fill_,
            "prior_used": self.prior_used_,
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
        model.prior_fill_ = float(meta.get("prior_fill", 0.5))
        model.prior_used_ = bool(meta.get("prior_used", False))
        return model


def allowed_candidates(
    index: ShareIndex,
    queries: ShareQueries,
    rules: ContactRules,
    *,
    suggested: sp.spmatrix | Mapping[tuple[int, int], int] | None = None,
    exclude_bought: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The friends each query may suggest: (row, friend) after `contact.allowed_targets`."""
    row, friend = index.candidates(queries)
    user = queries.user[row]
    bought = None
    if exclude_bought and rules.bought_window_days is not None:
        bought = index.bought_within(queries, row, friend, rules.bought_window_days)
    counts = suggestion_counts(suggested, user, friend)
    ok = allowed_targets(
        user, friend, friends=index.friends, blocked=index.blocked, opt_out=index.opt_out,
        bought_recently=bought, suggested=counts, max_suggestions=rules.max_suggestions,
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
        queries.user[row], friend, friends=index.friends, blocked=index.blocked,
        opt_out=index.opt_out, bought_recently=bought,
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


def _validation_score(booster: lgb.Booster) -> float:
    """The early-stopping metric at the best round, higher is better (NDCG@5 for lambdarank,
    minus the log loss for binary)."""
    metrics = next(iter(booster.best_score.values()), {})
    if "ndcg@5" in metrics:
        return float(metrics["ndcg@5"])
    return -float(next(iter(metrics.values()), np.inf))


def _dataset(
    x: np.ndarray, y: np.ndarray, qid: np.ndarray, objective: str,
    reference: lgb.Dataset | None = None, init_score: np.ndarray | None = None,
) -> lgb.Dataset:
    order = np.argsort(qid, kind="stable")
    group = np.bincount(qid[order])
    return lgb.Dataset(
        x[order], y[order].astype(np.float64), feature_name=list(FEATURES),
        group=group[group > 0] if objective == "lambdarank" else None, reference=reference,
        init_score=None if init_score is None else init_score[order], free_raw_data=True,
    )  # fmt: skip
