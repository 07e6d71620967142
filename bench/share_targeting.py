"""Share targeting on held-out group buys and edges, against its baselines; completion chance.

Data sets (each cached under bench/_work/share/ and reused; --regenerate rebuilds):

* synthetic: `recsys synth --users N --seed S` (frozen defaults), ingested; held out by time
  (the newest 20% of group buys), validation the newest 15% before the cut. Circle affinities
  come from `CirclePlacer` on the engagement before the cut without group buys (its CF input
  from ALS on item events before the cut, never group joins: they are the labels); the ranker
  reads no CF feature, as training ships it; the item-affinity baseline uses ALS on events and
  group buys before the cut.
* brightkite-gb: `recsys import brightkite-gb ../shared/datasets/brightkite_gb_j2prec`; the
  fixed split (train_id.txt / test.txt), validation a random 15% of the training groups
  (tune.txt equals test.txt: never used). Items are venues people return to, so the headline
  is without the bought-before exclusion; the exclusion-on figures stand beside.
* lastfm-hetrec: `recsys import lastfm-hetrec ...`; random friend-artist edges held out.

Writes bench/results/share_targeting.md (one section per data set), the reliability plot
bench/results/share_targeting_reliability.png and bench/_work/share/<set>/result.json.

    .venv/bin/python bench/share_targeting.py synthetic --users 1000000 --seed 0
    .venv/bin/python bench/share_targeting.py brightkite-gb lastfm-hetrec
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from pipelines.import_job import run_import
from recsys.circles import CircleCatalogue
from recsys.datastore import DataDir
from recsys.evaluation.share_splits import edge_holdout, split_groups
from recsys.evaluation.share_targeting import (
    METHODS,
    circle_affinity_before,
    evaluate_share_targeting,
    fit_factors,
    interaction_matrix,
    plot_reliability,
)
from recsys.idmap import IdMap
from recsys.ingest import ingest
from recsys.placement.features import smoothed_shares
from recsys.social.history import load_share_history
from recsys.social.share_targeting import ShareTargetingConfig
from recsys.synth import SynthConfig, generate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "_work" / "share"
REPORT = HERE / "results" / "share_targeting.md"
PLOT = HERE / "results" / "share_targeting_reliability.png"
SHARED = ROOT.parent / "shared" / "datasets"
FOLDERS = {"brightkite-gb": "brightkite_gb_j2prec", "lastfm-hetrec": "lastfm_hetrec2k"}
logger = logging.getLogger("bench.share_targeting")


def data_dir(name: str, args: argparse.Namespace) -> Path:
    """The ingested data directory of a set, built on first use."""
    root = WORK / (f"synthetic_u{args.users}_s{args.seed}" if name == "synthetic" else name)
    data = root / "data"
    if args.regenerate and root.exists():
        shutil.rmtree(root)
    if (data / "ingest_report.json").is_file():
        return data
    if name == "synthetic":
        generate(SynthConfig(n_users=args.users, seed=args.seed, progress=False), root / "raw")
        ingest(root / "raw", data)
    else:
        run_import(name, args.shared / FOLDERS[name], data)
    return data


def history_shares(history, n_circles: int) -> np.ndarray:
    """Circle shares of each user's item events (data without posts: placement's fallback)."""
    import scipy.sparse as sp

    circle = history.item_circle[history.event_item]
    ok = circle >= 0
    counts = sp.csr_matrix(
        (np.ones(int(ok.sum())), (history.event_user[ok], circle[ok])),
        shape=(history.n_users, n_circles),
    )
    return smoothed_shares(counts, 1.0)


def run(name: str, args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    data = DataDir(data_dir(name, args))
    users = IdMap.load(data.idmap_path("users"))
    items = IdMap.load(data.idmap_path("items"))
    catalogue = CircleCatalogue.from_table(data.read_table("circles"))
    history = load_share_history(data, users, items, catalogue)
    config = ShareTargetingConfig(random_state=args.seed)
    affinity = ranker = baseline = None
    if name == "lastfm-hetrec":
        task = edge_holdout(history, seed=args.seed)
        ranker = fit_factors(interaction_matrix(task.history, with_groups=False), args.seed)
        baseline = ranker
        affinity = history_shares(task.history, len(catalogue))
        exclusions: tuple[bool, ...] = (True,)
    elif name == "brightkite-gb":
        split = pq.read_table(data.root / "meta" / "split.parquet").to_pandas()
        fold = split.set_index("group_id")["fold"].reindex(history.group_id).to_numpy()
        task = split_groups(history, test_fold=fold == "test", seed=args.seed)
        # Venues are revisited: the ranker learns without the bought-before rule (the
        # headline); the exclusion-on figures apply it to the same ranking.
        config = config.model_copy(update={"bought_window_days": None})
        # Only group buys to learn CF from: the ranker gets none (its training groups' own
        # joins would be in it), the item-affinity baseline gets ALS over the training groups.
        baseline = fit_factors(interaction_matrix(task.history, with_groups=True), args.seed)
        exclusions = (False, True)
    else:
        task = split_groups(history, seed=args.seed)
        # Placement reads CF factors of events without group joins (before the cut); the
        # ranker itself reads no CF, as training ships it (the scorer learned from joins).
        placement_factors = fit_factors(interaction_matrix(task.history, with_groups=False),
                                        args.seed)  # fmt: skip
        baseline = fit_factors(interaction_matrix(task.history, with_groups=True), args.seed)
        cut = int(task.test[0].time.min())
        affinity = circle_affinity_before(
            data, users, catalogue, task.history.friends(),
            placement_factors[0] if placement_factors else None, cut, seed=args.seed,
        )  # fmt: skip
        exclusions = (False, True)
    prep_s = time.perf_counter() - started
    result = evaluate_share_targeting(
        task, config, circle_affinity=affinity, ranker_factors=ranker, baseline_factors=baseline,
        exclusions=exclusions, seed=args.seed,
    )  # fmt: skip
    completion = {k: v for k, v in result.completion.items() if k != "model"}
    out = {
        "dataset": name, "metrics": result.metrics, "facts": result.facts,
        "importance": result.importance, "completion": completion,
        "users": len(users), "groups": history.n_groups, "seed": args.seed,
        "prep_s": prep_s, "total_s": time.perf_counter() - started,
        "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "config": config.model_dump(mode="json"),
        "finished": datetime.now(UTC).isoformat(timespec="minutes"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "recsys", "bench/share_targeting.py")),
        "command": " ".join([".venv/bin/python", "bench/share_targeting.py", name]
                            + ([f"--users {args.users}"] if name == "synthetic" else [])
                            + [f"--seed {args.seed}"]),
    }  # fmt: skip
    path = data.root.parent / "result.json"
    path.write_text(json.dumps(out, indent=1, default=float))
    return out


def _git(*argv: str) -> str:
    return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True,
                          check=False).stdout.strip()  # fmt: skip


def section(r: dict) -> str:
    name = r["dataset"]
    f = r["facts"]
    lines = [f"<!-- share_targeting {name} begin -->", f"### {name}", ""]
    lines.append(
        f"`{r['command']}` (commit {r['commit']}{' + local changes' if r['dirty'] else ''}, "
        f"{r['finished']} UTC; {platform.machine()}, {os.cpu_count()} shared cores, load "
        f"{r['load'][0]} before / {r['load'][1]} after; {r['total_s']:.0f} s in all, ranker fit "
        f"{f['fit_s']:.0f} s, {f['rounds']} rounds). {r['users']:,} users, {r['groups']:,} "
        f"group buys. Task: {f['task']}. {f['test_queries']:,} held-out queries, "
        f"{f['test_joiners']:,} joiners; {f['train_queries']:,} training and "
        f"{f['valid_queries']:,} validation queries."
    )
    lines += ["", "| bought-before exclusion | method | Recall@5 | Recall@10 | NDCG@10 | MRR |",
              "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for setting, by_method in r["metrics"].items():
        best = max(by_method[m]["recall@5"] for m in METHODS if m != "model")
        for method in METHODS:
            v = by_method[method]
            mark = "**" if method == "model" else ""
            lines.append(
                f"| {setting.split('_')[1]} | {mark}{method}{mark} | {v['recall@5']:.4f} | "
                f"{v['recall@10']:.4f} | {v['ndcg@10']:.4f} | {v['mrr']:.4f} |"
            )
        lines.append(f"| {setting.split('_')[1]} | model - best baseline (Recall@5) | "
                     f"{by_method['model']['recall@5'] - best:+.4f} | | | |")  # fmt: skip
    c = r.get("completion") or {}
    if "brier_model" in c:
        lines += ["", f"Completion chance on {c['groups']:,} held-out groups with an outcome "
                  f"({c['completed']:,} completed): Brier {c['brier_model']:.4f} against "
                  f"{c['brier_base_rate']:.4f} for the base rate ({c['base_rate']:.3f}); "
                  f"reliability plot `{PLOT.name}`."]  # fmt: skip
    elif c:
        lines += ["", f"Completion chance: {c['skipped']}."]
    top = sorted(r["importance"].items(), key=lambda kv: -kv[1])[:6]
    lines += ["", "Largest gain shares of the ranker: "
              + ", ".join(f"{k} {v:.2f}" for k, v in top) + "."]  # fmt: skip
    lines.append(f"<!-- share_targeting {name} end -->")
    return "\n".join(lines)


def write_section(text: str, name: str) -> None:
    begin, end = f"<!-- share_targeting {name} begin -->", f"<!-- share_targeting {name} end -->"
    old = REPORT.read_text() if REPORT.exists() else "# Share targeting\n"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + text + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    REPORT.write_text(new)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", choices=["synthetic", *FOLDERS])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in args.datasets:
        r = run(name, args)
        write_section(section(r), name)
        if r.get("completion", {}).get("reliability"):
            plot_reliability({f"{name} (seed {r['seed']})": r["completion"]["reliability"]},
                             PLOT, "Completion chance on held-out synthetic group buys")
        print(json.dumps({k: r[k] for k in ("dataset", "metrics", "completion")}, default=float))
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main(sys.argv[1:])
