"""The ranked recommender (sources -> LightGBM ranker) against tuned baselines, with intervals.

    .venv/bin/python bench/ranker_table.py                         # every set + synthetic
    .venv/bin/python bench/ranker_table.py --datasets movielens-1m # one section
    .venv/bin/python bench/ranker_table.py --table-only            # rebuild the table

Each shared data set is imported (as bench/datasets_table.py does, into bench/_work/<name>/
data, reused when there) and split as in bench/results/datasets.md. Its baselines take the
settings that table's seeded random search chose on the same validation split
(pipelines/configs/tuned/<name>.baselines.toml, whose [tuning.*] tables record the trial
counts: those of bench/results/datasets.md); re-running that search with the same seed gives the
same settings, so they are refitted on train as they are (`--retune` runs the search again).
The synthetic sample is `recsys synth --users 20000 --seed S` ingested, split by time; its
baselines are tuned here with 4 trials each (BPR 2, EASE 3, RP3beta 16), as the smaller sets
of datasets.md. "ranked" is the default
recipe (`RankedConfig()`), fitted on the train split with its side data; it tunes itself
inside on a label fold of train, never on test. The paired bootstrap of the per-user NDCG@10
difference is taken against the baseline best *on test* (the strictest comparison).
Results are cached as bench/_work/<name>/ranker.json; the table is bench/results/ranker.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets_table as dt  # noqa: E402  (a sibling script: one place for its settings)

from pipelines.evaluate import DEFAULT_CONFIG  # noqa: E402
from pipelines.import_job import run_import  # noqa: E402
from recsys.config import load_config  # noqa: E402
from recsys.evaluation.evaluate import compare_models  # noqa: E402
from recsys.evaluation.harness import (  # noqa: E402
    _FIXED,
    _MODEL_OF,
    BASELINE_SPACES,
    BASELINES,
    prepare,
)
from recsys.evaluation.tuning import tune  # noqa: E402
from recsys.feeds.config import RankedConfig  # noqa: E402
from recsys.ingest.runner import ingest  # noqa: E402
from recsys.metrics.ranking import paired_bootstrap  # noqa: E402
from recsys.recipe import TrainConfig  # noqa: E402
from recsys.recommenders.ease import MAX_ITEMS as EASE_MAX_ITEMS  # noqa: E402
from recsys.recommenders.ranked import RankedRecommender  # noqa: E402
from recsys.recommenders.registry import recommender_class  # noqa: E402
from recsys.recommenders.shipped import ShippedRecommender  # noqa: E402
from recsys.synth import SynthConfig, generate  # noqa: E402

logger = logging.getLogger("bench.ranker_table")
SYNTH_USERS = 20_000
SYNTH = {f"synth20k-s{s}": dt.BenchSet(f"seed {s}", "temporal", trials=4) for s in (0, 1, 2)}
SETS: dict[str, dt.BenchSet] = {**dt.DATASETS, **SYNTH}
#: Where the issue puts the bar: interval above 0 here, its upper end >= 0 elsewhere.
STRICT = ("movielens-1m", "amazon-beauty", "lastfm-hetrec", *SYNTH)
_SHOWN = ("ndcg@10", "recall@10", "coverage@10", "gini@10", "long_tail_share@10")


def _data_dir(name: str, args: argparse.Namespace) -> Path:
    data = dt.WORK / name / "data"
    if (data / "idmap").is_dir():
        return data
    if name in SYNTH:
        raw = dt.WORK / name / "raw"
        generate(SynthConfig(n_users=SYNTH_USERS, seed=int(name.rsplit("s", 1)[1])), raw)
        ingest(raw, data)
    else:
        run_import(name, args.shared / SETS[name].folder, data)
    return data


def run_one(name: str, args: argparse.Namespace, version: dict[str, Any]) -> dict[str, Any]:
    spec = SETS[name]
    started, load_before = time.perf_counter(), dt.load()
    data = _data_dir(name, args)
    config = load_config(TrainConfig, DEFAULT_CONFIG)
    p = prepare(data, split=spec.split, config=config, seed=args.seed, with_side=True)
    baselines = tuple(b for b in BASELINES if b != "ease" or p.train.shape[1] <= EASE_MAX_ITEMS)
    tuned_file = dt.ROOT / "pipelines/configs/tuned" / f"{name}.baselines.toml"
    models, tuned, trials, seconds = {}, {}, {}, {}
    recorded = {} if args.retune or not tuned_file.is_file() else tomllib.loads(
        tuned_file.read_text())
    for b in baselines:
        t0 = time.perf_counter()
        model = _MODEL_OF.get(b, b)
        fixed = _FIXED.get(model, {})
        if b in recorded:
            tuned[b] = dict(recorded[b])
            trials[b] = int(recorded["tuning"][b]["n_trials"])
        else:
            n = spec.model_trials.get(b, spec.trials)
            result = tune(model, BASELINE_SPACES[b], p.inner_train, p.valid, n_trials=n,
                          seed=args.seed, fixed_params=fixed, label=b)
            tuned[b], trials[b] = result.best_params, len(result.trials)
        models[b] = recommender_class(model)(**fixed, **tuned[b]).fit(p.train,
                                                                       show_progress=False)
        seconds[b] = time.perf_counter() - t0
    t0 = time.perf_counter()
    models["shipped"] = ShippedRecommender(config=config, content=p.content).fit(
        p.train, show_progress=False)
    seconds["shipped"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    label = {"temporal": "temporal", "leave_last_out": "last"}.get(
        p.split.info.get("method"), "random")
    ranked = RankedRecommender(config=RankedConfig(seed=args.seed, label_split=label))
    models["ranked"] = ranked.fit(p.train, side=p.side, show_progress=False)
    seconds["ranked"] = time.perf_counter() - t0
    comparison = compare_models(models, p.train, p.test, ks=(10, 20),
                                item_interactions=p.train_events)
    metrics = comparison.metrics
    base = {m: v["ndcg@10"] for m, v in metrics.items() if m in BASELINES}
    best = max(base, key=base.get)
    per_user = comparison.per_user_ndcg
    boot = {m: paired_bootstrap(per_user["ranked"], per_user[m], seed=args.seed)
            for m in (*base, "shipped")}
    out = {
        "dataset": name, "split": spec.split,
        "n_users": int(p.train.shape[0]), "n_items": int(p.train.shape[1]),
        "metrics": {m: {k: v[k] for k in _SHOWN} for m, v in metrics.items()},
        "best_baseline": best, "bootstrap": boot,
        "split_info": p.split.info, "tuned": tuned, "trials": trials,
        "baselines_from": (str(tuned_file.relative_to(dt.ROOT)) if recorded else "tuned here"),
        "skipped": {} if "ease" in baselines else {"ease": "catalogue above EASE's limit"},
        "seconds": seconds, "ranked_report": ranked.report_,
        "machine": dt.machine(), "load": [load_before, dt.load()], **version,
        "wall_s": round(time.perf_counter() - started, 1),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": dt.command(sys.argv[1:]).replace("datasets_table", "ranker_table"),
    }
    (dt.WORK / name / "ranker.json").write_text(json.dumps(out, indent=1, default=float))
    return out


NOTES = """\
## Notes: what the runs say

