"""The learned ranker: LightGBM learning to rank (lambdarank or XE-NDCG) over (user, candidate)
feature rows, one group per user, learned on a label fold the sources never saw.

Held-out users (a seeded share) stop the boosting early and choose the objective and tree size;
the chosen model is kept as LightGBM's own text format, so a saved ranker is plain text.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Self

import lightgbm as lgb
import numpy as np

from recsys.errors import NotFittedError
from recsys.feeds.config import RankerConfig

logger = logging.getLogger(__name__)


@dataclass
class RankerReport:
    """How the ranker was chosen: per tried setting, its held-out NDCG@10 and rounds."""

    trials: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    n_rows: int = 0
    n_groups: int = 0
    seconds: float = 0.0
    importance: dict[str, float] = field(default_factory=dict)


class LambdaRanker:
    """LightGBM lambdarank with early stopping on held-out groups.

    Parameters
    ----------
    config : learning settings (`RankerConfig`).
    seed : seeds the held-out users and LightGBM (deterministic mode).
    """

    def __init__(self, config: RankerConfig | None = None, *, seed: int = 0) -> None:
        self.config = config or RankerConfig()
        self.seed = int(seed)

    def _params(self, objective: str, num_leaves: int, n_rows: int) -> dict[str, Any]:
        c = self.config
        return {
            "objective": objective, "metric": "ndcg", "eval_at": [10],
            "learning_rate": c.learning_rate, "num_leaves": num_leaves,
            # Tiny data (tests, small sets) cannot fill big leaves: scale the floor down.
            "min_data_in_leaf": max(1, min(c.min_data_in_leaf, n_rows // 200)),
            "min_sum_hessian_in_leaf": 1e-3,
            "feature_fraction": 0.9, "lambdarank_truncation_level": 30,
            "num_threads": c.num_threads, "deterministic": True, "force_row_wise": True,
            "seed": self.seed, "verbosity": -1,
        }

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray,
            feature_names: list[str]) -> Self:
        """Learn from rows `x` (n_rows, n_features), binary labels `y` and group sizes
        `groups` (rows of one user are consecutive); returns self."""
        started = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        n_groups = len(groups)
        valid = rng.random(n_groups) < self.config.valid_share
        if valid.all() or not valid.any():
            valid = np.arange(n_groups) % 5 == 0 if n_groups > 1 else np.zeros(1, bool)
        row_valid = np.repeat(valid, groups)
        train_set = lgb.Dataset(x[~row_valid], y[~row_valid], group=groups[~valid],
                                feature_name=feature_names, free_raw_data=False)
        sets = [train_set]
        if valid.any():
            sets.append(lgb.Dataset(x[row_valid], y[row_valid], group=groups[valid],
                                    reference=train_set, free_raw_data=False))
        report = RankerReport(n_rows=len(y), n_groups=n_groups)
        best_model, best_score = None, -np.inf
        tries = [(o, n) for o in self.config.objectives for n in self.config.num_leaves]
        for objective, leaves in tries:
            params = self._params(objective, leaves, len(y))
            evals: dict[str, Any] = {}
            callbacks = [lgb.record_evaluation(evals)]
            if len(sets) > 1:
                callbacks.append(lgb.early_stopping(self.config.early_stopping, verbose=False))
            model = lgb.train(params, train_set, num_boost_round=self.config.max_rounds,
                              valid_sets=sets[1:], valid_names=["valid"][: len(sets) - 1],
                              callbacks=callbacks)
            curve = evals.get("valid", {}).get("ndcg@10", [0.0])
            rounds = model.best_iteration or model.num_trees()
            score = float(curve[rounds - 1]) if rounds and len(curve) >= rounds else 0.0
            report.trials.append({"objective": objective, "num_leaves": leaves,
                                  "rounds": int(rounds), "valid_ndcg@10": round(score, 5)})
            logger.info("ranker %s, num_leaves=%d: %d rounds, held-out ndcg@10 %.4f",
                        objective, leaves, rounds, score)
            if score > best_score:
                best_model, best_score = model, score
                report.best = report.trials[-1]
        self.booster_ = best_model
        self.best_iteration_ = int(report.best["rounds"])
        gains = best_model.feature_importance("gain", iteration=self.best_iteration_)
        total = float(gains.sum()) or 1.0
        report.importance = {n: round(float(g) / total, 4) for n, g in
                             sorted(zip(feature_names, gains, strict=True), key=lambda t: -t[1])}
        report.seconds = time.perf_counter() - started
        self.report_ = report
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n_rows,) float64 ranking scores."""
        if not hasattr(self, "booster_"):
            raise NotFittedError("LambdaRanker is not fitted; call fit() or from_text()")
        return self.booster_.predict(x, num_iteration=self.best_iteration_,
                                     num_threads=self.config.num_threads)

    def to_text(self) -> str:
        return self.booster_.model_to_string(num_iteration=self.best_iteration_)

    @classmethod
    def from_text(cls, text: str, config: RankerConfig, *, seed: int = 0) -> LambdaRanker:
        ranker = cls(config, seed=seed)
        ranker.booster_ = lgb.Booster(model_str=text)
        ranker.best_iteration_ = ranker.booster_.num_trees()
        return ranker
