"""Benchmark: interaction log + confidence matrix on synthetic events, then an ALS fit.

    .venv/bin/python bench/interactions_bench.py --events 10000000

Generates a contract data directory in a temp folder (users, items, posts, events as Parquet
parts), then measures in a fresh child process, so its peak RSS is the feature build alone:
`load_interaction_log` + `to_csr` (time, peak RSS), then `ALSRecommender.fit` (time).
Results go to stdout as JSON; `bench/results/interactions.md` records a run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys.contract import TIMESTAMP, EventType, conform, table_spec
from recsys.datastore import DataDir
from recsys.idmap import IdMap

DAY_US = 86_400 * 1_000_000
T0_US = 1_704_067_200 * 1_000_000  # 2024-01-01 UTC
TYPES = np.array([t.value for t in EventType])
TYPE_P = np.array([0.70, 0.12, 0.04, 0.05, 0.05, 0.01, 0.03])  # view-heavy, like real logs


def ids(prefix: str, idx: np.ndarray) -> pa.Array:
    """String ids 'prefix<n>' without a Python loop."""
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(idx), pa.string()), "")


def write_parts(data: DataDir, name: str, columns: dict[str, pa.Array], n_parts: int) -> None:
    spec = table_spec(name)
    n = len(next(iter(columns.values())))
    full = {f.name: columns.get(f.name, pa.nulls(n, f.type)) for f in spec.schema}
    table = conform(pa.table(full), spec)
    folder = data.table_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    for k, start in enumerate(range(0, n, -(-n // n_parts))):
        pq.write_table(table.slice(start, -(-n // n_parts)), folder / f"part-{k:05d}.parquet")


def skewed(rng: np.random.Generator, n: int, size: int, power: float) -> np.ndarray:
    """Indices in [0, n) with a popularity head (power > 1 concentrates on low indices)."""
    return np.minimum((n * rng.random(size) ** power).astype(np.int64), n - 1)


def generate(root: Path, n_events: int, n_users: int, n_items: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = DataDir(root)
    ts = lambda k: pa.array(T0_US + rng.integers(0, 90 * DAY_US, k), TIMESTAMP)  # noqa: E731
    u = np.arange(n_users)
    write_parts(
        data,
        "users",
        {
            "user_id": ids("u", u),
            "signup_ts": ts(n_users),
            "share_opt_out": pa.array(np.zeros(n_users, bool)),
        },
        1,
    )
    i = np.arange(n_items)
    write_parts(
        data,
        "items",
        {
            "item_id": ids("i", i),
            "title": pa.array(np.full(n_items, "t")),
            "category": pa.array(np.array(["makeup", "phones", "snacks", "fruit"])[i % 4]),
            "merchant_id": pa.array(np.full(n_items, "m")),
            "price": pa.array(np.ones(n_items)),
            "is_group_buy": pa.array(i % 5 == 0),
            "created_ts": ts(n_items),
            "status": pa.array(np.full(n_items, "listed")),
        },
        1,
    )
    n_posts = max(1, n_items * 2)
    p = np.arange(n_posts)
    post_item = skewed(rng, n_items, n_posts, 2.0)
    write_parts(
        data,
        "posts",
        {
            "post_id": ids("p", p),
            "author_id": ids("u", rng.integers(0, n_users, n_posts)),
            "circle_id": pa.array(np.full(n_posts, "beauty")),
            "item_id": pc.if_else(
                pa.array(rng.random(n_posts) < 0.6),
                ids("i", post_item),
                pa.nulls(n_posts, pa.string()),
            ),
            "created_ts": ts(n_posts),
            "text": pa.array(np.full(n_posts, "")),
            "deleted": pa.array(rng.random(n_posts) < 0.02),
        },
        1,
    )
    on_post = rng.random(n_events) < 0.2
    item = ids("i", skewed(rng, n_items, n_events, 3.0))
    post = ids("p", skewed(rng, n_posts, n_events, 2.0))
    null = pa.nulls(n_events, pa.string())
    write_parts(
        data,
        "events",
        {
            "event_id": ids("e", np.arange(n_events)),
            "user_id": ids("u", skewed(rng, n_users, n_events, 1.5)),
            "item_id": pc.if_else(pa.array(on_post), null, item),
            "post_id": pc.if_else(pa.array(on_post), post, null),
            "type": pa.array(rng.choice(TYPES, n_events, p=TYPE_P)),
            "ts": ts(n_events),
        },
        max(1, n_events // 2_000_000),
    )


def peak_rss_gb() -> float:
    """Peak RSS of this process, in GB.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a child
    would inherit the generator parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e6  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def measure(root: Path, als_iterations: int) -> dict[str, float]:
    from recsys.circles import default_catalogue_path, load_catalogue
    from recsys.features.circle_engagement import user_circle_engagement
    from recsys.features.interactions import InteractionConfig, load_interaction_log, to_csr
    from recsys.recommenders.als import ALSRecommender

    data = DataDir(root)
    users = IdMap(data.read_table("users", ["user_id"])[0].to_numpy(zero_copy_only=False))
    items = IdMap(data.read_table("items", ["item_id"])[0].to_numpy(zero_copy_only=False))
    out = {"rss_before_gb": peak_rss_gb()}
    t = time.perf_counter()
    log = load_interaction_log(data, users, items, InteractionConfig())
    out["load_interaction_log_s"] = time.perf_counter() - t
    t = time.perf_counter()
    matrix = to_csr(log, len(users), len(items), half_life_days=30.0)
    out["to_csr_s"] = time.perf_counter() - t
    out["peak_rss_features_gb"] = peak_rss_gb()
    out.update(
        events_read=log.attrs["read"],
        log_rows=len(log),
        nnz=matrix.nnz,
        users=len(users),
        items=len(items),
    )
    del log
    t = time.perf_counter()
    user_circle_engagement(data, users, load_catalogue(default_catalogue_path()))
    out["user_circle_engagement_s"] = time.perf_counter() - t
    if als_iterations:
        t = time.perf_counter()
        ALSRecommender(factors=64, iterations=als_iterations).fit(matrix)
        out["als_fit_s"] = time.perf_counter() - t
        out["als_iterations"] = als_iterations
    out["peak_rss_total_gb"] = peak_rss_gb()
    out["load_average_1m"] = os.getloadavg()[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--als-iterations", type=int, default=15, help="0 skips the ALS fit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.measure:
        print(json.dumps(measure(args.measure, args.als_iterations)))
        return
    root = Path(tempfile.mkdtemp(prefix="recsys-bench-"))
    try:
        t = time.perf_counter()
        generate(root, args.events, args.users, args.items, args.seed)
        gen_s = time.perf_counter() - t
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                str(root),
                "--als-iterations",
                str(args.als_iterations),
            ],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        result.update(
            generate_s=gen_s,
            machine=f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        )
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
