"""How good segments are, on held-out purchases: the segment scorer against two rules.

Everything is ranked at the back-test's cut, with what was known then (the back-test part):

- ``segment``: the segment scorer over the back-test fit's vectors (what `Segmenter` serves);
- ``rule``: users who bought in the target's categories before the cut, then those who bought
  in its circles, each by how many such purchases, ties by activity (the targeting a merchant
  would do by hand);
- ``most_active``: users by their number of events before the cut.

The truth is who bought the target's items after the cut. With `exclude_buyers`, users who
bought them before the cut are out of every ranking and of the truth. Measures: precision@k,
recall@k and average precision over the full ranking (a positive the method cannot rank adds 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.bundle.parts.backtest import Backtest
from recsys.segments.reach import positive_ranks
from recsys.segments.scope import buyers_of
from recsys.segments.scorer import Query, SegmentScorer

METHODS = ("segment", "rule", "most_active")


@dataclass(frozen=True)
class TargetSpec:
    """A target to measure: its kind ("item", "category" or "seed"), name and items.

    For a seed target, `seeds` are the look-alike's seed users and the truth is later buyers
    of `items` who are not seeds.
    """

    kind: str
    name: str
    items: np.ndarray
    seeds: np.ndarray | None = None


def average_precision(ranks: np.ndarray, n_positives: int) -> float:
    """AP of sorted 0-based `ranks` of the ranked positives over `n_positives` in all."""
    if n_positives == 0:
        return float("nan")
    return float(np.sum(np.arange(1, len(ranks) + 1) / (ranks + 1.0)) / n_positives)


def rule_scores(
    backtest: Backtest, item_category: np.ndarray, item_circle: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """(n_users,) float64: same-category purchases, then same-circle ones, then activity."""
    n = backtest.n_items
    category, circle = item_category[:n], item_circle[:n]
    in_category = np.isin(category, np.unique(category[items])).astype(np.float64)
    circles = np.unique(circle[items])
    in_circle = np.isin(circle, circles[circles >= 0]).astype(np.float64)
    bought = sp.csr_matrix(backtest.bought_before, dtype=np.float64)
    activity = np.asarray(backtest.user_events, np.float64)
    return (
        (bought @ in_category) * 1e9
        + (bought @ in_circle) * 1e5
        + activity / (activity.max() + 1.0)
    )


def measure(
    backtest: Backtest,
    scorer: SegmentScorer,
    target: TargetSpec,
    item_category: np.ndarray,
    item_circle: np.ndarray,
    *,
    exclude_buyers: bool,
    k: int,
    future: sp.csr_matrix | None = None,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """precision@k, recall@k and AP of every method for one target (`scorer` fitted on the
    back-test's vectors; `future` replaces `backtest.bought_after` as the truth). Ties are
    broken at random (`seed`), the same way for every method."""
    truth_matrix = backtest.bought_after if future is None else future
    eligible = np.ones(backtest.n_users, dtype=bool)
    if exclude_buyers:
        eligible &= ~buyers_of(backtest.bought_before, target.items)
    if target.seeds is not None:
        eligible[target.seeds] = False
    positives = np.flatnonzero(buyers_of(truth_matrix, target.items) & eligible)
    if target.seeds is not None:
        query = Query("seeds", target.seeds)
    else:
        weights = None if target.kind == "item" else backtest.item_users[target.items]
        query = Query("items", target.items, weights)
    rankings = {
        "segment": scorer.scores(query).astype(np.float64),
        "rule": rule_scores(backtest, item_category, item_circle, target.items),
        "most_active": np.asarray(backtest.user_events, np.float64).copy(),
    }
    out: dict[str, dict[str, float]] = {}
    for method, scores in rankings.items():
        scores[~eligible] = -np.inf
        ranks = positive_ranks(scores, positives, np.random.default_rng(seed))
        hits = int(np.searchsorted(ranks, k, side="left"))
        out[method] = {
            "precision": hits / k,
            "recall": hits / len(positives) if len(positives) else float("nan"),
            "ap": average_precision(ranks, len(positives)),
            "positives": float(len(positives)),
        }
    return out


def bootstrap_mean(values: np.ndarray, *, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean of `values` (targets resampled with replacement)."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(reps, len(values)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)
