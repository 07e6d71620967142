"""Results table for every shared data set: import, evaluate (tuned baselines vs shipped), tabulate.

    .venv/bin/python bench/datasets_table.py                       # every data set
    .venv/bin/python bench/datasets_table.py --datasets movielens-1m --trials 6

Each set is imported from ../shared/datasets into bench/_work/<name>/data (git-ignored; reused
when already there, --reimport to redo), evaluated by `pipelines.evaluate.run_evaluate` on its
split, and its results are cached as bench/_work/<name>/result.json. The table
(bench/results/datasets.md) is rebuilt from every cached result, so data sets can be rerun one
at a time. Tuned recipes go to pipelines/configs/tuned/<name>.toml (+ .baselines.toml).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from pipelines.evaluate import DEFAULT_CONFIG, run_evaluate
from pipelines.import_job import run_import
from recsys.config import load_config
from recsys.evaluation.harness import BASELINES
from recsys.idmap import IdMap
from recsys.training.config import TrainConfig

logger = logging.getLogger("bench.datasets_table")
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
WORK = ROOT / "bench" / "_work"

#: name -> (shared folder, split). ML-1M and Brightkite bring fixed folds; Amazon is an ordered
#: sequence and ML-100K's global temporal cut leaves ~100 test users, so both hold out each
#: user's last item; Last.fm has no times (random); Taobao is dated by day (global temporal).
DATASETS: dict[str, tuple[str, str]] = {
    "movielens-100k": ("movielens_100k", "leave_last_out"),
    "movielens-1m": ("movielens_1m", "fixed"),
    "lastfm-hetrec": ("lastfm_hetrec2k", "random"),
    "amazon-beauty": ("amazon_beauty", "leave_last_out"),
    "taobao": ("taobao_ecomm_dyhatr", "temporal"),
    "brightkite-gb": ("brightkite_gb_j2prec", "fixed"),
}
TIE = 5e-4
NOTES = """\
## Notes: where the shipped recipe does not win, and why

- **The shipped recipe beats every tuned baseline on none of the six sets**, so the issue's bar
  (ML-1M, Last.fm, Amazon Beauty) is not met. On ML-1M the default recipe (0.391) beats tuned
  ALS, ItemKNN, BPR and popularity but loses to EASE (0.437). On Last.fm, Brightkite and Taobao
  the gap is the `[cf]` settings: the default `alpha = 1.0` (an observed cell counts only twice
  an unobserved one) with `regularization = 0.05` underfits; with ALS tuned on validation
  (alpha ~5-20, `pipelines/configs/tuned/<name>.toml`) the same recipe (`shipped_tuned`) ties
  tuned ALS: Last.fm 0.180 -> 0.243 NDCG@10 (+35%), Brightkite 0.231 -> 0.237, Taobao
  0.0185 -> 0.0195. Suggestion for the team (defaults are not changed here): raise `cf.alpha`
  to ~5-10 and lower `cf.regularization`, or ship the tuned file per deployment.
- **The content map is neutral for accuracy** (`shipped` vs `shipped_cf_only`, within
  +-0.002 NDCG@10 everywhere): it only changes the vectors of items with < 2 training users,
  which are rarely relevant in these tests. It does move exposure (ML-100K long-tail share
  0.025 -> 0.061; Taobao 0.078 -> 0.001, where the mapped vectors sit near the mean factor).
