"""Holdout NDCG@10 of a bundle's served answers with its ranked part on and off.

    .venv/bin/python bench/served_ranked.py --users 20000 --seed 0

`recsys synth --users N --seed S` is ingested whole, and again with only the events up to the
time cut that leaves the newest `--test-share` of events out; `recsys train` (the default
recipe, `[ranked]` on) trains one bundle on the earlier part. Test users: known users with
item history before the cut and items first met after it (a seeded sample of `--max-users`);
relevant = those new items. Each user's answer is what `/v1/users/{id}/recommendations`
serves without live events (the plain order: `RuntimeModel.recommend`), once with the
policy's ranked step (the bundle's ranked part) and once with `ranked = false` (the shipped
scorer, as a bundle without the part serves): the same bundle, the same exclusion rule.
Appends a section to bench/results/ranker.md with `--write`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import scipy.sparse as sp

from recsys.contract import TABLES
from recsys.datastore import DataDir
from recsys.features.interactions import load_interaction_log
from recsys.idmap import IdMap
from recsys.ingest import ingest
from recsys.metrics.ranking import accuracy_per_user, paired_bootstrap, relevance_hits
from recsys.recipe import TrainConfig
from recsys.runtime import RuntimeModel, RuntimePolicy
from recsys.synth import SynthConfig, generate
from recsys.training.run import run_training

K = 10
RESULTS = Path(__file__).resolve().parent / "results" / "ranker.md"


def _train_source(data: DataDir, cut_us: int, root: Path) -> Path:
    """A source folder of the data's tables with the events up to `cut_us` only."""
    for spec in TABLES:
        if data.has_table(spec.name):
            table = data.read_table(spec.name)
            if spec.name == "events":
                ts = pc.cast(table["ts"], "int64") if table["ts"].type != "int64" else table["ts"]
                table = table.filter(pc.less_equal(ts, cut_us))
            (root / spec.name).mkdir(parents=True, exist_ok=True)
            pq.write_table(table, root / spec.name / "part-00000.parquet")
    return root


