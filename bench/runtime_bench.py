"""Benchmark: how long does one runtime call take, per policy step, on one thread?

    .venv/bin/python bench/runtime_bench.py                       # the promoted bundle in models/
    .venv/bin/python bench/runtime_bench.py --bundle models/<version> --calls 2000

Loads the bundle with `RuntimeModel.load` (checksums verified, arrays memory-mapped), then
times `recommend` for warm users (scorer), users without history (circle chain) and unknown ids
(global chain), and `similar_items`, each over `--calls` calls at `--limit` items. Prints one
JSON line with p50 / p95 / p99 milliseconds per kind; `bench/results/runtime.md` records runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

from recsys.bundle.registry import ModelRegistry
from recsys.runtime import RuntimeModel


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {f"p{q}": round(float(np.percentile(ms, q)), 3) for q in (50, 95, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, default=None, help="default: promoted in models/")
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()
    root = args.bundle or ModelRegistry(args.models_dir).current_bundle(verify=False).root
    started = time.perf_counter()
    model = RuntimeModel.load(root)
    load_s = time.perf_counter() - started
    history = np.diff(model.parts.history.interacted.indptr)
    users = model.parts.ids.users.ids
    items = model.parts.ids.items.ids
    rng = np.random.default_rng(0)
    kinds = {
        "scorer": users[rng.choice(np.flatnonzero(history > 0), args.calls)],
        "circle_chain": users[rng.choice(np.flatnonzero(history == 0), args.calls)],
        "global_chain": np.array([f"unknown-{k}" for k in range(args.calls)], dtype=object),
    }
    out: dict[str, object] = {"bundle": root.name, "users": len(users), "items": len(items),
                              "limit": args.limit, "calls": args.calls, "load_s": round(load_s, 2)}
    for kind, ids in kinds.items():
        timings = []
        for user in ids:
            t0 = time.perf_counter()
            answer = model.recommend(str(user), args.limit)
            timings.append(time.perf_counter() - t0)
            assert answer.step == kind, (kind, answer.step)
        out[kind] = _percentiles(timings)
    timings = []
    for item in items[rng.choice(len(items), args.calls)]:
        t0 = time.perf_counter()
        model.similar_items(str(item), args.limit)
        timings.append(time.perf_counter() - t0)
    out["similar_items"] = _percentiles(timings)
    out.update({
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_avg_1m": round(os.getloadavg()[0], 1), "cpus": os.cpu_count(),
        "python": platform.python_version(),
    })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
