"""Share-targeting evaluation: hand-computed metrics, leak-free splits, one small full run."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.evaluation.share_splits import edge_holdout, split_groups
from recsys.evaluation.share_targeting import (
    METHODS,
    brier,
    evaluate_share_targeting,
    ranking_metrics,
    reliability,
)
from recsys.social.share_targeting import ShareTargetingConfig
from tests.social.conftest import make_history


def test_ranking_metrics_by_hand() -> None:
    # Query 0 ranks friends 5 > 6 > 7, friend 6 joined; query 1 ranks 8 > 9, nobody among
    # them joined but friend 3 did (removed by a rule): it still counts against the method.
    row = np.array([0, 0, 0, 1, 1])
    friend = np.array([5, 6, 7, 8, 9])
    score = np.array([3.0, 2.0, 1.0, 2.0, 1.0])
    joined = sp.csr_matrix(([1.0, 1.0], ([0, 1], [6, 3])), shape=(2, 10))
    m = ranking_metrics(row, friend, score, joined, tiebreak=np.zeros(5))
    assert m["recall@5"] == pytest.approx(0.5)
    assert m["mrr"] == pytest.approx(0.25)  # (1/2 + 0) / 2
    assert m["ndcg@10"] == pytest.approx((1 / np.log2(3)) / 2)
    assert m["queries"] == 2


def test_brier_and_reliability() -> None:
    assert brier(np.array([0.2, 0.8]), np.array([0, 1])) == pytest.approx(0.04)
    p, o, n = reliability(np.array([0.05, 0.07, 0.95]), np.array([0, 1, 1]), n_bins=10)
    assert n[0] == 2 and n[9] == 1 and o[0] == 0.5 and p[9] == pytest.approx(0.95)


def test_time_split_never_shows_test_outcomes() -> None:
    h = make_history(n_groups=300)
    task = split_groups(h, test_share=0.2, valid_share=0.2)
    cut = task.test[0].time.min()
    assert task.history.group_created.max() < cut and task.history.join_ts.max() < cut
    assert (task.test[0].group == -1).all()
    assert len(task.test[0]) == 60 and task.test[1].nnz > 0
    # Validation is the newest part of what is known.
    assert task.valid[0].time.min() >= task.train[0].time.max()


def test_edge_holdout_hides_edges_and_validates_on_other_friends() -> None:
    h = make_history()
    task = edge_holdout(h, test_share=0.2, label_share=0.2, valid_share=0.3, seed=1)
    kept = set((task.history.event_user * h.n_items + task.history.event_item).tolist())
    for queries, joined in (task.train, task.valid, task.test):
        q, f = joined.nonzero()
        assert not kept & set((f * h.n_items + queries.item[q]).tolist())
    train_friends = set(task.train[1].nonzero()[1].tolist())
    valid_friends = set(task.valid[1].nonzero()[1].tolist())
    assert not train_friends & valid_friends


def test_full_run_on_the_tiny_world() -> None:
    task = split_groups(make_history(n_groups=400), test_share=0.25, valid_share=0.2)
    config = ShareTargetingConfig(n_estimators=40, min_child_samples=5, num_leaves=7)
    r = evaluate_share_targeting(task, config, seed=0)
    assert set(r.metrics) == {"exclusion_off", "exclusion_on"}
    off = r.metrics["exclusion_off"]
    assert set(off) == set(METHODS)
    # The close friend joins 80% of the time: the ranker and tie strength find it.
    assert off["model"]["recall@5"] > off["random"]["recall@5"] + 0.1
    assert off["tie_strength"]["recall@5"] > off["random"]["recall@5"]
    c = r.completion
    assert c["brier_model"] <= c["brier_base_rate"] + 0.02