- **Where a baseline beats even the tuned recipe**: ItemKNN on Amazon Beauty (0.043 vs 0.028;
  5-core purchase sequences with ~9 items per user, where item-to-item co-occurrence of the last
  items is the strongest signal and a 64-factor ALS smooths it away), and EASE on ML-100K (and
  on ML-1M, see its section), as in the literature: EASE is a strong dense-catalogue baseline
  that a low-rank model does not reach. A factor model is what the feed can serve at 1M items
  (EASE's item x item matrix cannot), so these are the honest gaps to close, e.g. with an
  item-kNN or EASE candidate source for small catalogues.
- **EASE was not run above 10,000 items** (Last.fm, Amazon, Taobao, Brightkite) in this bench:
  one trial took 90 s at 3.9k items on this shared machine and grows with the cube of the
  catalogue. Those sections therefore lack the strongest dense baseline.
- Trials are few (2-3 per model, the machine was shared with five other jobs), so tuned values
  are a first search, not an optimum; rerun with `--trials 8` for decisions.
"""


def machine() -> str:
    return (f"{platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs (shared with "
            f"other jobs), Python {platform.python_version()}, numpy {np.__version__}")


def run_one(name: str, args: argparse.Namespace, config: TrainConfig) -> dict:
    folder, split = DATASETS[name]
    work = WORK / name
    data = work / "data"
    started = time.perf_counter()
    if args.reimport and data.exists():
        shutil.rmtree(data)
    if not (data / "dataset.json").is_file():
        run_import(name, SHARED / folder, data)
    import_s = time.perf_counter() - started
    n_users = len(IdMap.load(data / "idmap" / "users.parquet"))
    n_items = len(IdMap.load(data / "idmap" / "items.parquet"))
    baselines = BASELINES
    if n_items > args.ease_max_items:
        # Each EASE trial inverts an n_items x n_items matrix: minutes to an hour per trial
        # on a shared 2-core machine above ~10k items. Left out, and the table says so.
        baselines = tuple(b for b in BASELINES if b != "ease")
    run = run_evaluate(
        data, out_dir=work / "report", split=split, n_trials=args.trials, seed=args.seed,
        baselines=baselines,
        config=config, tuned_dir=args.tuned_dir,
        with_cf_only=True, model_trials=args.model_trials,
    )
    r = run.result
    out = {
        "dataset": name, "split": split, "split_info": r.split_info,
        "n_users": n_users, "n_items": n_items,
        "metrics": r.metrics, "tuned": {m: t.best_params for m, t in r.tuning.items()},
        "valid": {m: t.best_score for m, t in r.tuning.items()},
        "trials": {m: len(t.trials) for m, t in r.tuning.items()},
        "skipped": {**r.skipped, **({"ease": (
            f"{n_items} items > --ease-max-items {args.ease_max_items}: not run in this bench "
            "(one EASE trial inverts an item x item matrix; too slow on the shared 2-core "
            "machine)")} if "ease" not in baselines else {})},
        "seconds": r.seconds,
        "import_s": import_s, "evaluate_s": run.seconds,
        "machine": machine(), "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join([".venv/bin/python", "bench/datasets_table.py", *sys.argv[1:]]),
    }
    (work / "result.json").write_text(json.dumps(out, indent=1, default=float))
    return out


def _params(p: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in p.items())


def table(results: list[dict]) -> str:
    lines = [
        "# Results on every shared data set",
        "",
        "Full ranking over the whole catalogue, each user's training items excluded, Recall@K = "
        "hits / min(K, |relevant|). Every baseline and the shipped recipe's CF settings are tuned "
        "by seeded random search on a validation split carved from train (never test), then "
        "refitted on all of train. `shipped` = the default recipe of "
        "`pipelines/configs/default.toml` exactly as `recsys train` runs it and the feed serves "
        "it (ALS on the event confidence matrix + content-mapped vectors for items with < 2 "
        "training users, blended per user with sparse item-kNN scores; long-tail knob at "
        "zero); `shipped_tuned` = the same recipe with `[cf]` and `[item_knn]` tuned on "
        "validation (its first fit is the default recipe, its second the tuned ALS and "
        "item-kNN baselines' settings together, then random draws; each fit is scored at the "
        "blend weights of `shipped.BLEND_WEIGHTS` and the configured one, so its trial count "
        "is fits x weights). `shipped_cf_only` = the default recipe "
        "without content map and without the item-kNN blend (ALS alone, default `[cf]`).",
        "",
        "Regenerate: `.venv/bin/python bench/datasets_table.py` (see docs/evaluation.md).",
        "",
        "## Summary: NDCG@10 on test",
        "",
        "| data set | split | best baseline | shipped (default) | shipped (tuned [cf]) "
        "| ALS alone, default [cf] | ALS (tuned) | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m = r["metrics"]
        base = {k: v["ndcg@10"] for k, v in m.items() if not k.startswith("shipped")}
        cf_only = m.get("shipped_cf_only", {}).get("ndcg@10", np.nan)
        best = max(base, key=base.get)
        ship, tuned = m["shipped"]["ndcg@10"], m.get("shipped_tuned", {}).get("ndcg@10", np.nan)
        # Differences below TIE are run-to-run noise (seeds, thread order), not a win.
        verdict = ("shipped (default) beats every baseline" if ship > base[best] + TIE else
                   "tuned recipe beats every baseline" if tuned > base[best] + TIE else
                   f"tuned recipe ties {best}" if tuned >= base[best] - TIE else
                   f"{best} wins by {base[best] - max(ship, tuned):.4f}")
        als = f"{base['als']:.4f}" if "als" in base else "-"
        lines.append(f"| {r['dataset']} | {r['split']} | {best} {base[best]:.4f} | {ship:.4f} "
                     f"| {tuned:.4f} | {cf_only:.4f} | {als} | {verdict} |")
    for r in results:
        info = r["split_info"]
        lines += [
            "", f"## {r['dataset']}", "",
            f"{r['n_users']} users x {r['n_items']} items. "
            f"Split `{r['split']}`: {info.get('n_train')} train / {info.get('n_test')} test rows, "
            f"{info.get('n_test_users')} test users; validation: "
            f"{info.get('validation', {}).get('method')} on train. Dropped from test: unknown "
            f"user {info.get('dropped_unknown_user')}, unknown item "
            f"{info.get('dropped_unknown_item')}, seen in train "
            f"{info.get('dropped_seen_in_train', 0)}." + (
                f" Fallback: {info['fallback']}." if "fallback" in info else ""),
            "",
            "| model | NDCG@10 | Recall@10 | NDCG@20 | Recall@20 | coverage@10 | long-tail "
            "share@10 | valid NDCG@10 | tuned settings (trials) | tune+fit s |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for model, x in r["metrics"].items():
            key = "shipped" if model == "shipped_tuned" else model
            untuned = model in ("shipped", "shipped_cf_only")
            params = (_params(r["tuned"][key]) + f" ({r['trials'][key]})"
                      if key in r["tuned"] and not untuned else
                      "default [cf], ALS alone" if model == "shipped_cf_only" else
                      "default recipe")
            valid = r["valid"].get(key) if not untuned else None
            lines.append(
                f"| {model} | {x['ndcg@10']:.4f} | {x['recall@10']:.4f} | {x['ndcg@20']:.4f} "
                f"| {x['recall@20']:.4f} | {x['coverage@10']:.4f} | "
                f"{x['long_tail_share@10']:.4f} | {'' if valid is None else f'{valid:.4f}'} "
                f"| {params} | {r['seconds'].get(model, 0):.0f} |")
        if r["skipped"]:
            lines += ["", "Not run: " + "; ".join(f"{k}: {v}" for k, v in r["skipped"].items())]
        lines += ["", f"Run: import {r['import_s']:.0f} s, evaluate {r['evaluate_s']:.0f} s, "
                  f"finished {r['finished']} on {r['machine']}. Command: `{r['command']}`."]
    return "\n".join(lines) + "\n\n" + NOTES


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--model-trials", nargs="*", default=[], metavar="MODEL=N",
                        help="Per-model trial counts, e.g. bpr=3 ease=3 (slow models).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reimport", action="store_true")
    parser.add_argument("--tuned-dir", type=Path, default=ROOT / "pipelines/configs/tuned")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/datasets.md")
    parser.add_argument("--ease-max-items", type=int, default=10_000)
    parser.add_argument("--table-only", action="store_true",
                        help="Rebuild the table from the cached results only.")
    args = parser.parse_args(argv)
    args.model_trials = {m: int(n) for m, _, n in (x.partition("=") for x in args.model_trials)}
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(TrainConfig, DEFAULT_CONFIG)
    for name in [] if args.table_only else args.datasets:
        logger.info("=== %s ===", name)
        run_one(name, args, config)
        write_table(args.out)
    write_table(args.out)


def write_table(out: Path) -> None:
    """Rebuild the table from every cached result.json (any run, any subset of data sets)."""
    cached = [json.loads((WORK / n / "result.json").read_text())
              for n in DATASETS if (WORK / n / "result.json").is_file()]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table(cached))
    logger.info("table updated: %s (%d data sets)", out, len(cached))


if __name__ == "__main__":
    main(sys.argv[1:])
