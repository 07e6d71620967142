"""Post signals, pair features and the circle ranker on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.errors import BundleError, InvalidInputError
from recsys.features.post_engagement import PostFacts
from recsys.feeds.circle_ranker import CirclePostRanker, candidates_at, training_pairs
from recsys.feeds.post_features import (
    FEATURES,
    US_PER_DAY,
    build_signals,
    pair_features,
    pair_lookup,
    user_tastes,
)

DAY = US_PER_DAY
# Posts 0-4: circles 0 0 0 1 0; authors 3 4 3 4 3; post 2 deleted.
FACTS = PostFacts(
    circle=np.array([0, 0, 0, 1, 0], np.int32),
    author=np.array([3, 4, 3, 4, 3], np.int64),
    item=np.array([0, -1, 1, 0, -1], np.int64),
    created=np.array([1, 2, 3, 4, 8], np.int64) * DAY,
    deleted=np.array([False, False, True, False, False]),
)


def _events(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    a = np.array(rows, np.int64).reshape(-1, 3)
    return pd.DataFrame({"user_idx": a[:, 0], "post_idx": a[:, 1], "ts": a[:, 2] * DAY})


def test_signals_count_users_seen_posts_and_author_affinity() -> None:
    ev = _events([(0, 0, 5), (0, 0, 6), (1, 0, 5), (0, 1, 5), (2, 3, 6)])
    s = build_signals(FACTS, ev, n_users=5, n_circles=2)
    assert s.engagement.tolist() == [2, 1, 0, 1, 0]
    assert s.user_posts[0, 0] == 2 and s.user_posts[1, 0] == 1
    assert s.author_affinity[0, 3] == 2 and s.author_affinity[0, 4] == 1
    assert s.posts_of(0).tolist() == [4, 1, 0]  # live, newest first
    assert candidates_at(s, 0, 3 * DAY).tolist() == [1, 0]
    assert candidates_at(s, 0, 2 * DAY).tolist() == [0]


def test_pair_lookup_reads_cells_and_skips_missing_columns() -> None:
    m = sp.csr_matrix(np.array([[0, 2.0, 0], [1.0, 0, 3.0]]))
    got = pair_lookup(m, np.array([0, 1, 1, 0, 1]), np.array([1, 2, 1, -1, 0]))
    assert got.tolist() == [2.0, 3.0, 0.0, 0.0, 1.0]


def test_pair_features_by_hand() -> None:
    friends = sp.csr_matrix(np.array([[0, 0, 0, 1, 0]], np.float32))
    affinity = sp.csr_matrix(np.array([[0, 0, 0, 0, 3.0]], np.float32))
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    tastes = user_tastes(sp.csr_matrix(np.array([[2.0, 0.0]])), vectors)
    X = pair_features(np.zeros(2, np.int64), author=np.array([3, 4]), item=np.array([0, -1]),
                      created=np.array([0, 0]), engagement=np.array([9.0, 0.0]),
                      now_us=int(3 * DAY), friends=friends, affinity=affinity,
                      tastes=tastes, item_vectors=vectors)
    f = dict(zip(FEATURES, X[0], strict=True))
    assert f["friend"] == 1 and f["author_affinity"] == 0 and f["item_relevance"] == 1.0
    assert f["has_item"] == 1 and f["log_age_days"] == pytest.approx(np.log1p(3.0))
    assert f["log_engagement"] == pytest.approx(np.log1p(9.0))
    assert f["log_rate"] == pytest.approx(np.log1p(3.0))
    g = dict(zip(FEATURES, X[1], strict=True))
    assert g["friend"] == 0 and g["author_affinity"] == pytest.approx(np.log1p(3.0))
    assert g["item_relevance"] == 0 and g["has_item"] == 0


def test_training_pairs_label_first_actions_on_unseen_posts() -> None:
    before = _events([(0, 0, 5)])
    s = build_signals(FACTS, before, n_users=6, n_circles=2)
    later = _events([(0, 0, 9), (1, 1, 9), (1, 1, 10), (3, 0, 9), (2, 4, 9), (5, 3, 9)])
    pairs = training_pairs(s, later, 9 * DAY, negatives=4, rng=np.random.default_rng(0))
    positives = set(zip(pairs.users[pairs.labels == 1].tolist(),
                        pairs.posts[pairs.labels == 1].tolist(), strict=True))
    # (0, 0) seen before; (3, 0) own post; (2, 4) written at day 8 < cut: kept.
    assert positives == {(1, 1), (2, 4), (5, 3)}
    negatives = pairs.labels == 0
    assert not np.isin(pairs.posts[negatives], [2]).any()  # deleted never drawn
    own = FACTS.author[pairs.posts] == pairs.users
    assert not own.any()


def test_ranker_learns_saves_and_loads(tmp_path) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, len(FEATURES)))
    y = (X[:, 0] + 0.1 * rng.standard_normal(400) > 0).astype(int)
    ranker = CirclePostRanker(C=1.0).fit(X, y)
    assert max(ranker.weights(), key=lambda f: abs(ranker.weights()[f])) == "friend"
    ranker.save(tmp_path)
    again = CirclePostRanker.load(tmp_path)
    assert np.allclose(again.score(X), ranker.score(X))
    assert np.allclose(ranker.contributions(X).sum(axis=1) + ranker.intercept_, ranker.score(X))
    with pytest.raises(InvalidInputError, match="positive and negative"):
        CirclePostRanker().fit(X, np.zeros(400))
    with pytest.raises(BundleError):
        CirclePostRanker.load(tmp_path / "nothing")
