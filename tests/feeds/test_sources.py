"""Sources, merging and the label fold on hand-made matrices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.feeds.config import SourceConfig
from recsys.feeds.folds import label_fold, resolve_label_split
from recsys.feeds.side import SideData
from recsys.feeds.sources import (
    CircleTrendingSource,
    ContentSource,
    FriendsSource,
    ModelSource,
    build_sources,
    merge_candidates,
)

# 3 users x 5 items.
X = sp.csr_matrix(np.array([[1, 1, 0, 0, 0],
                            [0, 1, 1, 0, 0],
                            [0, 0, 0, 1, 0]], dtype=np.float32))


def test_merge_candidates_unions_rows_without_repeats():
    a = np.array([[3, 1, -1], [2, 2, 0]])
    b = np.array([[1, 4], [-1, -1]])
    merged = merge_candidates([a, b])
    np.testing.assert_array_equal(merged, [[1, 3, 4], [0, 2, -1]])


def test_friends_source_counts_friends_who_engaged():
    friends = sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 0], [0, 0, 0]], dtype=np.float32))
    source = FriendsSource(SourceConfig(name="f", kind="friends", n=2))
    source.fit(X, SideData(friends=friends).checked(3, 5))
    np.testing.assert_array_equal(source.scores(np.arange(3), X),
                                  [[0, 1, 1, 1, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]])
    ids, scores = source.candidates(np.array([0]), X[:1], 2)  # seen items 0, 1 filtered
    assert ids[0].tolist() == [2, 3] and scores[0].tolist() == [1, 1]


def test_circle_trending_weights_trend_by_the_users_circle_share():
    side = SideData(item_circle=np.array([0, 0, 1, 1, 1])).checked(3, 5)
    source = CircleTrendingSource(SourceConfig(name="c", kind="circle_trending"))
    scores = source.fit(X, side).scores(np.arange(3), X)
    # No times: the trend is log popularity; user 0 is all circle 0, user 2 all circle 1.
    pop = np.log1p([1, 2, 1, 1, 0])
    np.testing.assert_allclose(scores[0], [pop[0], pop[1], 0, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(scores[2], [0, 0, pop[2], pop[3], 0], rtol=1e-6)


def test_content_source_scores_items_like_the_users_items():
    content = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1]], dtype=np.float32)
    source = ContentSource(SourceConfig(name="t", kind="content"))
    scores = source.fit(X, SideData(item_content=content).checked(3, 5)).scores(np.arange(3), X)
    assert scores[0].argmax() in (0, 1) and scores[2][2] == pytest.approx(1.0)
    assert scores[1][4] == pytest.approx(1.0)  # user 1's profile is (1, 1) / sqrt 2


def test_sources_without_their_side_data_are_left_out_with_a_reason():
    configs = (SourceConfig(name="ease", kind="ease", n=3),
               SourceConfig(name="friends", kind="friends", n=3),
               SourceConfig(name="content", kind="content", n=3))
    sources, skipped = build_sources(configs, SideData(), n_items=5, ease_max_items=10)
    assert [s.name for s in sources] == ["ease"] and set(skipped) == {"friends", "content"}
    with pytest.raises(ConfigError, match="ease_max_items"):  # EASE was the only proposer
        build_sources(configs, SideData(), n_items=50, ease_max_items=10)


def test_model_source_wraps_a_registered_recommender(tmp_path):
    source = ModelSource(SourceConfig(name="pop", kind="popularity", n=2))
    source.fit(X, SideData())
    ids, _ = source.candidates(np.arange(3), X, 2)
    assert ids[2].tolist() == [1, 0]  # item 1 has two users; ties by lower index
    source.save(tmp_path / "pop")
    again = ModelSource(source.config)
    again.load_state(tmp_path / "pop")
    np.testing.assert_array_equal(again.scores(np.arange(3), X), source.scores(np.arange(3), X))


def test_label_folds_by_time_by_last_item_and_at_random():
    x = sp.csr_matrix(np.ones((4, 6), np.float32))
    times = sp.csr_matrix(np.tile(np.arange(1, 7, dtype=np.float64), (4, 1)) +
                          np.arange(4)[:, None] * 10)
    side = SideData(first_ts=times).checked(4, 6)
    fit, lab = label_fold(x, side, "last", fraction=0.2, seed=0)
    assert lab.nnz == 4 and (lab.indices == 5).all()  # each user's latest item
    fit, lab = label_fold(x, side, "temporal", fraction=0.25, seed=0)
    assert (fit + lab).nnz == 24 and times.multiply(lab).data.min() > times.multiply(fit).data.max()
    fit, lab = label_fold(x, side, "random", fraction=0.34, seed=0)
    assert np.diff(lab.indptr).tolist() == [2, 2, 2, 2] and fit.nnz == 16
    assert resolve_label_split("auto", side) == "temporal"
    assert resolve_label_split("auto", SideData()) == "random"
    ordered = SideData(first_ts=times, global_time=False).checked(4, 6)
    assert resolve_label_split("auto", ordered) == "last"
