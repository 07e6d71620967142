"""Circle placement quality on the pipeline's synthetic data: learned placer vs history frequency.

Per seed: `recsys synth` (frozen defaults; --users N, items N / 2) and `recsys ingest` into
bench/_work/placement/ (kept and reused; --regenerate rebuilds), then the inputs
`recsys train` gives `steps.place_users` (ALS user factors from the default config, the circle
engagement matrices, the planted truth) plus the friendship graph, built once. Then, scored
with `placement_report` against the planted members (truth is used for nothing else):

* baseline: history frequency with F1-tuned thresholds, as `steps.place_users` fits it;
* placer: `CirclePlacer` on factors + behaviour, as `steps.place_users` calls it today;
* placer + friends: the same with `friends=load_friends(...)`.

Writes its section (one per user count) of bench/results/placement.md.

    .venv/bin/python bench/placement_quality.py --users 3000 --seeds 0 1 2
    .venv/bin/python bench/placement_quality.py --users 20000 --seeds 0
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from pipelines.train import DEFAULT_CONFIG
from recsys.circles import CircleCatalogue
from recsys.config import load_config
from recsys.datastore import DataDir
from recsys.features.circle_engagement import user_circle_engagement
from recsys.features.interactions import load_interaction_log, to_csr
from recsys.idmap import IdMap
from recsys.ingest import ingest
from recsys.metrics.circles import placement_report
from recsys.placement import CirclePlacer, HistoryFrequencyBaseline, history_counts, ugc_labels
from recsys.placement.social import load_friends
from recsys.recipe import TrainConfig
from recsys.synth import SynthConfig, generate
from recsys.training import steps

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "placement"
REPORT = HERE / "results" / "placement.md"
SUBSETS = ("all", "no_ugc", "labelled")
METRICS = ("micro_f1", "macro_f1", "ece", "brier")


def dataset(users: int, seed: int, regenerate: bool) -> tuple[Path, Path]:
    """Ingested data dir and truth dir of one synthetic set, generated on first use."""
    root = WORK / f"u{users}_s{seed}"
    raw, processed = root / "raw", root / "processed"
    if regenerate or not (processed / "ingest_report.json").exists():
        shutil.rmtree(root, ignore_errors=True)
        generate(SynthConfig(n_users=users, n_items=users // 2, seed=seed, progress=False), raw)
        ingest(raw, processed)
    return processed, raw / "truth"


def inputs(processed: Path, truth_dir: Path, config: TrainConfig) -> dict[str, object]:
    """What `recsys train` hands `steps.place_users`, plus the friendships."""
    data = DataDir(processed)
    users = IdMap.load(data.idmap_path("users"))
    items = IdMap.load(data.idmap_path("items"))
    catalogue = CircleCatalogue.from_table(data.read_table("circles"))
    log = load_interaction_log(data, users, items, config.interactions)
    user_items = to_csr(
        log, len(users), len(items), half_life_days=config.interactions.half_life_days
    )
    return {
        "factors": steps.fit_scorer(user_items, None, config).user_factors_,
        "engagement": dict(user_circle_engagement(data, users, catalogue)),
        "friends": load_friends(data, users),
        "truth": steps.load_truth(truth_dir, users, catalogue),
        "circle_ids": list(catalogue.ids),
    }


def evaluate(x: dict[str, object], config: TrainConfig) -> dict[str, dict[str, dict]]:
    """Subset -> metric figures of each variant, with fit + predict seconds."""
    engagement: dict[str, sp.csr_matrix] = x["engagement"]  # type: ignore[assignment]
    factors: np.ndarray = x["factors"]  # type: ignore[assignment]
    truth_members, truth_weights = x["truth"]  # type: ignore[misc]
    labels, labelled = ugc_labels(engagement["posts_written"], engagement["posts_engaged"])
    ugc = (
        engagement["posts_written"].getnnz(axis=1) + engagement["posts_engaged"].getnnz(axis=1)
    ) > 0
    masks = {"no_ugc": ~ugc, "labelled": labelled}
    history = history_counts(engagement)
    results: dict[str, dict[str, dict]] = {}

    def score(name: str, members: np.ndarray, proba: np.ndarray, seconds: float) -> None:
        report = placement_report(
            members, proba, truth_members, truth_weights, x["circle_ids"], subset_masks=masks
        )
        results[name] = {s: {m: report["subsets"][s][m] for m in METRICS} for s in SUBSETS}
        results[name]["all"]["seconds"] = seconds
        results[name]["all"]["mean_members"] = float(members.sum(axis=1).mean())

    start = time.perf_counter()
    base = HistoryFrequencyBaseline(min_members=config.placement.min_members)
    base.fit(history, labels, labelled)
    proba = base.predict_proba(history)
    score("baseline", base.members_from_proba(proba), proba, time.perf_counter() - start)
    friends = x["friends"]
    for name, graph in (("placer", None), ("placer + friends", friends)):
        if name.endswith("friends") and graph is None:
            continue
        start = time.perf_counter()
        placer = CirclePlacer(
            C=config.placement.C,
            calibration=config.placement.calibration,
            min_members=config.placement.min_members,
            random_state=config.seed,
        ).fit(engagement, factors, graph)
        proba = placer.predict_proba(engagement, factors, graph)
        score(name, placer.members_from_proba(proba), proba, time.perf_counter() - start)
    return results


def render(users: int, runs: dict[int, dict], header: str) -> str:
    lines = [f"<!-- placement_quality users={users} begin -->", header, ""]
    lines += [
        "| seed | variant | all micro / macro F1 | no UGC micro / macro F1 | labelled micro / "
        "macro F1 | ECE all / no UGC | Brier all | members | s |",
        "|---:|---|---|---|---|---|---:|---:|---:|",
    ]
    names = list(next(iter(runs.values())))
    for seed, res in runs.items():
        for name in names:
            r = res[name]
            lines.append(
                f"| {seed} | {name} | {r['all']['micro_f1']:.3f} / {r['all']['macro_f1']:.3f} "
                f"| {r['no_ugc']['micro_f1']:.3f} / {r['no_ugc']['macro_f1']:.3f} "
                f"| {r['labelled']['micro_f1']:.3f} / {r['labelled']['macro_f1']:.3f} "
                f"| {r['all']['ece']:.3f} / {r['no_ugc']['ece']:.3f} | {r['all']['brier']:.4f} "
                f"| {r['all']['mean_members']:.2f} | {r['all']['seconds']:.1f} |"
            )
    if len(runs) > 1:
        for name in names:
            mean = {
                (s, m): np.mean([res[name][s][m] for res in runs.values()])
                for s in SUBSETS
                for m in METRICS
            }
            lines.append(
                f"| mean | {name} | {mean['all', 'micro_f1']:.3f} / {mean['all', 'macro_f1']:.3f}"
                f" | {mean['no_ugc', 'micro_f1']:.3f} / {mean['no_ugc', 'macro_f1']:.3f} "
                f"| {mean['labelled', 'micro_f1']:.3f} / {mean['labelled', 'macro_f1']:.3f} "
                f"| {mean['all', 'ece']:.3f} / {mean['no_ugc', 'ece']:.3f} "
                f"| {mean['all', 'brier']:.4f} | | |"
            )
    lines.append(f"<!-- placement_quality users={users} end -->")
    return "\n".join(lines)


def write_section(text: str, begin: str, end: str) -> None:
    """Replace the block between `begin` and `end` in the report, or append it."""
    old = REPORT.read_text() if REPORT.exists() else "# Circle placement\n"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + text + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    REPORT.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    config = load_config(TrainConfig, DEFAULT_CONFIG)
    load_before = os.getloadavg()[0]
    runs = {}
    for seed in args.seeds:
        processed, truth = dataset(args.users, seed, args.regenerate)
        runs[seed] = evaluate(inputs(processed, truth, config), config)
        for name, r in runs[seed].items():
            print(f"seed {seed} {name:<17} " + "  ".join(
                f"{s} {r[s]['micro_f1']:.3f}/{r[s]['macro_f1']:.3f} ece {r[s]['ece']:.3f}"
                for s in SUBSETS
            ), flush=True)  # fmt: skip
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "recsys"], capture_output=True, text=True, check=False
    ).stdout.strip()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    header = (
        f"### {args.users:,} users, seeds {', '.join(map(str, args.seeds))}\n\n"
        f"`python bench/placement_quality.py --users {args.users} --seeds "
        f"{' '.join(map(str, args.seeds))}` (commit {commit}{' + local changes' if dirty else ''},"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC). Machine: {os.cpu_count()} cores ({cpu}), "
        f"shared with other jobs; load average {load_before:.1f} before and "
        f"{os.getloadavg()[0]:.1f} after. Data: `recsys synth --users {args.users} --items "
        f"{args.users // 2} --seed S` (frozen defaults), ingested; default training config "
        f"(C = {config.placement.C}, {config.placement.calibration} calibration, seed "
        f"{config.seed}). Seconds are fit + predict of that variant."
    )
    begin = f"<!-- placement_quality users={args.users} begin -->"
    write_section(render(args.users, runs, header), begin, begin.replace("begin", "end"))
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
