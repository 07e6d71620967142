"""Audience segment quality on held-out purchases: the segment scorer against two rules.

Each data set is ingested and trained with the default recipe (`run_training`; the bundle's
back-test part is the fit on all events but the held-out period), then every target is ranked
at the cut by `recsys.segments.quality.measure`: the segment scorer, the same-category-or-circle
buyers rule and the most-active users, with "exclude existing buyers" off and on.

* synthetic: `recsys synth` at --users (100k), seeds 0-2, the last 30 days held out; targets =
  the 50 items and 20 categories with the most held-out buyers; precision@1000 etc. The pooling
  (mean / max) and seed method (centroid / knn) are chosen on a separate validation world
  (seed 100), then fixed for seeds 0-2.
* taobao: the shared sample (../shared/datasets/taobao_ecomm_dyhatr), held out = cart or buy on
  2019-06-19 (the last day; backtest.days = 1); targets = the categories with at least 5 such
  users; mean average precision with a bootstrap interval over the targets.

Writes bench/results/segments_runs.json (one entry per run) and renders bench/results/segments.md.

    .venv/bin/python bench/segments_quality.py synthetic --users 100000 --seeds 0 1 2
    .venv/bin/python bench/segments_quality.py taobao
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import scipy.sparse as sp

from recsys.adapters import adapt
from recsys.bundle.parts import BundleParts
from recsys.config import load_config
from recsys.datastore import DataDir
from recsys.features.interactions import US_PER_DAY
from recsys.ingest import ingest
from recsys.recipe import TrainConfig
from recsys.segments.quality import METHODS, TargetSpec, bootstrap_mean, measure
from recsys.segments.scope import buyers_of
from recsys.segments.scorer import SegmentScorer
from recsys.synth import SynthConfig, generate
from recsys.training.run import run_training

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "segments"
RUNS = HERE / "results" / "segments_runs.json"
REPORT = HERE / "results" / "segments.md"
TAOBAO = HERE.parent.parent / "shared" / "datasets" / "taobao_ecomm_dyhatr"
K = 1000
MAX_SEEDS = 1000
CHOICES = {
    "pooling": ("mean", "max"),
    "seed_method": ("centroid", "knn"),
    "activity_weight": (0.0, 0.5, 1.0, 2.0),
}


def machine() -> str:
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"load average {load:.1f} at start"
    )


def train(data: Path, models: Path, config: TrainConfig) -> BundleParts:
    if models.exists():
        shutil.rmtree(models)
    bundle = run_training(data, config, models_dir=models)
    return BundleParts.load(bundle, mmap=False)


def synthetic_parts(users: int, seed: int) -> BundleParts:
    root = WORK / f"synth_u{users}_s{seed}"
    if not (root / "data" / "ingest_report.json").exists():
        shutil.rmtree(root, ignore_errors=True)
        generate(SynthConfig(n_users=users, seed=seed, progress=False), root / "raw")
        ingest(root / "raw", root / "data")
    config = TrainConfig.model_validate(
        {"seed": seed, "backtest": {"days": 30.0}, "content": {"evaluate_cold_start": False}}
    )
    return train(root / "data", root / "models", config)


def top_targets(
    parts: BundleParts, truth: sp.csr_matrix, n_items: int, n_categories: int, min_buyers: int = 1
) -> list[TargetSpec]:
    """The items and categories with the most held-out buyers (and seed look-alikes of the
    categories: their pre-cut buyers as seeds)."""
    bt = parts.backtest
    buyers_per_item = np.bincount(truth.indices, minlength=bt.n_items)
    items = np.argsort(-buyers_per_item, kind="stable")[:n_items]
    targets = [
        TargetSpec("item", str(i), np.array([i])) for i in items if buyers_per_item[i] >= min_buyers
    ]
    category = parts.catalogue.strings("category")[: bt.n_items].astype(str)
    counts = {
        c: int(buyers_of(truth, np.flatnonzero(category == c)).sum()) for c in np.unique(category)
    }
    best = sorted(counts, key=lambda c: (-counts[c], c))[:n_categories]
    for c in best:
        if counts[c] < min_buyers:
            continue
        members = np.flatnonzero(category == c)
        targets.append(TargetSpec("category", c, members))
        seeds = np.flatnonzero(buyers_of(bt.bought_before, members))
        if len(seeds) > MAX_SEEDS:  # a merchant's seed list: a sample of the buyers
            seeds = np.sort(np.random.default_rng(len(targets)).choice(seeds, MAX_SEEDS, False))
        if len(seeds) >= 20:
            targets.append(TargetSpec("seed", c, members, seeds=seeds))
    return targets


def evaluate(
    parts: BundleParts,
    targets: list[TargetSpec],
    *,
    pooling: str,
    seed_method: str,
    activity_weight: float,
    future: sp.csr_matrix | None = None,
) -> pd.DataFrame:
    bt = parts.backtest
    scorer = SegmentScorer(  # type: ignore[arg-type]
        pooling=pooling, seed_method=seed_method, activity_weight=activity_weight
    ).fit(bt.user_vectors, bt.item_vectors, activity=bt.recent_events)
    category = parts.catalogue.category_codes()
    circle = np.asarray(parts.catalogue.circle_idx)
    rows = []
    for target in targets:
        for exclude in (False, True):
            result = measure(
                bt, scorer, target, category, circle, exclude_buyers=exclude, k=K, future=future
            )
            for method in METHODS:
                rows.append(
                    {
                        "kind": target.kind,
                        "target": target.name,
                        "exclude": exclude,
                        "method": method,
                        **result[method],
                    }
                )
    return pd.DataFrame(rows)


def summarise(frame: pd.DataFrame) -> list[dict]:
    frame = frame[frame["positives"] > 0]
    grouped = frame.groupby(["kind", "exclude", "method"])
    out = grouped[["precision", "recall", "ap"]].mean().reset_index()
    out["targets"] = grouped.size().to_numpy()
    return out.to_dict(orient="records")


def run_synthetic(args: argparse.Namespace) -> dict:
    started = time.time()
    chosen = {}
    choice_rows = []
    validation = synthetic_parts(args.users, args.choose_seed)
    targets = top_targets(validation, validation.backtest.bought_after, 50, 20)
    plain = [t for t in targets if t.seeds is None]
    seeded = [t for t in targets if t.seeds is not None]
    for pooling in CHOICES["pooling"]:  # the pooling only changes item and category targets
        for weight in CHOICES["activity_weight"]:
            frame = evaluate(
                validation, plain, pooling=pooling, seed_method="centroid", activity_weight=weight
            )
            seg = frame[(frame["method"] == "segment") & (frame["positives"] > 0)]
            row = {"choice": f"pooling={pooling}, activity_weight={weight:g}",
                   "pooling": pooling, "activity_weight": weight}  # fmt: skip
            for k in ("item", "category"):
                row[f"map_{k}"] = float(seg[seg["kind"] == k]["ap"].mean())
                row[f"p_{k}"] = float(seg[seg["kind"] == k]["precision"].mean())
            choice_rows.append(row)
    pooled = [c for c in choice_rows if "map_item" in c]
    best = max(pooled, key=lambda c: c["map_item"] + c["map_category"])
    chosen["pooling"], chosen["activity_weight"] = best["pooling"], best["activity_weight"]
    for method in CHOICES["seed_method"]:  # the seed method only changes seed targets
        frame = evaluate(validation, seeded, pooling="mean", seed_method=method,
                         activity_weight=chosen["activity_weight"])  # fmt: skip
        seg = frame[(frame["method"] == "segment") & (frame["positives"] > 0)]
        choice_rows.append({"choice": f"seed_method={method}", "seed_method": method,
                            "map_seed": float(seg["ap"].mean())})  # fmt: skip
    seeds = [c for c in choice_rows if "map_seed" in c]
    chosen["seed_method"] = max(seeds, key=lambda c: c["map_seed"])["seed_method"]
    per_seed = {}
    for seed in args.seeds:
        parts = synthetic_parts(args.users, seed)
        targets = top_targets(parts, parts.backtest.bought_after, 50, 20)
        frame = evaluate(parts, targets, **chosen)
        per_seed[str(seed)] = summarise(frame)
    return {
        "kind": "synthetic",
        "users": args.users,
        "seeds": args.seeds,
        "choose_seed": args.choose_seed,
        "choices": choice_rows,
        "chosen": chosen,
        "results": per_seed,
        "seconds": round(time.time() - started, 1),
    }


def taobao_world(
    root: Path, config_path: Path, days: float
) -> tuple[BundleParts, list, sp.csr_matrix]:
    """Train with the tuned Taobao recipe and the last `days` days held out; the truth is cart
    or buy on the first held-out day; targets are the categories with >= 5 such users."""
    config = load_config(TrainConfig, config_path)
    config = config.model_copy(
        update={
            "backtest": config.backtest.model_copy(update={"days": days}),
            "content": config.content.model_copy(update={"evaluate_cold_start": False}),
        }
    )
    parts = train(root / "data", root / f"models_{days:g}d", config)
    bt = parts.backtest
    future = cart_or_buy_after(root, parts, bt.cut_ts, bt.cut_ts + US_PER_DAY, bt.n_items)
    category = parts.catalogue.strings("category")[: bt.n_items].astype(str)
    targets = []
    for c in np.unique(category):
        members = np.flatnonzero(category == c)
        if buyers_of(future, members).sum() >= 5:
            targets.append(TargetSpec("category", c, members))
    return parts, targets, future


def run_taobao(args: argparse.Namespace) -> dict:
    started = time.time()
    source = Path(args.taobao_dir)
    if not source.is_dir():
        sys.exit(f"the Taobao sample is not at {source} (pass --taobao-dir)")
    root = WORK / "taobao"
    if not (root / "data" / "ingest_report.json").exists():
        shutil.rmtree(root, ignore_errors=True)
        adapt("taobao", source, root / "src")
        ingest(root / "src", root / "data")
    # Validation: held out 2019-06-18 (fit on 06-10..17) chooses the pooling.
    parts, targets, future = taobao_world(root, Path(args.config), 2.0)
    choices = []
    for pooling in CHOICES["pooling"]:
        for weight in CHOICES["activity_weight"]:
            frame = evaluate(parts, targets, pooling=pooling, seed_method="centroid",
                             activity_weight=weight, future=future)  # fmt: skip
            seg = frame[(frame["method"] == "segment") & (frame["positives"] > 0)]
            choices.append({"pooling": pooling, "activity_weight": weight,
                            "map": float(seg["ap"].mean())})  # fmt: skip
    best = max(choices, key=lambda c: c["map"])
    pooling, weight = best["pooling"], best["activity_weight"]
    # Test: held out 2019-06-19 (fit on 06-10..18).
    parts, targets, future = taobao_world(root, Path(args.config), 1.0)
    bt = parts.backtest
    frame = evaluate(parts, targets, pooling=pooling, seed_method="centroid",
                     activity_weight=weight, future=future)  # fmt: skip
    result: dict = {
        "kind": "taobao",
        "targets": len(targets),
        "pooling": pooling,
        "activity_weight": weight,
        "validation": choices,
        "config": args.config,
        "cut": datetime.fromtimestamp(bt.cut_ts / 1e6, UTC).isoformat(),
    }
    for exclude in (False, True):
        part = frame[(frame["exclude"] == exclude) & (frame["positives"] > 0)]
        aps = {m: part[part["method"] == m].set_index("target")["ap"] for m in METHODS}
        key = "exclude_on" if exclude else "exclude_off"
        result[key] = {
            m: {
                "map": float(aps[m].mean()),
                "ci95": bootstrap_mean(aps[m].to_numpy()),
                "targets": int(len(aps[m])),
            }
            for m in METHODS
        }
        for base in ("rule", "most_active"):
            diff = (aps["segment"] - aps[base]).dropna()
            result[key][f"segment_minus_{base}"] = {
                "mean": float(diff.mean()),
                "ci95": bootstrap_mean(diff.to_numpy()),
            }
    result["seconds"] = round(time.time() - started, 1)
    return result


def cart_or_buy_after(
    root: Path, parts: BundleParts, after_ts: int, until_ts: int, n_items: int
) -> sp.csr_matrix:
    """(n_users, n_items) 0/1: carts and buys in (after_ts, until_ts] (the adapter keeps the
    raw behaviour per event in meta/behaviours.parquet; carts became 'like' events)."""
    table = DataDir(root / "data").read_table("events", ["event_id", "user_id", "item_id", "ts"])
    events = table.drop(["ts"]).append_column("ts_us", table["ts"].cast("int64")).to_pandas()
    behaviours = pq.read_table(root / "src" / "meta" / "behaviours.parquet").to_pandas()
    events = events.merge(behaviours, on="event_id")
    ts = events["ts_us"].to_numpy()
    after = events[(ts > after_ts) & (ts <= until_ts) & events["behaviour"].isin(["cart", "buy"])]
    users = parts.ids.users.to_index(after["user_id"].to_numpy())
    items = parts.ids.items.to_index(after["item_id"].to_numpy())
    ok = (users >= 0) & (items >= 0) & (items < n_items)
    m = sp.csr_matrix(
        (np.ones(ok.sum(), np.float32), (users[ok], items[ok])),
        shape=(len(parts.ids.users), n_items),
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def render(runs: list[dict]) -> str:
    lines = [
        "# Audience segments: quality on held-out purchases",
        "",
        "Rendered by `bench/segments_quality.py` from `bench/results/segments_runs.json`. "
        "Methods: **segment** (the segment scorer over the back-test fit's vectors), "
        "**rule** (users who bought in the target's categories before the cut, then in its "
        "circles, by count; ties by activity), **most_active** (events before the cut). "
        "Ties are broken at random (seeded) for every method alike. `exclude` = users who "
        "bought the target's items before the cut are out of the ranking and the truth.",
        "",
    ]
    for run in runs:
        lines += [
            f"## {run['kind']} ({run['when']})",
            "",
            f"- command: `{run['command']}`",
            f"- machine: {run['machine']}",
            f"- wall time: {run['seconds']} s",
            "",
        ]
        if run["kind"] == "synthetic":
            lines += render_synthetic(run)
        else:
            lines += render_taobao(run)
    return "\n".join(lines) + "\n"


def render_synthetic(run: dict) -> list[str]:
    out = [
        f"{run['users']:,} users per world. Choice on the validation world (seed "
        f"{run['choose_seed']}), mean AP of the segment method:",
        "",
        "| choice | MAP items | MAP categories | precision@1000 items | precision@1000 categories "
        "| MAP seed look-alikes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    keys = ("map_item", "map_category", "p_item", "p_category", "map_seed")
    for c in run["choices"]:
        cells = [f"{c[k]:.4f}" if k in c else "-" for k in keys]
        out.append(f"| {c['choice']} | " + " | ".join(cells) + " |")
    out += [
        "",
        f"Chosen: `{run['chosen']}`.",
        "",
        "| seed | target | exclude | method | targets | precision@1000 | recall@1000 | MAP | "
        "precision vs rule |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for seed, rows in run["results"].items():
        rule = {(r["kind"], r["exclude"]): r["precision"] for r in rows if r["method"] == "rule"}
        for r in rows:
            base = rule[(r["kind"], r["exclude"])]
            ratio = f"{r['precision'] / base:.2f}x" if base > 0 else "-"
            out.append(
                f"| {seed} | {r['kind']} | {'on' if r['exclude'] else 'off'} | "
                f"{r['method']} | {r['targets']} | {r['precision']:.4f} | "
                f"{r['recall']:.4f} | {r['ap']:.4f} | {ratio} |"
            )
    return out + [""]


def render_taobao(run: dict) -> list[str]:
    valid = ", ".join(
        f"{c['pooling']}/{c['activity_weight']:g} {c['map']:.4f}" for c in run["validation"]
    )
    out = [
        f"Recipe `{run['config']}` (the project's tuned Taobao recipe). Pooling and activity "
        f"weight chosen on validation (fit on 06-10..17, truth = cart or buy on 06-18; segment "
        f"MAP by pooling/weight: {valid}): `{run['pooling']}`, "
        f"activity_weight {run['activity_weight']:g}.",
        "",
        f"Test: fit on 06-10..18, {run['targets']} categories with >= 5 users who cart or buy "
        f"on 2019-06-19 (cut {run['cut']}). MAP with a 95% bootstrap interval over the "
        "categories (2,000 resamples):",
        "",
        "| exclude | method | MAP | 95% interval |",
        "|---|---|---:|---|",
    ]
    for key in ("exclude_off", "exclude_on"):
        for m in METHODS:
            r = run[key][m]
            out.append(
                f"| {key.split('_')[1]} | {m} | {r['map']:.4f} | "
                f"[{r['ci95'][0]:.4f}, {r['ci95'][1]:.4f}] |"
            )
        for base in ("rule", "most_active"):
            d = run[key][f"segment_minus_{base}"]
            out.append(
                f"| {key.split('_')[1]} | segment - {base} | {d['mean']:+.4f} | "
                f"[{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}] |"
            )
    return out + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="which", required=True)
    syn = sub.add_parser("synthetic")
    syn.add_argument("--users", type=int, default=100_000)
    syn.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    syn.add_argument("--choose-seed", type=int, default=100)
    tb = sub.add_parser("taobao")
    tb.add_argument(
        "--config",
        default="pipelines/configs/tuned/taobao.toml",
        help="training recipe (the project's tuned one for this data set)",
    )
    tb.add_argument("--taobao-dir", default=str(TAOBAO), help="the shared sample's folder")
    sub.add_parser("render")
    args = parser.parse_args()
    if args.which != "render":
        load = machine()
        run = run_synthetic(args) if args.which == "synthetic" else run_taobao(args)
        run.update(
            command="python bench/segments_quality.py " + " ".join(sys.argv[1:]),
            machine=load,
            when=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        runs = json.loads(RUNS.read_text()) if RUNS.exists() else []  # read late: runs may overlap
        runs = [r for r in runs if r["kind"] != run["kind"]] + [run]
        RUNS.write_text(json.dumps(runs, indent=1) + "\n")
    runs = json.loads(RUNS.read_text()) if RUNS.exists() else []
    REPORT.write_text(render(runs))
    print(REPORT.read_text())


if __name__ == "__main__":
    main()
