"""What the circle feed knows about a (user, post) pair, as a feature matrix.

`PostSignals` are the arrays built once from the posts and the events on them (what a bundle
stores for the circle feed); `pair_features` turns any batch of (user, post) pairs into the
ranker's features, the same function for training, evaluation and a served page:

| feature | meaning |
|---|---|
| ``friend`` | the author is the user's friend |
| ``author_affinity`` | log1p of the user's events on the author's posts |
| ``item_relevance`` | cosine of the post's item vector and the user's taste (0: no item) |
| ``has_item`` | the post names an item |
| ``log_age_days`` | log1p of the post's age in days at the time asked |
| ``log_engagement`` | log1p of the distinct users who acted on the post |
| ``log_rate`` | log1p of those users per day since the post was written |

A user's taste is the confidence-weighted mean of their history items' unit vectors
(the scorer's item vectors), itself scaled to unit length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.features.post_engagement import PostFacts

FEATURES: tuple[str, ...] = (
    "friend", "author_affinity", "item_relevance", "has_item", "log_age_days",
    "log_engagement", "log_rate",
)
US_PER_DAY = 86_400 * 1_000_000


@dataclass(frozen=True)
class PostSignals:
    """Posts and engagement, built once (`build_signals`).

    Attributes
    ----------
    facts : each post's circle, author, item, created time, deleted flag.
    engagement : (n_posts,) float32 distinct users who acted on the post.
    user_posts : (n_users, n_posts) CSR, events of each user on each post (what they saw).
    author_affinity : (n_users, n_users) CSR, events of each user on each author's posts.
    circle_offsets, circle_posts : per circle the live (not deleted) posts, newest first:
        ``circle_posts[circle_offsets[c]:circle_offsets[c + 1]]``.
    """

    facts: PostFacts
    engagement: np.ndarray
    user_posts: sp.csr_matrix
    author_affinity: sp.csr_matrix
    circle_offsets: np.ndarray
    circle_posts: np.ndarray

    def posts_of(self, circle: int) -> np.ndarray:
        """Live posts of one circle, newest first."""
        return np.asarray(self.circle_posts[self.circle_offsets[circle]:
                                            self.circle_offsets[circle + 1]])


def build_signals(facts: PostFacts, events: pd.DataFrame, n_users: int,
                  n_circles: int) -> PostSignals:
    """Signals from post facts and the events on posts (`read_post_events`)."""
    n_posts = len(facts)
    users = events["user_idx"].to_numpy(np.int64)
    posts = events["post_idx"].to_numpy(np.int64)
    ones = np.ones(len(users), np.float32)
    user_posts = sp.csr_matrix((ones, (users, posts)), shape=(n_users, n_posts))
    user_posts.sum_duplicates()
    engagement = np.bincount(user_posts.indices, minlength=n_posts).astype(np.float32)
    authors = facts.author[posts] if len(posts) else posts
    known = authors >= 0
    affinity = sp.csr_matrix((ones[known], (users[known], authors[known])),
                             shape=(n_users, n_users))
    affinity.sum_duplicates()
    live = np.flatnonzero(~facts.deleted & (facts.circle >= 0))
    order = live[np.lexsort((live, -facts.created[live], facts.circle[live]))]
    counts = np.bincount(facts.circle[order], minlength=n_circles)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return PostSignals(facts, engagement, user_posts, affinity, offsets, order.astype(np.int64))


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def user_tastes(history: sp.csr_matrix, item_vectors: np.ndarray) -> np.ndarray:
    """(n, f) float32 unit taste vectors of history rows (zero rows for no history).

    Only the items the rows name are normalised when they are few (a served page's one row:
    normalising all 100k item vectors per call took ~17 ms)."""
    x = sp.csr_matrix(history, dtype=np.float32)
    cols = np.unique(x.indices)
    if 4 * len(cols) < x.shape[1]:
        unit_items = _unit(np.asarray(item_vectors[cols], dtype=np.float32))
        return _unit(np.asarray(x[:, cols] @ unit_items, dtype=np.float32))
    unit_items = _unit(np.asarray(item_vectors, dtype=np.float32))
    return _unit(np.asarray(x @ unit_items))


def pair_lookup(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """matrix[rows[i], cols[i]] for every i (0 where absent or a column is -1), vectorised;
    reads only the rows asked for (a served page asks for one)."""
    out = np.zeros(len(rows), dtype=np.float64)
    ok = cols >= 0
    if not ok.any() or not matrix.nnz:
        return out
    wanted_rows, local = np.unique(rows[ok], return_inverse=True)
    sub = sp.csr_matrix(matrix[wanted_rows])
    sub.sort_indices()
    n_cols = np.int64(sub.shape[1])
    row_of = np.repeat(np.arange(sub.shape[0], dtype=np.int64), np.diff(sub.indptr))
    keys = row_of * n_cols + sub.indices.astype(np.int64)
    if not len(keys):
        return out
    want = local.astype(np.int64) * n_cols + cols[ok].astype(np.int64)
    at = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    hit = keys[at] == want
    values = np.zeros(len(want))
    values[hit] = np.asarray(sub.data)[at[hit]]
    out[ok] = values
    return out


def pair_features(
    users: np.ndarray,
    *,
    author: np.ndarray,
    item: np.ndarray,
    created: np.ndarray,
    engagement: np.ndarray,
    now_us: int,
    friends: sp.csr_matrix,
    affinity: sp.csr_matrix,
    tastes: np.ndarray,
    item_vectors: np.ndarray,
) -> np.ndarray:
    """(n_pairs, len(FEATURES)) float64 features of (user, post) pairs.

    Parameters
    ----------
    users : (n,) row index of each pair's user into `friends`, `affinity` and `tastes`.
    author, item, created, engagement : (n,) the pair's post (author -1: unknown; item -1:
        none), as `PostSignals` or a live post gives them.
    friends, affinity : CSR over the users' rows and author columns.
    tastes : (n_rows, f) unit taste vectors (`user_tastes`).
    item_vectors : (n_items, f) the scorer's item vectors.
    """
    users = np.asarray(users, dtype=np.int64)
    author = np.asarray(author, dtype=np.int64)
    item = np.asarray(item, dtype=np.int64)
    friend = pair_lookup(friends, users, author) > 0
    affinity_n = pair_lookup(affinity, users, author)
    has_item = item >= 0
    relevance = np.zeros(len(users))
    if has_item.any():
        vectors = _unit(np.asarray(item_vectors[item[has_item]], dtype=np.float32))
        relevance[has_item] = np.einsum("ij,ij->i", vectors,
                                        np.asarray(tastes, np.float32)[users[has_item]])
    age_days = np.maximum(now_us - np.asarray(created, np.int64), 0) / US_PER_DAY
    engaged = np.asarray(engagement, dtype=np.float64)
    return np.column_stack([
        friend.astype(np.float64),
        np.log1p(affinity_n),
        relevance,
        has_item.astype(np.float64),
        np.log1p(age_days),
        np.log1p(engaged),
        np.log1p(engaged / np.maximum(age_days, 1.0)),
    ])