def _answers(model: RuntimeModel, users: list[str]) -> tuple[np.ndarray, list[str], float]:
    ids = np.full((len(users), K), -1, np.int64)
    steps = []
    start = time.perf_counter()
    for r, user in enumerate(users):
        answer = model.recommend(user, K)
        got = model.parts.ids.items.to_index([i.item_id for i in answer.items])
        ids[r, : len(got)] = got
        steps.append(answer.step.value)
    return ids, steps, (time.perf_counter() - start) / max(len(users), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-share", type=float, default=0.1)
    parser.add_argument("--max-users", type=int, default=5000)
    parser.add_argument("--workdir", type=Path, default=Path("bench/_work/served_ranked"))
    parser.add_argument("--write", action="store_true", help="append to bench/results/ranker.md")
    parser.add_argument("--reuse", action="store_true",
                        help="answer with the newest bundle of an earlier run (no training)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    load_before = os.getloadavg()
    work = args.workdir / f"synth{args.users // 1000}k-s{args.seed}"
    if not (work / "all").is_dir():
        generate(SynthConfig(n_users=args.users, seed=args.seed, progress=False), work / "raw")
        ingest(work / "raw", work / "all")
    full = DataDir(work / "all")
    users, items = IdMap.load(full.idmap_path("users")), IdMap.load(full.idmap_path("items"))
    log = load_interaction_log(full, users, items, TrainConfig().interactions)
    cut = int(np.quantile(log["ts"].to_numpy(), 1.0 - args.test_share))
    if not (work / "train").is_dir():
        ingest(_train_source(full, cut, work / "train-src"), work / "train")
    start = time.perf_counter()
    earlier = sorted((work / "models").glob("2*")) if args.reuse else []
    bundle = earlier[-1] if earlier else run_training(
        work / "train", TrainConfig(seed=args.seed), models_dir=work / "models")
    train_s = sum(json.loads((bundle / "manifest.json").read_text())["step_timings"].values())
    manifest = json.loads((bundle / "manifest.json").read_text())

    on = RuntimeModel.load(bundle)
    off = RuntimeModel.load(bundle, policy=RuntimePolicy(ranked=False))
    before, after = log[log["ts"] <= cut], log[log["ts"] > cut]
    n_users, n_items = len(users), len(items)
    seen = sp.csr_matrix((np.ones(len(before)), (before["user_idx"], before["item_idx"])),
                         shape=(n_users, n_items)) > 0
    new = sp.csr_matrix((np.ones(len(after)), (after["user_idx"], after["item_idx"])),
                        shape=(n_users, n_items)) > 0
    new = sp.csr_matrix(new.astype(np.float32) - new.multiply(seen).astype(np.float32))
    new.eliminate_zeros()
    candidates = np.flatnonzero((np.diff(new.indptr) > 0) & (np.diff(seen.indptr) > 0))
    rng = np.random.default_rng(args.seed)
    picked = np.sort(rng.choice(candidates, min(args.max_users, len(candidates)),
                                replace=False))
    ids = [str(u) for u in users.ids[picked]]
    # The bundle's item indices are the full data's (the same items table): map by id anyway.
    relevant = new[picked]
    to_full = items.to_index(on.parts.ids.items.ids)
    results = {}
    for name, model in (("ranked on", on), ("ranked off", off)):
        got, steps, per_call = _answers(model, ids)
        mapped = np.where(got >= 0, to_full[np.maximum(got, 0)], -1)
        hits, n_rel = relevance_hits(mapped, relevant)
        results[name] = {"ndcg": accuracy_per_user(hits, n_rel, K)["ndcg"],
                         "steps": {s: steps.count(s) for s in set(steps)},
                         "ms_per_answer": round(per_call * 1000, 1)}
    diff, lo, hi = paired_bootstrap(results["ranked on"]["ndcg"], results["ranked off"]["ndcg"])
    ranked_report = manifest["metrics"]["ranked"]
    facts = {
        "users": len(ids), "cut_us": cut, "train_s": round(train_s, 1), "bundle": bundle.name,
        "answer_s": round(time.perf_counter() - start, 1),
        "step_timings": manifest["step_timings"],
        "ranked_fit": {k: ranked_report.get(k) for k in ("seconds", "tune_s", "first_fit_s",
                                                         "refit_s", "serves", "label_split")},
        "ndcg@10": {n: round(float(np.nanmean(r["ndcg"])), 4) for n, r in results.items()},
        "steps": {n: r["steps"] for n, r in results.items()},
        "ms_per_answer": {n: r["ms_per_answer"] for n, r in results.items()},
        "difference": [round(diff, 4), round(lo, 4), round(hi, 4)],
        "load_average": [round(x, 2) for x in load_before] + [round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(facts, indent=1))
    if args.write:
        _write(args, facts)


def _write(args: argparse.Namespace, facts: dict) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    on, off = facts["ndcg@10"]["ranked on"], facts["ndcg@10"]["ranked off"]
    d, lo, hi = facts["difference"]
    timings = facts["step_timings"]
    section = f"""
## Served through the bundle: synth{args.users // 1000}k-s{args.seed}, ranked part on vs off

`recsys train` with the default config (`[ranked]` on, tune budget 120 s, one LightGBM
thread) on `recsys synth --users {args.users} --seed {args.seed}` up to the time cut that
leaves the newest {args.test_share:.0%} of interactions out. {facts['users']} test users (known,
with history before the cut and new items after it; a seeded sample); relevant = their new
items. Each answer is what `/v1/users/{{id}}/recommendations` serves without live events
(`RuntimeModel.recommend`), on one bundle: the policy's ranked step, or `ranked = false` (the
shipped scorer, as a bundle without the part serves).

| served by | holdout NDCG@10 | ms per answer |
|---|---|---|
| ranked part (on) | {on:.4f} | {facts['ms_per_answer']['ranked on']} |
| shipped scorer (off) | {off:.4f} | {facts['ms_per_answer']['ranked off']} |

Difference on minus off: {d:+.4f} [95% paired bootstrap {lo:+.4f}, {hi:+.4f}].
Training took {facts['train_s']:.0f} s in all, the ranked step {timings.get('ranked', 0):.0f} s
(its fit: {json.dumps(facts['ranked_fit'])}); every step (s): {json.dumps(timings)}.

Run: {datetime.now(UTC).isoformat(timespec='seconds')} on {platform.platform()},
{os.cpu_count()} CPUs (shared with other jobs), load average {facts['load_average']} (before,
5 and 15 min; after). Commit {commit}. Command:
`.venv/bin/python bench/served_ranked.py --users {args.users} --seed {args.seed} --write`.
"""
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write(section)


if __name__ == "__main__":
    main()
