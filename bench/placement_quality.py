"""Circle placement quality on the pipeline's synthetic data: learned placer vs the plain rule.

Per seed: `recsys synth` (frozen defaults, or `--homophily` / `--noise-share`; --users N,
items N / 2) and `recsys ingest` into bench/_work/placement/ (kept and reused; --regenerate
rebuilds), then the inputs `recsys train` gives `steps.place_users` (ALS user factors from the
default config, the circle engagement matrices, the planted truth, the friendship graph).
Then, scored with `placement_report` against the planted members (truth is used for nothing
else), for all users, users without UGC, labelled / unlabelled users and each band of item
events (< 5, 5-19, 20-39, 40+):

* plain rule: circles with >= 0.15 of the user's item events (the manifest's baseline);
* history frequency: the same shares of all history with F1-tuned thresholds (tuned variant);
* placer (model only): `CirclePlacer` with factors and friends, its own members everywhere;
* placer (shipped): the same with the per-segment switch to the plain rule chosen on
  validation copies, as `steps.place_users` places users.

Writes its section (one per user count and generator setting) of bench/results/placement.md.

    .venv/bin/python bench/placement_quality.py --users 20000 --seeds 0 1 2
    .venv/bin/python bench/placement_quality.py --users 20000 --seeds 0 1 2 \
        --homophily 0.3 --noise-share 0.4
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
from recsys.placement.decision import select_members
from recsys.placement.features import row_shares
from recsys.placement.placer import SEGMENTS
from recsys.placement.plain_rule import (
    BAND_NAMES,
    PLAIN_RULE_KIND,
    placement_subsets,
    plain_rule_members,
)
from recsys.placement.social import load_friends
from recsys.recipe import TrainConfig
from recsys.synth import SynthConfig, generate
from recsys.training import steps

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "placement"
REPORT = HERE / "results" / "placement.md"
SUBSETS = ("all", "no_ugc", "labelled", "unlabelled", *BAND_NAMES)
METRICS = ("micro_f1", "macro_f1", "ece", "brier", "mean_members_pred", "mean_members_truth")
VARIANTS = ("plain rule", "history frequency", "placer (model only)", "placer (shipped)")


def dataset(users: int, seed: int, regenerate: bool, knobs: dict[str, float]) -> tuple[Path, Path]:
    """Ingested data dir and truth dir of one synthetic set, generated on first use."""
    tag = "".join(f"_{k}{v}" for k, v in sorted(knobs.items()))
    root = WORK / f"u{users}_s{seed}{tag}"
    raw, processed = root / "raw", root / "processed"
    if regenerate or not (processed / "ingest_report.json").exists():
        shutil.rmtree(root, ignore_errors=True)
        config = SynthConfig(n_users=users, n_items=users // 2, seed=seed, progress=False, **knobs)
        generate(config, raw)
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
    """Variant -> subset -> metric figures, with fit + predict seconds."""
    engagement: dict[str, sp.csr_matrix] = x["engagement"]  # type: ignore[assignment]
    factors: np.ndarray = x["factors"]  # type: ignore[assignment]
    truth_members, truth_weights = x["truth"]  # type: ignore[misc]
    labels, labelled = ugc_labels(engagement["posts_written"], engagement["posts_engaged"])
    masks = placement_subsets(engagement, labelled)
    history = history_counts(engagement)
    results: dict[str, dict[str, dict]] = {}

    def score(name: str, members: np.ndarray, proba: np.ndarray, seconds: float) -> None:
        report = placement_report(
            members, proba, truth_members, truth_weights, x["circle_ids"], subset_masks=masks
        )
        results[name] = {s: {m: report["subsets"][s][m] for m in METRICS} for s in SUBSETS}
        results[name]["all"]["seconds"] = seconds

    start = time.perf_counter()
    shares = row_shares(engagement[PLAIN_RULE_KIND])
    score("plain rule", plain_rule_members(engagement[PLAIN_RULE_KIND]), shares,
          time.perf_counter() - start)  # fmt: skip
    start = time.perf_counter()
    base = HistoryFrequencyBaseline(min_members=config.placement.min_members)
    base.fit(history, labels, labelled)
    proba = base.predict_proba(history)
    score("history frequency", base.members_from_proba(proba), proba,
          time.perf_counter() - start)  # fmt: skip
    start = time.perf_counter()
    placer = CirclePlacer(
        C=config.placement.C,
        calibration=config.placement.calibration,
        min_members=config.placement.min_members,
        random_state=config.seed,
    ).fit(engagement, factors, x["friends"])
    proba = placer.predict_proba(engagement, factors, x["friends"])
    seconds = time.perf_counter() - start
    model_only = select_members(proba, placer.thresholds_, min_members=placer.min_members,
                                max_members=placer.max_members)  # fmt: skip
    score("placer (model only)", model_only, proba, seconds)
    score("placer (shipped)", placer.members_from_proba(proba, engagement), proba, seconds)
    # Each segment the rule places, with the share of bootstrap resamples the model won.
    results["placer (shipped)"]["all"]["rule_segments"] = [
        f"{s} ({w:.2f})"
        for s, r, w in zip(SEGMENTS, placer.use_rule_, placer.segment_wins_, strict=True)
        if r
    ]
    return results


def render(users: int, runs: dict[int, dict], header: str, tag: str) -> str:
    """Per seed: micro F1 per subset and variant; then the means and the shipped minus rule."""
    begin = f"<!-- placement_quality users={users}{tag} begin -->"
    lines = [begin, header, ""]
    heads = ["all", "no UGC", "labelled", "unlabelled", "< 5", "5-19", "20-39", "40+"]
    lines += [
        "| seed | variant | " + " | ".join(heads) + " | members (truth) | ECE all | s |",
        "|---:|---|" + "---:|" * len(heads) + "---:|---:|---:|",
    ]
    for seed, res in runs.items():
        for name in VARIANTS:
            r = res[name]
            lines.append(
                f"| {seed} | {name} | " + " | ".join(f"{r[s]['micro_f1']:.3f}" for s in SUBSETS)
                + f" | {r['all']['mean_members_pred']:.2f} ({r['all']['mean_members_truth']:.2f})"
                f" | {r['all']['ece']:.3f} | {r['all']['seconds']:.1f} |"
            )
        switched = res["placer (shipped)"]["all"]["rule_segments"]
        lines.append(f"| {seed} | rule segments (model's bootstrap wins) | "
                     f"{', '.join(switched) or 'none'} |" + " |" * (len(heads) + 2))
    for name in VARIANTS:
        mean = {s: np.mean([res[name][s]["micro_f1"] for res in runs.values()]) for s in SUBSETS}
        members = np.mean([res[name]["all"]["mean_members_pred"] for res in runs.values()])
        truth = np.mean([res[name]["all"]["mean_members_truth"] for res in runs.values()])
        lines.append(f"| mean | {name} | " + " | ".join(f"{mean[s]:.3f}" for s in SUBSETS)
                     + f" | {members:.2f} ({truth:.2f}) | | |")  # fmt: skip
    diff = {
        s: [res["placer (shipped)"][s]["micro_f1"] - res["plain rule"][s]["micro_f1"]
            for res in runs.values()]
        for s in SUBSETS
    }  # fmt: skip
    lines.append("| min over seeds | shipped - plain rule | "
                 + " | ".join(f"{min(diff[s]):+.3f}" for s in SUBSETS) + " | | | |")  # fmt: skip
    lines.append(begin.replace("begin", "end"))
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
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--homophily", type=float, default=None)
    parser.add_argument("--noise-share", type=float, default=None)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    knobs = {k: v for k, v in (("homophily", args.homophily),
                               ("noise_share", args.noise_share)) if v is not None}  # fmt: skip
    config = load_config(TrainConfig, DEFAULT_CONFIG)
    load_before = os.getloadavg()[0]
    runs = {}
    for seed in args.seeds:
        processed, truth = dataset(args.users, seed, args.regenerate, knobs)
        runs[seed] = evaluate(inputs(processed, truth, config), config)
        for name, r in runs[seed].items():
            print(f"seed {seed} {name:<20} " + "  ".join(
                f"{s} {r[s]['micro_f1']:.3f}" for s in SUBSETS
            ) + f"  members {r['all']['mean_members_pred']:.2f}/"
                f"{r['all']['mean_members_truth']:.2f}", flush=True)  # fmt: skip
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
    setting = ", ".join(f"{k} {v}" for k, v in knobs.items()) or "frozen defaults"
    flags = "".join(f" --{k.replace('_', '-')} {v}" for k, v in knobs.items())
    header = (
        f"### {args.users:,} users, {setting}, seeds {', '.join(map(str, args.seeds))}\n\n"
        f"`python bench/placement_quality.py --users {args.users} --seeds "
        f"{' '.join(map(str, args.seeds))}{flags}` (commit {commit}"
        f"{' + local changes' if dirty else ''}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC). "
        f"Machine: {os.cpu_count()} cores ({cpu}), shared with other jobs; load average "
        f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after. Data: `recsys synth "
        f"--users {args.users} --items {args.users // 2} --seed S` ({setting}), ingested; "
        f"default training config (C = {config.placement.C}, {config.placement.calibration} "
        f"calibration, seed {config.seed}). Micro F1 against the planted members; seconds are "
        "fit + predict."
    )
    tag = "".join(f" {k}={v}" for k, v in knobs.items())
    text = render(args.users, runs, header, tag)
    begin = f"<!-- placement_quality users={args.users}{tag} begin -->"
    write_section(text, begin, begin.replace("begin", "end"))
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
