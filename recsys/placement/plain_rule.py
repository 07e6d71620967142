"""The plain rule every placement must beat, the activity bands it is judged in, and the
share threshold of the no-posts fallback chosen on held-out history.

The plain rule: a user is a member of the circles whose share of their item events is at least
0.15. No labels, no tuning: the manifest reports it by this name beside every tuned variant.
A learned placer has lost to it for heavy users on unseen data, so placement is scored (and
its model-or-rule switch chosen) per band of item events: < 5, 5-19, 20-39, 40+.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.placement.features import row_shares

PLAIN_RULE_NAME = "plain_rule_item_share_0.15"
PLAIN_RULE_THRESHOLD = 0.15
PLAIN_RULE_KIND = "item_events"
#: Lower edges of the activity bands after the first (item events per user).
BAND_EDGES: tuple[int, ...] = (5, 20, 40)
BAND_NAMES: tuple[str, ...] = ("items_lt5", "items_5_19", "items_20_39", "items_40plus")
#: Candidate thresholds of the no-posts fallback.
SHARE_GRID: tuple[float, ...] = tuple(np.round(np.arange(0.05, 0.51, 0.025), 3))


def plain_rule_members(
    item_events: sp.spmatrix | np.ndarray, threshold: float = PLAIN_RULE_THRESHOLD
) -> np.ndarray:
    """(n_users, n_circles) bool: circles with at least `threshold` of the user's item events
    (users without item events get none)."""
    return row_shares(item_events) >= threshold


def item_event_totals(engagement: Mapping[str, sp.spmatrix]) -> np.ndarray:
    """(n_users,) item events per user (the activity the bands are cut on)."""
    return np.asarray(sp.csr_matrix(engagement[PLAIN_RULE_KIND]).sum(axis=1)).ravel()


def activity_band(totals: np.ndarray) -> np.ndarray:
    """(n,) int band index of each activity total (`BAND_NAMES` order)."""
    return np.searchsorted(np.asarray(BAND_EDGES), np.asarray(totals), side="right")


def placement_subsets(
    engagement: Mapping[str, sp.spmatrix], labelled: np.ndarray
) -> dict[str, np.ndarray]:
    """The user subsets placement is reported on: no UGC, labelled, unlabelled and each band."""
    ugc = (
        sp.csr_matrix(engagement["posts_written"]).getnnz(axis=1)
        + sp.csr_matrix(engagement["posts_engaged"]).getnnz(axis=1)
    ) > 0
    band = activity_band(item_event_totals(engagement))
    labelled = np.asarray(labelled, bool)
    subsets = {"no_ugc": ~ugc, "labelled": labelled, "unlabelled": ~labelled}
    subsets |= {name: band == b for b, name in enumerate(BAND_NAMES)}
    return subsets


def choose_share_threshold(
    history: sp.spmatrix,
    *,
    holdout: float = 0.2,
    grid: Sequence[float] = SHARE_GRID,
    random_state: int = 0,
) -> tuple[float, dict[float, float]]:
    """The share threshold of the history rule that best predicts held-out history.

    Each user's circle counts are split at random (binomially, `holdout` of the events held
    out); members from the kept part's shares at each threshold of `grid` are scored by
    micro F1 against the circles of the held-out part, over users with events on both sides.
    Needs no labels: the fallback of data without posts.

    Returns
    -------
    the best threshold and {threshold: micro F1} over the grid.
    """
    counts = sp.csr_matrix(history, dtype=np.float64)
    counts.eliminate_zeros()
    rng = np.random.default_rng(random_state)
    held = counts.copy()
    held.data = rng.binomial(counts.data.astype(np.int64), holdout).astype(np.float64)
    kept = counts - held
    held.eliminate_zeros()
    kept.eliminate_zeros()
    users = np.flatnonzero((held.getnnz(axis=1) > 0) & (kept.getnnz(axis=1) > 0))
    if not len(users):
        raise InvalidInputError("no user has enough history to hold part of it out")
    shares = row_shares(kept[users])
    truth = held[users].toarray() > 0
    scores = {}
    for t in grid:
        pred = shares >= t
        tp = np.count_nonzero(pred & truth)
        denominator = np.count_nonzero(pred) + np.count_nonzero(truth)
        scores[float(t)] = 2 * tp / denominator if denominator else 0.0
    best = max(scores, key=lambda t: (scores[t], -t))
    return best, scores
