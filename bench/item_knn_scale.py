"""Benchmark: can `recsys train` afford the item-kNN half of the shipped blend at platform scale?

    .venv/bin/python bench/item_knn_scale.py --users 1000000 --items 100000 --events 10000000
    .venv/bin/python bench/item_knn_scale.py --similarity rp3beta --k 100   # RP3beta's blocks

Builds a (users x items) confidence matrix with the skew of `bench/interactions_bench.py`
(popularity head on items and users, seed 0), then times the item-kNN fit of the shipped
scorer (`ItemKNNRecommender` with the recipe's `[item_knn]`, what `ShippedRecommender.fit`
runs) and the blended scoring of a batch of users as the scorer does it. Prints one JSON
line; `bench/results/datasets.md` records a run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import time

import numpy as np
import scipy.sparse as sp

from recsys.recipe import TrainConfig
from recsys.recommenders.blend import blend_scores, neighbour_scores
from recsys.recommenders.itemknn import ItemKNNRecommender


def skewed(rng: np.random.Generator, n: int, size: int, power: float) -> np.ndarray:
    """Indices in [0, n) with a popularity head (power > 1 concentrates on low indices)."""
    return np.minimum((n * rng.random(size) ** power).astype(np.int64), n - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--k", type=int, default=None, help="neighbours (default: the recipe's)")
    parser.add_argument("--similarity", default=None, help="default: the recipe's")
    parser.add_argument("--weight", type=float, default=0.5,
                        help="blend weight when the recipe's is 0 (the default recipe's is)")
    parser.add_argument("--score-users", type=int, default=2_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    rows = skewed(rng, args.users, args.events, 1.5)
    cols = skewed(rng, args.items, args.events, 3.0)
    x = sp.csr_matrix((np.ones(args.events, np.float32), (rows, cols)),
                      shape=(args.users, args.items))
    build_s = time.perf_counter() - started
    knn = TrainConfig().item_knn.model_dump()
    knn["weight"] = knn["weight"] or args.weight
    knn.update({key: value for key, value in (("k", args.k), ("similarity", args.similarity))
                if value is not None})
    config = TrainConfig.model_validate({"item_knn": knn})
    started = time.perf_counter()
    similarity = ItemKNNRecommender(**config.item_knn.model_kwargs()).fit(x).similarity_
    fit_s = time.perf_counter() - started
    users = rng.choice(args.users, args.score_users, replace=False)
    factors = rng.standard_normal((args.items, config.cf.factors)).astype(np.float32)
    started = time.perf_counter()
    cf = rng.standard_normal((len(users), config.cf.factors)).astype(np.float32) @ factors.T
    blend_scores(cf, neighbour_scores(x[users], similarity), config.item_knn.weight)
    score_s = time.perf_counter() - started
    print(json.dumps({
        "users": args.users, "items": args.items, "non_zeros": int(x.nnz),
        "item_knn": config.item_knn.model_dump(), "matrix_build_s": round(build_s, 1),
        "fit_item_neighbours_s": round(fit_s, 1), "similarity_nnz": int(similarity.nnz),
        "similarity_mb": round((similarity.data.nbytes + similarity.indices.nbytes
                                + similarity.indptr.nbytes) / 2**20, 1),
        "blend_score_s_per_1000_users": round(score_s / len(users) * 1000, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "load_avg_1m": round(os.getloadavg()[0], 1), "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
