"""End to end on a generated corpus with planted topics: ALS + content map beat popularity.

Items belong to topics (several per category); a topic has its own words, which appear in
item titles and posts among noise words. Users like two topics and interact mostly with their
items. Cold items' interactions are hidden; their factors come only from their text, so they
can be ranked well only if text -> encoder -> map -> factor space carries the topic.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from recsys.content.cold_start import (
    evaluate_cold_items,
    heldout_interactions,
    place_cold_items,
    split_cold_items,
)
from recsys.content.encoder import ContentEncoder

N_CATEGORIES, TOPICS_PER_CATEGORY, N_ITEMS, N_USERS, PER_USER = 4, 4, 480, 1200, 20


def _world(seed: int = 0):
    rng = np.random.default_rng(seed)
    n_topics = N_CATEGORIES * TOPICS_PER_CATEGORY
    topic = np.sort(rng.integers(0, n_topics, size=N_ITEMS))
    category = topic // TOPICS_PER_CATEGORY
    topic_words = rng.integers(0, 6, size=(N_ITEMS, 6))
    noise_words = rng.integers(0, 300, size=(N_ITEMS, 8))
    docs = [
        " ".join(
            [f"cat{category[i]}"]
            + [f"topic{topic[i]}word{w}" for w in topic_words[i]]
            + [f"noise{w}" for w in noise_words[i]]
        )
        for i in range(N_ITEMS)  # building the list of test texts, not a hot path
    ]
    # Sample items: pick one of the user's two topics, then an item of it by appeal.
    liked = rng.integers(0, n_topics, size=(N_USERS, 2))
    users = np.repeat(np.arange(N_USERS), PER_USER)
    draw_topic = liked[users, rng.integers(0, 2, size=len(users))]
    appeal = rng.lognormal(0.0, 1.0, size=N_ITEMS)
    totals = np.bincount(topic, weights=appeal, minlength=n_topics)
    starts = np.r_[0, np.cumsum(np.bincount(topic, minlength=n_topics))[:-1]]
    within = np.cumsum(appeal) - np.r_[0, np.cumsum(totals)][topic]
    cum = topic + within / totals[topic]  # topic t's items span (t, t+1]
    items = np.searchsorted(cum, draw_topic + rng.random(len(users)))
    items = np.clip(items, starts[draw_topic], N_ITEMS - 1)
    noise = rng.random(len(users)) < 0.1
    items[noise] = rng.integers(0, N_ITEMS, size=int(noise.sum()))
    x = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=(N_USERS, N_ITEMS))
    x.data[:] = 1.0  # repeated draws count once
    return x, docs, category


def _experiment(shuffle_content: bool) -> dict[str, float]:
    x, docs, category = _world()
    train, cold = split_cold_items(x, share=0.15, min_interactions=5, seed=0)
    with threadpool_limits(1, "blas"):  # implicit warns (and slows) with threaded BLAS
        als = AlternatingLeastSquares(
            factors=16, regularization=0.1, alpha=5.0, iterations=8, random_state=0, num_threads=1
        )
        als.fit(train, show_progress=False)
    warm = np.setdiff1d(np.arange(N_ITEMS), cold)
    encoder = ContentEncoder(n_components=24, min_df=2, random_state=0)
    encoder.fit([docs[i] for i in warm])  # new items' texts are unseen when the encoder is fit
    content = encoder.transform(docs)
    if shuffle_content:
        content = content[np.random.default_rng(1).permutation(N_ITEMS)]
    counts = np.bincount(train.indices, minlength=N_ITEMS)
    vectors, _ = place_cold_items(
        als.item_factors, content, cold, alpha=1.0, item_weight=np.log1p(counts)
    )
    return evaluate_cold_items(
        als.user_factors, vectors, heldout_interactions(x, cold), category, counts,
        seen=train, seed=0,
    )


def test_content_mapped_cold_items_beat_category_popularity() -> None:
    m = _experiment(shuffle_content=False)
    assert m["n_pairs"] > 300
    assert m["model_auc"] > 0.8
    assert m["model_auc"] > m["popularity_auc"] + 0.3
    assert m["model_mrr"] > 2 * m["popularity_mrr"]
    assert m["model_hit@10"] > m["popularity_hit@10"]
    assert m["model_auc"] > m["random_auc"] + 0.25


def test_without_text_signal_the_advantage_disappears() -> None:
    """Control: with each item given another item's text, the map has nothing to learn."""
    m = _experiment(shuffle_content=True)
    assert m["model_auc"] < 0.7
    assert m["model_hit@10"] < m["random_hit@10"]
