from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError, UnknownUserError
from recsys.recommenders.bpr import BPRRecommender
from recsys.recommenders.itemknn import ItemKNNRecommender
from tests.recommenders.test_contract import checkerboard


def test_bpr_factors_carry_an_item_bias_column():
    x = checkerboard()
    model = BPRRecommender(factors=4, iterations=5).fit(x, show_progress=False)
    assert model.user_factors_.shape == (40, 5) and model.item_factors_.shape == (20, 5)
    np.testing.assert_array_equal(model.user_factors_[:, -1], 1.0)


def test_bpr_is_reproducible_with_one_thread():
    x = checkerboard()
    a = BPRRecommender(factors=4, iterations=20, random_state=7).fit(x, show_progress=False)
    b = BPRRecommender(factors=4, iterations=20, random_state=7).fit(x, show_progress=False)
    np.testing.assert_allclose(a.item_factors_, b.item_factors_, atol=1e-6)


def test_bpr_refuses_unknown_users_and_empty_data():
    x = checkerboard()
    model = BPRRecommender(factors=4, iterations=5).fit(x, show_progress=False)
    with pytest.raises(UnknownUserError, match="fold-in"):
        model.recommend([-1], x[:1])
    with pytest.raises(ValueError, match="positives"):
        BPRRecommender().fit(sp.csr_matrix((3, 4), dtype=np.float32))
    with pytest.raises(ConfigError, match="learning_rate"):
        BPRRecommender(learning_rate=0)


def test_itemknn_cosine_matches_hand_computation():
    x = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [2, 0, 0]], dtype=np.float32))
    model = ItemKNNRecommender(k=3, num_threads=1).fit(x, show_progress=False)
    dense = x.toarray()
    norms = np.linalg.norm(dense, axis=0)
    expected = (dense.T @ dense) / np.outer(norms, norms)
    np.testing.assert_allclose(model.similarity_.toarray(), expected, rtol=1e-5)
    # user 0 (items 0, 1) scores item 2 by sim(0, 2) + sim(1, 2)
    scores = model._score(np.array([0]), x[:1])
    assert scores[0, 2] == pytest.approx(expected[0, 2] + expected[1, 2], rel=1e-5)


def test_itemknn_keeps_k_neighbours_and_the_weightings_differ():
    x = checkerboard()
    sims = {}
    for similarity in ("cosine", "bm25", "tfidf"):
        model = ItemKNNRecommender(k=4, similarity=similarity, num_threads=1)
        model.fit(x, show_progress=False)
        assert (np.diff(model.similarity_.indptr) <= 4).all()
        sims[similarity] = model.similarity_.toarray()
    assert not np.allclose(sims["cosine"], sims["bm25"])
    assert not np.allclose(sims["cosine"], sims["tfidf"])
    with pytest.raises(ConfigError, match="similarity"):
        ItemKNNRecommender(similarity="jaccard")
