"""Recall@10 and query time of the vector index kinds, to choose `IndexConfig` defaults.

Realistic factors: implicit ALS (64 factors) fitted on a synthetic power-law interaction matrix
(~200k items, circle-structured tastes), queried user -> item (inner product) and item -> item
(inner product and cosine). Random Gaussian vectors are the harder case (no cluster structure).
Every row compares an index against exact search (IndexFlat) on the same vectors.

    .venv/bin/python bench/index_recall.py            # writes bench/results/index.md
    .venv/bin/python bench/index_recall.py --items 50000 --users 30000 --out /tmp/index.md
"""

from __future__ import annotations

import os

# implicit's ALS parallelises itself; a second BLAS thread pool underneath only contends.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import platform
import subprocess
import time
from pathlib import Path

import faiss
import numpy as np
import scipy.sparse as sp

from recsys.index import IndexConfig, VectorIndex, recall_at_k

logger = logging.getLogger("bench.index_recall")
K = 10


def interactions(n_users: int, n_items: int, n_events: int, seed: int) -> sp.csr_matrix:
    """Power-law users and items; each user mostly buys in one of 21 circles."""
    rng = np.random.default_rng(seed)
    n_circles = 21
    item_circle = rng.integers(0, n_circles, n_items)
    user_circle = rng.integers(0, n_circles, n_users)
    item_pop = rng.pareto(1.1, n_items) + 1.0
    user_act = rng.lognormal(0.0, 1.0, n_users)
    users = rng.choice(n_users, n_events, p=user_act / user_act.sum())
    # Items sorted by circle; cumulative popularity within each circle, offset by the circle
    # number, so one searchsorted draws an item from any circle.
    order = np.lexsort((np.arange(n_items), item_circle))
    circle_sorted = item_circle[order]
    w = item_pop[order]
    totals = np.bincount(circle_sorted, weights=w, minlength=n_circles)
    cum = np.cumsum(w) - np.concatenate([[0], np.cumsum(totals)[:-1]])[circle_sorted]
    cum = cum / totals[circle_sorted] + circle_sorted
    own = rng.random(n_events) < 0.8
    circles = np.where(own, user_circle[users], rng.integers(0, n_circles, n_events))
    pos = np.searchsorted(cum, circles + rng.random(n_events) * (1 - 1e-9))
    items = order[np.minimum(pos, n_items - 1)]
    m = sp.csr_matrix((np.ones(n_events, np.float32), (users, items)), shape=(n_users, n_items))
    m.sum_duplicates()
    return m


