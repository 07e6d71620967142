"""ML-1M sanity check: our metrics and baselines land where the literature says.

Reference (ReSN's ML-1M split, full ranking, training items excluded): most-popular NDCG@10
~0.20 / Recall@10 ~0.19, EASE ~0.43 / ~0.41. Far off means a metric or split bug.
"""

from __future__ import annotations

import pytest

from recsys.evaluation.evaluate import evaluate_model
from recsys.evaluation.fixed_split import read_fixed_split
from recsys.recommenders.ease import EASERecommender
from recsys.recommenders.popularity import PopularityRecommender
from tests.conftest import shared_dataset

pytestmark = pytest.mark.datasets


def test_popularity_and_ease_match_reference() -> None:
    root = shared_dataset("movielens_1m")
    split = read_fixed_split(root / "train.txt", root / "test.txt")
    assert split.train.shape == (6040, 3706)
    assert (split.train.nnz, split.test.nnz) == (800_167, 200_042)

    popularity = PopularityRecommender().fit(split.train)
    pop = evaluate_model(popularity, split.train, split.test, ks=(10,))
    assert pop["n_users"] == 6039  # one user has no test items
    assert pop["ndcg@10"] == pytest.approx(0.20, abs=0.02)
    assert pop["recall@10"] == pytest.approx(0.19, abs=0.02)

    ease = EASERecommender(l2=500.0).fit(split.train)
    res = evaluate_model(ease, split.train, split.test, ks=(10,))
    assert res["ndcg@10"] == pytest.approx(0.43, abs=0.03)
    assert res["recall@10"] == pytest.approx(0.41, abs=0.03)
    assert res["coverage@10"] > 5 * pop["coverage@10"]