- **Where the gain comes from.** On the platform-like synthetic sample (temporal split) the
  ranker's largest feature gains are the sources' z-scores over the user's candidates (EASE
  first), then side data the public sets lack: the item's trend (users gained in the latest
  tenth of the time), the user's share of items in the candidate's circle, circle trends and
  item age. On MovieLens-1M (no times, no side data but genres) the ranker alone was not better
  than EASE on held-out label users; the blend the fit chose there (ranker z-score + 0.25 x
  EASE's) is, by +0.0030 on test. On ML-100K (leave-last-out) the similarity of a candidate to
  the user's latest items under RP3beta, item-kNN and EASE (sequence features) carries the
  ranker; on Brightkite the friends source (friends who joined a group buy of the item: 64% of
  the gain); on Taobao popularity, the circle share and the price gap.
- **What serves is chosen on train.** Each fit holds out 10% of its label users (at most
  5,000) and picks the plain ranker, the ranker blended with one source, or one source alone
  by their NDCG@10; the choice and every option's score are in the section's fit record
  (`first_fit`). On ML-100K an earlier version without the blend served EASE alone (the
  ranker lost on 94 held-out users) and tied it; with the blend the ranker serves.
- **Coverage and exposure.** The ranked lists are more concentrated than plain CF: catalogue
  coverage@10 and exposure Gini@10 sit between ALS and EASE on the synthetic sample (coverage
  0.47-0.56 vs ALS 0.53-0.55, Gini 0.85-0.90 vs ALS 0.77-0.79) and long-tail share@10 is lower
  than ALS's; far from popularity (coverage 0.01, Gini 0.995). No re-ranking is applied here
  (`tail_weight` 0).
- **Cost.** A fit tunes the sources (budget 300 s), fits them twice (label fold, then all of
  train) and trains two LightGBM rankers: 4.5-12 min per set on these runs, with the 2 cores
  shared with other jobs at load average 9-18; Amazon Beauty (22k users x 12k items, EASE
  ~5 min a fit under that load) took far longer. `tune_budget_s`, `ranker.max_rows` and the
  sources' `n` are the knobs.
- **EASE past 20,000 items** is left out with the reason in the fit record (Taobao, 36k items):
  RP3beta, ALS and item-kNN cover the catalogue; no scalable EASE approximation (sansa) is
  used, so no system library is needed.
"""


def _fmt_interval(b: list[float]) -> str:
    return f"{b[0]:+.4f} [{b[1]:+.4f}, {b[2]:+.4f}]"


def _sections(text: str) -> dict[str, str]:
    """A rendered table's `## ` sections by heading (the text before the first: key "")."""
    parts = ("\n" + text).split("\n## ")
    return {"": parts[0].lstrip("\n"), **{p.split("\n", 1)[0]: "## " + p for p in parts[1:]}}


def table(results: list[dict[str, Any]], existing: str = "") -> str:
    """The markdown of `results`; a data set without a result keeps its summary row and section
    from `existing` (the table as it stands), and so do sections this script does not write
    (e.g. bench/served_ranked.py's), so re-running one data set loses none of the others."""
    old = _sections(existing) if existing else {}
    old_rows = {line.split("|")[1].strip(): line for line in
                old.get("Summary: NDCG@10 on test", "").splitlines() if line.startswith("| ")}
    by_name = {r["dataset"]: r for r in results}
    lines = [
        "# The ranked recommender (sources -> learned ranker) against tuned baselines",
        "",
        "`ranked` = `RankedRecommender` with the default recipe (`recsys.feeds.config."
        "RankedConfig`): candidates from EASE (catalogues up to 20k items), RP3beta, ALS, "
        "popularity and, where the data has them, friends, circle trends and content; "
        "features per (user, candidate); LightGBM lambdarank learned on a label fold of the "
        "train split (by time, each user's last item, or at random, as the test fold was cut), "
        "sources tuned on that fold within a time budget and refitted on all of train. The "
        "plain order: ranker output after excluding each user's training items, no re-ranking. "
        "Baselines are tuned on a validation split of train by the seeded search of "
        "bench/results/datasets.md (its settings and trial counts; the synthetic sets' here). "
        "`shipped` = the current default recipe of "
        "`recsys train` (ALS). Difference = ranked minus the baseline best on test, mean per "
        "user NDCG@10 with its 95% paired-bootstrap interval (2,000 resamples of users).",
        "",
        "Regenerate: `.venv/bin/python bench/ranker_table.py` (see its docstring).",
        "",
        "## Summary: NDCG@10 on test",
        "",
        "| data set | split | best baseline | ranked | difference [95% interval] | bar | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in SETS:
        if name not in by_name:
            if name in old_rows:
                lines.append(old_rows[name])
            continue
        r = by_name[name]
        m, best = r["metrics"], r["best_baseline"]
        b = r["bootstrap"][best]
        strict = r["dataset"] in STRICT
        met = b[1] > 0 if strict else b[2] >= 0
        lines.append(
            f"| {r['dataset']} | {r['split']} | {best} {m[best]['ndcg@10']:.4f} | "
            f"{m['ranked']['ndcg@10']:.4f} | {_fmt_interval(b)} | "
            f"{'lower end > 0' if strict else 'upper end >= 0'} | {'yes' if met else 'NO'} |")
    for name in SETS:
        if name not in by_name:
            if name in old:
                lines += ["", old[name].rstrip("\n")]
            continue
        r = by_name[name]
        lines += ["", f"## {r['dataset']}", "",
                  f"{r['n_users']} users x {r['n_items']} items, split `{r['split']}`.", "",
                  "| model | NDCG@10 | Recall@10 | coverage@10 | Gini@10 | long-tail share@10 "
                  "| ranked minus it [95%] | settings (trials) | s |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, v in r["metrics"].items():
            boot = r["bootstrap"].get(name)
            tuned = r["tuned"].get(name)
            settings = (", ".join(f"{k}={x}" for k, x in tuned.items()) +
                        f" ({r['trials'][name]})") if tuned else ""
            lines.append(
                f"| {name} | {v['ndcg@10']:.4f} | {v['recall@10']:.4f} | "
                f"{v['coverage@10']:.4f} | {v['gini@10']:.4f} | {v['long_tail_share@10']:.4f} "
                f"| {_fmt_interval(boot) if boot else ''} | {settings} | "
                f"{r['seconds'].get(name, 0):.0f} |")
        rep = r.get("ranked_report") or {}
        if rep:
            lines += ["", "Ranked fit (first fit: sources on the fit part, NDCG@10 on held-out "
                      "label users; then the refit on all of train):", "",
                      "```json", json.dumps(rep, indent=1, default=float), "```"]
        if r["skipped"]:
            lines += ["", f"Not run: {r['skipped']}"]
        lines += ["", f"Run: wall {r['wall_s']} s, finished {r['finished']} on {r['machine']}"
                  f"{dt._load(r)}. {dt._version(r)}. Command: `{r['command']}`."]
    others = [text.rstrip("\n") for head, text in old.items()
              if head and head not in SETS and not head.startswith(("Summary", "Notes"))]
    return "\n".join(lines) + "\n\n" + NOTES + "".join("\n" + o + "\n" for o in others)


def write_table(out: Path) -> None:
    cached = [json.loads((dt.WORK / n / "ranker.json").read_text())
              for n in SETS if (dt.WORK / n / "ranker.json").is_file()]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table(cached, out.read_text() if out.is_file() else ""))
    logger.info("table updated: %s (%d data sets)", out, len(cached))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shared", type=Path, default=dt.SHARED)
    parser.add_argument("--out", type=Path, default=dt.ROOT / "bench/results/ranker.md")
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--retune", action="store_true",
                        help="Tune the baselines again instead of taking the recorded settings.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    version = dt.code_version()
    for name in [] if args.table_only else args.datasets:
        logger.info("=== %s ===", name)
        run_one(name, args, version)
        write_table(args.out)
    write_table(args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
