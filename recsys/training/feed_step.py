"""Training's feed steps: the default `tail_weight`, picked on the validation fit, and the
circle feed's part (`build_post_feed`).

The validation fit (`steps.validation_fit`) holds out a random share of each user's
interactions; its scorer ranks each held-out user's top `feed.pool` candidates under the
exclusion rule (the plain order), the long-tail re-ranker re-ranks them at every weight of
`feed.tail_weight_grid`, and the largest weight costing at most `feed.max_ndcg_loss` relative
NDCG@10 is the bundle's default (`metrics.feed.tail_weight`; the feed reads it). The curve goes
into the manifest too (`recsys evaluate` draws it beside the naive boost's).

Users without item history are served a chain (`recsys.runtime.policy`): popularity raised by
their circles, whose min-max scaled scores fall far more steeply than a model's, so the weight
picked on the scorer's users can cost them far more: on synthetic cold users tail_weight 0.18
cost 25% NDCG@10 (0.100 -> 0.075, a development seed). `cold_tail_weight` applies the same
rule to the chain: a sample of users ranked by the chain as if they had no history (their
placed circles, appetite 1) and scored on their interactions (`metrics.feed.cold`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.bundle.parts.post_feed import PostFeed
from recsys.candidate_lists import CandidateLists
from recsys.circles import CircleCatalogue
from recsys.datastore import DataDir
from recsys.features.post_engagement import read_post_events, read_post_facts
from recsys.feeds.circle_ranker import CirclePostRanker
from recsys.feeds.circle_training import fit_circle_ranker
from recsys.feeds.long_tail import ExposurePriors
from recsys.feeds.post_features import build_signals
from recsys.feeds.tail_weight import pick_tail_weight, tail_curve
from recsys.idmap import IdMap
from recsys.item_stats import head_mask
from recsys.recipe import TrainConfig
from recsys.runtime.policy import RuntimePolicy, circle_chain, global_chain, placed_circles

logger = logging.getLogger(__name__)

K = 10
#: Users the chain's tail weight is picked on (a seeded sample of users with history).
COLD_USERS = 2_000


def tail_weight_on_validation(
    ids: np.ndarray,
    scores: np.ndarray,
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    users: np.ndarray,
    *,
    is_group_buy: np.ndarray,
    config: TrainConfig,
) -> dict[str, object]:
    """`metrics.feed`: the picked tail weight and its validation curve.

    Parameters
    ----------
    ids, scores : (n, feed.pool) the held-out users' candidates in the plain order: the
        validation fit's ranking under the exclusion rule, delisted and cold-start items
        hidden.
    train, test : (n_users, n_items) the fit's confidence and the held-out cells.
    users : the held-out users measured (rows of both).
    """
    feed = config.feed
    popularity = np.asarray(train.sum(axis=0)).ravel()
    is_tail = ~head_mask(popularity, config.lists.head_share)
    priors = ExposurePriors.from_popularity(popularity, is_tail, is_group_buy,
                                            strength=feed.tail_prior_strength)
    relevant = test[users]
    ours = tail_curve(ids, scores, relevant, priors.for_users(train[users]),
                      feed.tail_weight_grid, k=K)
    picked = _pick(ours, config, "tail_weight %.2f: validation")
    return {
        "tail_weight": picked,
        "max_ndcg_loss": feed.max_ndcg_loss,
        "users": int(len(users)),
        "candidates": int(ids.shape[1]),
        "curve": ours,
    }


def _pick(curve: list[dict[str, float]], config: TrainConfig, what: str) -> float:
    """The largest weight of `curve` within `feed.max_ndcg_loss`, logged against the plain
    order (`what`: the log line's opening, with a %.2f for the weight)."""
    picked = pick_tail_weight(curve, max_loss=config.feed.max_ndcg_loss, k=K)
    at = next(p for p in curve if p["tail_weight"] == picked)
    logger.info(
        what + " NDCG@10 %.4f (plain %.4f), long-tail share@10 %.3f (plain %.3f)", picked,
        at[f"ndcg@{K}"], curve[0][f"ndcg@{K}"], at[f"long_tail_share@{K}"],
        curve[0][f"long_tail_share@{K}"],
    )
    return picked


def cold_tail_weight(
    lists: CandidateLists,
    affinities: np.ndarray,
    members: np.ndarray,
    user_items: sp.csr_matrix,
    *,
    listed: np.ndarray,
    is_group_buy: np.ndarray,
    config: TrainConfig,
    policy: RuntimePolicy | None = None,
) -> dict[str, object]:
    """`metrics.feed.cold`: the tail weight for users the chain serves, and its curve.

    Users with history stand in for cold ones: each is ranked by the chain their placed
    circles give (the global chain when none), with no history excluded and the appetites of
    a user without history (1), and scored on their interactions. Their affinities were
    learned from those interactions, so the chain's accuracy here is optimistic; what the
    pick reads is how much accuracy each weight costs relative to the chain's own.
    """
    feed, policy = config.feed, policy or RuntimePolicy()
    n_items = user_items.shape[1]
    with_history = np.flatnonzero(np.diff(user_items.indptr) > 0)
    rng = np.random.default_rng(config.seed)
    users = np.sort(rng.choice(with_history, min(COLD_USERS, len(with_history)), replace=False))
    listed = np.asarray(listed, dtype=bool)

    def keep(candidates: np.ndarray) -> np.ndarray:
        return listed[candidates]

    pool = min(feed.pool, n_items)
    ids = np.full((len(users), pool), -1, dtype=np.int64)
    scores = np.zeros((len(users), pool))
    for row, u in enumerate(users):
        affinity = np.asarray(affinities[u], dtype=np.float64)
        placed = placed_circles(members[u], affinity)
        if len(placed):
            items, item_scores, _ = circle_chain(placed, affinity, [""] * len(affinity), lists,
                                                 keep, pool, circle_boost=policy.circle_boost)
        else:
            items, item_scores, _ = global_chain(lists, keep, pool)
        ids[row, : len(items)], scores[row, : len(items)] = items, item_scores
    priors = ExposurePriors.from_lists(lists, is_group_buy, strength=feed.tail_prior_strength)
    relevant = (user_items[users] > 0).astype(np.float32)
    no_history = sp.csr_matrix((len(users), n_items), dtype=np.float32)
    curve = tail_curve(ids, scores, relevant, priors.for_users(no_history),
                       feed.tail_weight_grid, k=K)
    picked = _pick(curve, config, "cold tail_weight %.2f: the chain's")
    return {"tail_weight": picked, "users": int(len(users)), "candidates": pool,
            "curve": curve}


def build_post_feed(
    data: DataDir,
    users: IdMap,
    items: IdMap,
    posts: IdMap,
    catalogue: CircleCatalogue,
    *,
    log: pd.DataFrame | None,
    friends: sp.csr_matrix,
    item_vectors: np.ndarray,
    config: TrainConfig,
    ranker: CirclePostRanker | None = None,
) -> tuple[PostFeed, dict[str, object]]:
    """The circle feed's part: post signals over every event, and the ranker learned on the
    log's label window (`recsys.feeds.circle_training`); `log` None keeps `ranker` as given
    (a refresh keeps its parent's)."""
    facts = read_post_facts(data, posts, users, items, catalogue)
    events = read_post_events(data, users, posts)
    report: dict[str, object] = {"posts": len(facts), "post_events": int(len(events))}
    if log is not None:
        fit = fit_circle_ranker(
            facts, events, log, n_users=len(users), n_items=len(items),
            n_circles=len(catalogue), friends=friends, item_vectors=item_vectors,
            config=config.circle_feed, seed=config.seed,
        )
        ranker = fit.ranker
        report.update(fit.report)
    signals = build_signals(facts, events, len(users), len(catalogue))
    return PostFeed(signals, ranker), report
