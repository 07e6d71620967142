"""The label fold: the part of the training matrix the ranker learns to predict.

The sources are fitted on the rest, so the ranker sees candidates and scores the way it will
at serving time: made from the past, judged on what came next. With real times the fold is
the latest share of pairs by time ("temporal"); with an order but no global clock (a
sequence position) it is each user's last item ("last"); without times it is a random share
of each user's pairs ("random"). Users with a single pair stay wholly in the fit part.

On more users than `max_fit_users`, the first fit (fold, sources, ranker) runs on a seeded
sample of them (`user_sample`): the ranker learns from a few thousand users' rows anyway.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.feeds.side import SideData

logger = logging.getLogger(__name__)


def resolve_label_split(requested: str, side: SideData) -> str:
    """'auto' -> temporal with real times, last with an order only, else random."""
    if requested == "auto":
        if not side.has_times:
            return "random"
        return "temporal" if side.global_time else "last"
    if requested in ("temporal", "last") and not side.has_times:
        logger.warning("label split %r needs times; the data has none: random instead", requested)
        return "random"
    if requested not in ("temporal", "last", "random"):
        raise ConfigError(f"label_split must be auto, temporal, last or random; got {requested!r}")
    return requested


def label_fold(user_items: sp.csr_matrix, side: SideData, method: str, *, fraction: float,
               seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split `user_items` cell-wise into (fit part, label part), same shape.

    Parameters
    ----------
    method : "temporal", "last" or "random" (see the module docstring).
    fraction : share of pairs in the label part (temporal: of all pairs; random: per user).
    """
    x = sp.csr_matrix(user_items, copy=True)
    x.sort_indices()
    x.eliminate_zeros()
    counts = np.diff(x.indptr)
    rows = np.repeat(np.arange(x.shape[0]), counts)
    rng = np.random.default_rng(seed)
    tie = rng.random(x.nnz)
    if method in ("temporal", "last"):
        t = sp.csr_matrix(side.first_ts)
        t.sort_indices()
        # Times are stored on the same cells; read them cell by cell in x's order.
        times = np.asarray(t[rows, x.indices]).ravel()
    if method == "temporal":
        cut = np.quantile(times, 1.0 - fraction)
        label = times >= cut
        if label.all() or not label.any():
            logger.warning("temporal label fold is degenerate (%d of %d pairs); random instead",
                           int(label.sum()), x.nnz)
            return label_fold(user_items, side, "random", fraction=fraction, seed=seed)
    else:
        key = times if method == "last" else tie
        # Rank each user's pairs, latest (or a random draw) first.
        order = np.lexsort((-tie, -key, rows)) if method == "last" else np.lexsort((key, rows))
        pos = np.empty(x.nnz, np.int64)
        pos[order] = np.arange(x.nnz) - np.repeat(x.indptr[:-1], counts)
        if method == "last":
            n_label = np.where(counts > 1, 1, 0)
        else:
            n_label = np.minimum(np.rint(counts * fraction), counts - 1).astype(np.int64)
        label = pos < n_label[rows]
    # Own index arrays for each: eliminate_zeros works in place.
    fit = sp.csr_matrix((x.data * ~label, x.indices.copy(), x.indptr.copy()), shape=x.shape)
    lab = sp.csr_matrix((x.data * label, x.indices.copy(), x.indptr.copy()), shape=x.shape)
    fit.eliminate_zeros()
    lab.eliminate_zeros()
    logger.info("label fold (%s): %d fit pairs, %d label pairs of %d users", method, fit.nnz,
                lab.nnz, int((np.diff(lab.indptr) > 0).sum()))
    return fit, lab


def user_sample(user_items: sp.csr_matrix, max_users: int, seed: int) -> np.ndarray | None:
    """Sorted rows of a seeded sample of `max_users` users with pairs, or None when no more
    than that many users have pairs (a fit then runs on everyone). Training's validation fit
    samples its users the same way."""
    active = np.flatnonzero(np.diff(user_items.indptr) > 0)
    if len(active) <= max_users:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(active, max_users, replace=False))
