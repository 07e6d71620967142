"""Catalogue refresh time: add N new items (with posts) to a trained demo bundle.

    .venv/bin/python bench/refresh_bench.py                        # 3,000 users, 1,000 new items
    .venv/bin/python bench/refresh_bench.py --users 3000 --new-items 1000 --posts-per-item 2

Builds the demo sample (synth -> ingest -> train -> promote) in bench/_work/refresh/base once
(reused when there; --rebuild to redo), copies it, writes a delta of new items (a third of them
group buys) and posts naming them, and times `refresh_catalogue` on the copy. Prints the
summary with per-step seconds and appends it to bench/results/refresh_runs.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.bundle.registry import ModelRegistry
from recsys.datastore import DataDir
from recsys.ingest import ingest
from recsys.recipe import TrainConfig
from recsys.synth import SynthConfig, generate
from recsys.training.refresh import refresh_catalogue
from recsys.training.run import run_training

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "_work" / "refresh"
RESULTS = ROOT / "bench" / "results" / "refresh_runs.json"


def build_base(users: int, items: int, seed: int, rebuild: bool) -> Path:
    base = WORK / f"base-{users}u-{items}i-s{seed}"
    if base.is_dir() and not rebuild:
        return base
    shutil.rmtree(base, ignore_errors=True)
    generate(SynthConfig(n_users=users, n_items=items, seed=seed), base / "raw")
    ingest(base / "raw", base / "data")
    path = run_training(base / "data", TrainConfig(seed=seed), models_dir=base / "models")
    ModelRegistry(base / "models").promote(path.name, force=True)
    return base


def write_delta(data: DataDir, delta: Path, n_new: int, posts_per_item: int, seed: int) -> None:
    """New items drawn like existing ones (category, brand), posts by random existing users."""
    rng = np.random.default_rng(seed)
    items = data.read_table("items").to_pandas()
    posts = data.read_table("posts", ["circle_id", "item_id", "text"]).to_pandas()
    users = data.read_table("users", ["user_id"]).column(0).to_numpy(zero_copy_only=False)
    template = items.sample(n_new, replace=True, random_state=seed).reset_index(drop=True)
    ids = np.array([f"new{i:06d}" for i in range(n_new)])
    delta.mkdir(parents=True)
    new_items = template.assign(
        item_id=ids,
        title="new " + template["title"],
        is_group_buy=rng.random(n_new) < 1 / 3,
        created_ts="2024-12-31T12:00:00Z",
        status="listed",
    )
    new_items.astype(str).to_csv(delta / "items.csv", index=False)
    # Post text and circle borrowed from a random post about an item of the same category.
    named = posts.dropna(subset=["item_id"]).merge(items[["item_id", "category"]], on="item_id")
    pools = named.groupby("category").indices  # category -> row positions in `named`
    rows = []
    for k in range(posts_per_item):
        for i, category in enumerate(template["category"]):
            if category in pools:
                pool = pools[category]
                p = named.iloc[pool[rng.integers(len(pool))]]
                rows.append((f"newp{k}_{i:06d}", p["circle_id"], ids[i], p["text"]))
    frame = pd.DataFrame(rows, columns=["post_id", "circle_id", "item_id", "text"])
    frame["author_id"] = rng.choice(users, len(frame))
    frame["created_ts"] = "2024-12-31T13:00:00Z"
    frame["deleted"] = "false"
    frame.to_csv(delta / "posts.csv", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--items", type=int, default=1500)
    parser.add_argument("--new-items", type=int, default=1000)
    parser.add_argument("--posts-per-item", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = build_base(args.users, args.items, args.seed, args.rebuild)
    run = WORK / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(base / "data", run / "data")
    shutil.copytree(base / "models", run / "models")
    write_delta(DataDir(run / "data"), run / "delta", args.new_items, args.posts_per_item, 1)
    t0 = time.perf_counter()
    summary = refresh_catalogue(run / "data", run / "delta", run / "models")
    wall = time.perf_counter() - t0
    record = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "args": vars(args),
        "wall_seconds": round(wall, 2),
        "summary": summary.to_dict(),
    }
    print(json.dumps(record, indent=2))
    runs = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    RESULTS.write_text(json.dumps([*runs, record], indent=2) + "\n")


if __name__ == "__main__":
    main()
