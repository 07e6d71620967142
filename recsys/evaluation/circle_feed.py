"""Evaluating the circle feed against the recency and engagement-popularity orders.

Protocol (docs/feeds.md): the post events are cut in time at their `1 - test_share` quantile.
Everything the feed learns or reads comes from before the cut: the scorer's item vectors (fit
on item events before the cut), friendships made before it, post engagement and who saw what,
and the circle ranker (learned on the last `label_share` of the pre-cut time,
`fit_circle_ranker`). A **query** is a (user, circle) with a first action after the cut on a
post of the circle that existed at the cut, that the user had not acted on and did not write;
its relevant posts are all such posts. Each query ranks every live post of the circle written
before the cut (minus the user's seen and own posts) three ways: the circle feed, newest first
(recency) and most engaged first (engagement popularity). NDCG@10 per query; the paired
bootstrap (`recsys.metrics.ranking.paired_bootstrap`) gives the 95% interval of each
difference.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from recsys.bundle.parts.groups import PostsAndGroups
from recsys.circles import CircleCatalogue
from recsys.contract import EdgeKind
from recsys.datastore import DataDir
from recsys.features.interactions import load_interaction_log, to_csr
from recsys.features.post_engagement import read_post_events, read_post_facts
from recsys.feeds.circle_ranker import candidates_at, seen_or_own
from recsys.feeds.circle_training import features_for, fit_circle_ranker
from recsys.feeds.post_features import build_signals
from recsys.idmap import IdMap
from recsys.metrics import ranking as m
from recsys.recipe import TrainConfig
from recsys.recommenders.shipped import ShippedRecommender
from recsys.social.graph import symmetric_edges

logger = logging.getLogger(__name__)

ORDERS = ("circle_feed", "recency", "popularity")


def friends_before(data: DataDir, users: IdMap, cut_us: int) -> sp.csr_matrix:
    """Friendships made before `cut_us`, symmetric (empty without a social graph)."""
    if not data.has_table("social_edges"):
        return sp.csr_matrix((len(users), len(users)), dtype=np.float32)
    table = data.read_table("social_edges", ["src", "dst", "kind", "ts"])
    keep = pc.and_(pc.equal(table["kind"], EdgeKind.FRIEND.value),
                   pc.less(table["ts"].cast(pa.int64()), cut_us))
    table = table.filter(keep)
    src = users.to_index(table["src"])
    dst = users.to_index(table["dst"])
    ok = (src >= 0) & (dst >= 0)
    return symmetric_edges(src[ok], dst[ok], len(users))


def evaluate_circle_feed(
    data_dir: str,
    *,
    config: TrainConfig | None = None,
    test_share: float = 0.2,
    max_queries: int = 5000,
    k: int = 10,
    seed: int = 0,
    n_resamples: int = 2000,
) -> dict[str, Any]:
    """NDCG@k of the circle feed, recency and engagement popularity on held-out post actions,
    and paired-bootstrap intervals of the feed's differences (see the module docstring)."""
    config = config or TrainConfig()
    data = DataDir(data_dir).check_ingested()
    users = IdMap.load(data.idmap_path("users"))
    items = IdMap.load(data.idmap_path("items"))
    catalogue = CircleCatalogue.from_table(data.read_table("circles"))
    posts = PostsAndGroups.from_data(data, items).posts
    facts = read_post_facts(data, posts, users, items, catalogue)
    events = read_post_events(data, users, posts)
    n_users, n_items, n_circles = len(users), len(items), len(catalogue)
    cut = int(np.quantile(events["ts"].to_numpy(), 1.0 - test_share))
    train_ev, test_ev = events[events["ts"] < cut], events[events["ts"] >= cut]
    log = load_interaction_log(data, users, items, config.interactions)
    log = log[log["ts"] < cut]
    history = to_csr(log, n_users, n_items)
    scorer = ShippedRecommender(config=config).fit(history, show_progress=False)
    item_vectors = np.asarray(scorer.item_vectors_)
    friends = friends_before(data, users, cut)
    fit = fit_circle_ranker(facts, train_ev, log, n_users=n_users, n_items=n_items,
                            n_circles=n_circles, friends=friends, item_vectors=item_vectors,
                            config=config.circle_feed, seed=seed)
    if fit.ranker is None:
        raise ValueError(f"no circle ranker could be learned: {fit.report.get('skipped')}")
    signals = build_signals(facts, train_ev, n_users, n_circles)
    # Queries: (user, circle) with first actions after the cut on candidate posts.
    pairs = test_ev[["user_idx", "post_idx"]].drop_duplicates().to_numpy(np.int64)
    q_users, q_posts = pairs[:, 0], pairs[:, 1]
    ok = (facts.created[q_posts] < cut) & ~facts.deleted[q_posts] & (facts.circle[q_posts] >= 0)
    q_users, q_posts = q_users[ok], q_posts[ok]
    fresh = ~seen_or_own(signals, q_users, q_posts)
    q_users, q_posts = q_users[fresh], q_posts[fresh]
    q_circle = facts.circle[q_posts].astype(np.int64)
    keys, query_of = np.unique(q_users * n_circles + q_circle, return_inverse=True)
    rng = np.random.default_rng(seed)
    chosen = np.arange(len(keys))
    if len(chosen) > max_queries:
        chosen = np.sort(rng.choice(len(keys), max_queries, replace=False))
    per_query = {name: [] for name in ORDERS}
    for c in np.unique(keys[chosen] % n_circles):
        in_c = chosen[keys[chosen] % n_circles == c]
        pool = candidates_at(signals, int(c), cut)
        if not len(pool):
            continue
        for lo in range(0, len(in_c), max(1, 2_000_000 // len(pool))):
            block = in_c[lo: lo + max(1, 2_000_000 // len(pool))]
            values = _rank_block(block, keys, query_of, q_posts, pool, signals, fit.ranker,
                                 n_circles, cut, friends, history, item_vectors, k)
            for name in ORDERS:
                per_query[name].append(values[name])
    ndcg = {name: np.concatenate(v) if v else np.empty(0) for name, v in per_query.items()}
    out: dict[str, Any] = {
        "queries": int(len(ndcg["circle_feed"])),
        "cut_us": cut,
        f"ndcg@{k}": {name: float(np.nanmean(v)) for name, v in ndcg.items()},
        "ranker": fit.report,
    }
    for base in ORDERS[1:]:
        mean, low, high = m.paired_bootstrap(ndcg["circle_feed"], ndcg[base],
                                             n_resamples=n_resamples, seed=seed)
        out[f"vs_{base}"] = {"difference": mean, "low": low, "high": high}
    return out


def _rank_block(
    block: np.ndarray, keys: np.ndarray, query_of: np.ndarray, q_posts: np.ndarray,
    pool: np.ndarray, signals: Any, ranker: Any, n_circles: int, cut: int,
    friends: sp.csr_matrix, history: sp.csr_matrix, item_vectors: np.ndarray, k: int,
) -> dict[str, np.ndarray]:
    """Per-query NDCG@k of the three orders for queries `block` of one circle."""
    n_q, n_p = len(block), len(pool)
    users = np.repeat(keys[block] // n_circles, n_p)
    posts = np.tile(pool, n_q)
    hidden = seen_or_own(signals, users, posts).reshape(n_q, n_p)
    X = features_for(signals, users, posts, now_us=cut, friends=friends, history=history,
                     item_vectors=item_vectors)
    scores = {
        "circle_feed": ranker.score(X).reshape(n_q, n_p),
        "recency": np.tile(signals.facts.created[pool].astype(np.float64), (n_q, 1)),
        "popularity": np.tile(signals.engagement[pool].astype(np.float64), (n_q, 1)),
    }
    # Relevance over local candidate positions.
    position = {int(p): i for i, p in enumerate(pool)}
    local = {int(b): r for r, b in enumerate(block)}
    rows, cols = [], []
    for qi in np.flatnonzero(np.isin(query_of, block)):
        at = position.get(int(q_posts[qi]))
        if at is not None:
            rows.append(local[int(query_of[qi])])
            cols.append(at)
    relevant = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_q, n_p))
    out = {}
    ties = np.broadcast_to(np.arange(n_p), (n_q, n_p))
    for name, s in scores.items():
        s = np.where(hidden, -np.inf, s)
        order = np.lexsort((ties, -s), axis=1)[:, :k]
        order = np.where(np.take_along_axis(hidden, order, axis=1), -1, order)
        hits, n_rel = m.relevance_hits(order, relevant)
        out[name] = m.accuracy_per_user(hits, n_rel, min(k, order.shape[1]))["ndcg"]
    return out
