"""Self-tuning of the sources' key settings on the label fold, within a time budget.

Each tuned model source is fitted on the fit part with its configured settings first (so
tuning never ends below the recipe), then with seeded random draws from its search space,
and scored by NDCG@10 of its own top 10 against the label part for a sample of label users.
The budget is shared among the tuned sources; a source stops drawing when its next fit
would not fit in what is left of its share (judged by the fits it already made).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.feeds.config import SourceConfig
from recsys.feeds.side import SideData
from recsys.feeds.sources import ModelSource, Source
from recsys.metrics.ranking import accuracy_per_user, relevance_hits

logger = logging.getLogger(__name__)

#: Search spaces per model kind: ("log", low, high), ("int-log", low, high), ("uniform",
#: low, high) or a list of choices. RP3beta's ranges are those of the baselines (the
#: validation optima of ML-1M, Last.fm and Amazon Beauty lie inside).
SPACES: dict[str, dict[str, Any]] = {
    "ease": {"l2": ("log", 20.0, 5000.0)},
    "rp3beta": {"k": ("int-log", 20, 1000), "rp3_alpha": ("uniform", 0.2, 1.2),
                "rp3_beta": ("uniform", 0.0, 0.8)},
    "itemknn": {"k": ("int-log", 20, 1000), "similarity": ["cosine", "bm25", "tfidf"]},
    "als": {"factors": [32, 64, 128], "regularization": ("log", 1e-3, 10.0),
            "alpha": ("log", 0.3, 30.0)},
}


@dataclass
class SourceTuning:
    """Trials of one source: settings, validation NDCG@10 and seconds per fit."""

    name: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    best_params: dict[str, Any] = field(default_factory=dict)
    best_score: float = float("nan")


def draw(space: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One seeded draw from a space (parameters in sorted order)."""
    out: dict[str, Any] = {}
    for name in sorted(space):
        spec = space[name]
        if isinstance(spec, list):
            out[name] = spec[int(rng.integers(len(spec)))]
            continue
        kind, low, high = spec
        if kind == "uniform":
            out[name] = float(f"{rng.uniform(low, high):.4g}")
        else:
            value = math.exp(rng.uniform(math.log(low), math.log(high)))
            out[name] = int(round(value)) if kind == "int-log" else float(f"{value:.4g}")
    return out


def ndcg_sum(ids: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Sum over rows of NDCG@k of `ids` (n, <=k; -1 padded) against `relevant` rows."""
    if ids.shape[1] < k:
        ids = np.pad(ids, ((0, 0), (0, k - ids.shape[1])), constant_values=-1)
    hits, n_rel = relevance_hits(ids[:, :k], relevant)
    return float(np.nansum(accuracy_per_user(hits, n_rel, k)["ndcg"]))


def source_ndcg(source: Source, fit: sp.csr_matrix, label: sp.csr_matrix,
                users: np.ndarray, k: int = 10, batch: int = 1024) -> float:
    """Mean NDCG@k of the source's top k over `users` (all have label items)."""
    total = 0.0
    for lo in range(0, len(users), batch):
        u = users[lo: lo + batch]
        ids, _ = source.candidates(u, fit[u], k)
        total += ndcg_sum(ids, label[u], k)
    return total / max(len(users), 1)


def tune_sources(sources: list[Source], fit: sp.csr_matrix, label: sp.csr_matrix,
                 side: SideData, *, trials: int, budget_s: float, max_users: int,
                 seed: int) -> tuple[list[SourceConfig], dict[str, SourceTuning],
                                     dict[str, Source]]:
    """Search each tunable model source's settings; returns the chain's configs with the
    best settings found, every trial, and the best fit of each tuned source (fitted on `fit`,
    so the caller need not fit it again)."""
    rng = np.random.default_rng(seed)
    users = np.flatnonzero(np.diff(label.indptr) > 0)
    if len(users) > max_users:
        users = np.sort(rng.choice(users, max_users, replace=False))
    tunable = [s for s in sources if isinstance(s, ModelSource) and s.config.tune
               and s.config.kind in SPACES and budget_s > 0]
    configs = {s.name: s.config for s in sources}
    report: dict[str, SourceTuning] = {}
    fitted: dict[str, Source] = {}
    started = time.perf_counter()
    for i, source in enumerate(tunable):
        share = (budget_s - (time.perf_counter() - started)) / (len(tunable) - i)
        report[source.name] = tuning = SourceTuning(source.name)
        spent, params = 0.0, dict(source.config.params)
        for number in range(trials):
            if number:
                params = {**source.config.params, **draw(SPACES[source.config.kind], rng)}
            t0 = time.perf_counter()
            candidate = ModelSource(source.config.model_copy(update={"params": params}))
            candidate.fit(fit, side, seed=seed)
            score = source_ndcg(candidate, fit, label, users)
            seconds = time.perf_counter() - t0
            spent += seconds
            tuning.trials.append({"params": params, "ndcg@10": round(score, 5),
                                  "seconds": round(seconds, 2)})
            logger.info("tune source %s trial %d: %s -> ndcg@10 %.4f (%.1f s)", source.name,
                        number + 1, params, score, seconds)
            if not score <= tuning.best_score:  # the first, or better (NaN-safe)
                tuning.best_params, tuning.best_score = dict(params), score
                fitted[source.name] = candidate
            if spent + spent / (number + 1) > share:
                break
        configs[source.name] = source.config.model_copy(update={"params": tuning.best_params})
    return [configs[s.name] for s in sources], report, fitted
