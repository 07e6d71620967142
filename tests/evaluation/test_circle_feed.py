"""The circle feed's evaluation protocol on a small synthetic sample (numbers in bench/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recsys.datastore import DataDir
from recsys.evaluation.circle_feed import evaluate_circle_feed, friends_before
from recsys.idmap import IdMap


def test_the_protocol_runs_and_reports_paired_intervals(small_bundle: dict[str, Path]) -> None:
    result = evaluate_circle_feed(str(small_bundle["data"]), max_queries=300, n_resamples=200)
    assert result["queries"] > 20
    ndcg = result["ndcg@10"]
    assert set(ndcg) == {"circle_feed", "recency", "popularity"}
    assert all(0.0 <= v <= 1.0 for v in ndcg.values())
    for base in ("recency", "popularity"):
        diff = result[f"vs_{base}"]
        assert diff["low"] <= diff["difference"] <= diff["high"]
        assert np.isclose(diff["difference"], ndcg["circle_feed"] - ndcg[base], atol=1e-9)
    assert set(result["ranker"]["weights"]) >= {"friend", "item_relevance", "log_engagement"}


def test_friendships_after_the_cut_are_left_out(small_bundle: dict[str, Path]) -> None:
    data = DataDir(small_bundle["data"])
    users = IdMap.load(data.idmap_path("users"))
    early = friends_before(data, users, cut_us=1_600_000_000_000_000)
    late = friends_before(data, users, cut_us=2_000_000_000_000_000)
    assert early.nnz < late.nnz and (early != early.T).nnz == 0
