"""The one exclusion rule, on a tiny fitted scorer and hand-made candidates."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.recommenders.itemknn import ItemKNNRecommender
from recsys.runtime import ExclusionRule
from tests.recommenders.test_contract import checkerboard

LISTED = np.array([True, True, False, True, True, True])


def test_keep_drops_delisted_and_purchased_always_and_interacted_by_the_switch() -> None:
    candidates = np.array([0, 1, 2, 3, 4, 5])
    kwargs = {"listed": LISTED, "interacted": np.array([1, 3]), "purchased": np.array([4])}
    assert ExclusionRule().keep(candidates, **kwargs).tolist() == [
        True, False, False, False, False, True]
    assert ExclusionRule(exclude_interacted=False).keep(candidates, **kwargs).tolist() == [
        True, True, False, True, False, True]


def test_recommend_under_the_rule() -> None:
    x = checkerboard()
    model = ItemKNNRecommender(k=20, num_threads=1).fit(x)
    users = np.arange(6)
    rows = x[users]
    # Each user bought the first two items of their history and only viewed the rest.
    bought_rows = np.repeat(np.arange(len(users)), 2)
    bought_cols = np.concatenate([rows[u].indices[:2] for u in range(len(users))])
    purchased = sp.csr_matrix((np.ones(len(bought_rows), np.float32), (bought_rows, bought_cols)),
                              shape=rows.shape)
    unlisted = np.array([1, 12])
    strict, _ = ExclusionRule().recommend(model, users, rows, 20, purchased=purchased,
                                          unlisted=unlisted)
    loose, _ = ExclusionRule(exclude_interacted=False).recommend(
        model, users, rows, 20, purchased=purchased, unlisted=unlisted)
    for u in range(len(users)):
        seen, bought = rows[u].indices, purchased[u].indices
        assert not np.isin(strict[u], seen).any()
        assert not np.isin(loose[u], bought).any()
        assert not np.isin(loose[u], unlisted).any() and not np.isin(strict[u], unlisted).any()
        assert np.isin(loose[u], np.setdiff1d(seen, bought)).any()  # viewed items may return
    # the default is the evaluation protocol: training items out, as Recommender.recommend does
    plain, _ = model.recommend(users, rows, 20, exclude_items=unlisted)
    default, _ = ExclusionRule().recommend(model, users, rows, 20, unlisted=unlisted)
    np.testing.assert_array_equal(default, plain)
