"""Learning the circle ranker from a log: cut, pairs, features, fit.

The same steps serve training (the whole training log) and evaluation (the train split of a
time split): the last `label_share` of the log's time is the label window; post signals, user
tastes (from item events) and engagement are taken from before its cut; `training_pairs` draws
positives and negatives; `pair_features` describes them; `CirclePostRanker` fits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.features.interactions import to_csr
from recsys.features.post_engagement import PostFacts
from recsys.feeds.circle_ranker import CirclePostRanker, training_pairs
from recsys.feeds.feed_config import CircleFeedConfig
from recsys.feeds.post_features import (
    FEATURES,
    PostSignals,
    build_signals,
    pair_features,
    user_tastes,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CircleFit:
    """A fitted ranker (None when the label window is too thin) and what the fit saw."""

    ranker: CirclePostRanker | None
    report: dict[str, object] = field(default_factory=dict)


def features_for(
    signals: PostSignals,
    users: np.ndarray,
    posts: np.ndarray,
    *,
    now_us: int,
    friends: sp.csr_matrix,
    history: sp.csr_matrix,
    item_vectors: np.ndarray,
) -> np.ndarray:
    """`pair_features` of (user, post) pairs of the signals' posts, tastes from `history`."""
    rows, local = np.unique(users, return_inverse=True)
    facts = signals.facts
    return pair_features(
        local, author=facts.author[posts], item=facts.item[posts],
        created=facts.created[posts], engagement=signals.engagement[posts], now_us=now_us,
        friends=_remap_rows(friends, rows), affinity=_remap_rows(signals.author_affinity, rows),
        tastes=user_tastes(history[rows], item_vectors), item_vectors=item_vectors,
    )


def _remap_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    return sp.csr_matrix(matrix[rows])


def fit_circle_ranker(
    facts: PostFacts,
    post_events: pd.DataFrame,
    item_log: pd.DataFrame,
    *,
    n_users: int,
    n_items: int,
    n_circles: int,
    friends: sp.csr_matrix,
    item_vectors: np.ndarray,
    config: CircleFeedConfig,
    seed: int,
) -> CircleFit:
    """The circle ranker learned on the log's label window (see the module docstring).

    Parameters
    ----------
    post_events : events on posts (`read_post_events`).
    item_log : the interaction log (user_idx, item_idx, ts, weight) the tastes come from.
    item_vectors : (n_items, f) the scorer's item vectors.
    """
    if post_events.empty:
        return CircleFit(None, {"skipped": "no events on posts"})
    ts = post_events["ts"].to_numpy()
    cut = int(np.quantile(ts, 1.0 - config.label_share))
    before = post_events[post_events["ts"] < cut]
    later = post_events[post_events["ts"] >= cut]
    signals = build_signals(facts, before, n_users, n_circles)
    rng = np.random.default_rng(seed)
    pairs = training_pairs(signals, later, cut, negatives=config.negatives, rng=rng)
    n_pos = int(pairs.labels.sum())
    report: dict[str, object] = {"cut_us": cut, "positives": n_pos,
                                 "negatives": int(len(pairs.labels) - n_pos)}
    if n_pos < config.min_positives or n_pos == len(pairs.labels):
        report["skipped"] = (f"{n_pos} positive pairs in the label window; "
                             f"{config.min_positives} needed")
        logger.info("circle ranker skipped: %s", report["skipped"])
        return CircleFit(None, report)
    history = to_csr(item_log[item_log["ts"] < cut], n_users, n_items)
    X = features_for(signals, pairs.users, pairs.posts, now_us=cut, friends=friends,
                     history=history, item_vectors=item_vectors)
    ranker = CirclePostRanker(C=config.C).fit(X, pairs.labels)
    report["weights"] = ranker.weights()
    logger.info("circle ranker: %d positives, weights %s", n_pos,
                {f: round(w, 3) for f, w in report["weights"].items()})  # type: ignore[union-attr]
    return CircleFit(ranker, report)


__all__ = ["FEATURES", "CircleFit", "features_for", "fit_circle_ranker"]