def als_factors(user_items: sp.csr_matrix, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(
        factors=64, regularization=0.05, iterations=10, random_state=seed, num_threads=0
    )
    model.fit(user_items * 20.0, show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors)


def time_search(index: VectorIndex, queries: np.ndarray) -> tuple[np.ndarray, float, float]:
    """ids, µs per query in one batch, median ms for a single query."""
    t0 = time.perf_counter()
    ids, _ = index.search(queries, K)
    batch_us = (time.perf_counter() - t0) / len(queries) * 1e6
    singles = []
    for q in queries[:200]:
        t0 = time.perf_counter()
        index.search(q[None, :], K)
        singles.append(time.perf_counter() - t0)
    return ids, batch_us, float(np.median(singles) * 1e3)


def with_config(index: VectorIndex, **update: object) -> VectorIndex:
    """The same built faiss index searched with other search-time settings."""
    view = VectorIndex(index.config.model_copy(update=update))
    view.index_, view.kind_, view.dim_ = index.index_, index.kind_, index.dim_
    return view


def scenario(
    name: str, vectors: np.ndarray, query_sets: dict[str, np.ndarray], metric: str
) -> list[str]:
    rows = []
    default = IndexConfig(metric=metric)
    exact = VectorIndex(default.model_copy(update={"kind": "flat"})).build(vectors)
    truth = {q: exact.search(qs, K)[0] for q, qs in query_sets.items()}
    builds: dict[str, tuple[VectorIndex, float]] = {}
    for kind in ("flat", "ivf", "hnsw"):
        t0 = time.perf_counter()
        built = VectorIndex(default.model_copy(update={"kind": kind})).build(vectors)
        builds[kind] = (built, time.perf_counter() - t0)
        logger.info("%s: built %s in %.1fs", name, kind, builds[kind][1])
    # `auto` with default settings is one of the kinds above: reuse it rather than build twice.
    builds["auto"] = builds[VectorIndex(default)._resolve_kind(len(vectors))]
    variants: list[tuple[str, VectorIndex, float]] = [
        (f"auto (default -> {builds['auto'][0].kind_})", *builds["auto"]),
        ("flat (exact)", *builds["flat"]),
    ]
    ivf, ivf_s = builds["ivf"]
    nlist = ivf.index_.nlist
    for nprobe in (8, 16, 32, 64):
        mark = " (default)" if nprobe == default.ivf_nprobe else ""
        variants.append(
            (f"ivf nlist={nlist} nprobe={nprobe}{mark}", with_config(ivf, ivf_nprobe=nprobe), ivf_s)
        )
    hnsw, hnsw_s = builds["hnsw"]
    for ef in (32, 64, 128, 256):
        mark = " (default)" if ef == default.hnsw_ef_search else ""
        variants.append(
            (
                f"hnsw M={default.hnsw_m} efC={default.hnsw_ef_construction} efSearch={ef}{mark}",
                with_config(hnsw, hnsw_ef_search=ef),
                hnsw_s,
            )
        )
    for label, index, build_s in variants:
        for q, qs in query_sets.items():
            ids, batch_us, single_ms = time_search(index, qs)
            recall = recall_at_k(ids, truth[q], K)
            rows.append(
                f"| {name} | {q} | {label} | {recall:.4f} | {batch_us:.1f} | "
                f"{single_ms:.2f} | {build_s:.1f} |"
            )
            logger.info(rows[-1])
    return rows


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores visible (shared with other jobs), faiss "
        f"{faiss.__version__} ({faiss.omp_get_max_threads()} OpenMP threads), numpy "
        f"{np.__version__}, Python {platform.python_version()}, {platform.system()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=150_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "index.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # The code measured is the code at start (the tree may move on during a long run).
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    user_items = interactions(args.users, args.items, args.events, args.seed)
    user_f, item_f = als_factors(user_items, args.seed)
    als_s = time.perf_counter() - t0
    logger.info("ALS on %d x %d (%d nnz) in %.1fs", *user_items.shape, user_items.nnz, als_s)
    active = np.flatnonzero(np.diff(user_items.indptr) > 0)
    user_q = user_f[rng.choice(active, args.queries, replace=False)]
    # Items nobody touched keep zero factors: every score ties, so they are no test of recall.
    touched = np.flatnonzero(np.diff(user_items.tocsc().indptr) > 0)
    item_q = item_f[rng.choice(touched, args.queries, replace=False)]
    gauss = rng.standard_normal((args.items, 64)).astype(np.float32)
    gauss_q = rng.standard_normal((args.queries, 64)).astype(np.float32)

    rows = []
    rows += scenario("ALS items, ip", item_f, {"user->item": user_q, "item->item": item_q}, "ip")
    rows += scenario("ALS items, cosine", item_f, {"item->item": item_q}, "cosine")
    rows += scenario("Gaussian, ip", gauss, {"random": gauss_q}, "ip")

    text = "\n".join(
        [
            "# Vector index recall and speed",
            "",
            "Reproduce: `.venv/bin/python bench/index_recall.py` "
            f"(defaults: --items {args.items} --users {args.users} --events {args.events} "
            f"--queries {args.queries} --seed {args.seed}).",
            "",
            f"Machine: {machine()}. Code: commit {commit}.",
            "",
            f"Data: {args.items} items x {args.users} users, {user_items.nnz} distinct "
            "interactions "
            "(power-law popularity and activity, 80% of a user's events in one of 21 circles); "
            f"implicit ALS 64 factors, 10 iterations ({als_s:.0f}s incl. data). Gaussian: "
            f"{args.items} x 64 standard normal. {args.queries} queries per set; "
            f"recall@{K} against "
            "exact inner-product search (IndexFlat) on the same vectors.",
            "",
            "Time columns: µs per query when the whole query set is one batch; median ms of 200 "
            "one-query calls; index build seconds.",
            "",
            f"| vectors | queries | index | recall@{K} | µs/query (batch) | ms (single) "
            "| build s |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    logger.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
