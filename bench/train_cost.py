"""Training cost against its model fit (issue 13 part 1): `recsys train` per step vs a bare ALS fit.

Synthetic data with the generator's defaults (cached under `bench/_work/train_cost/<users>/` and
reused with `--reuse`) goes through ingest and training in fresh processes; then, in the same run,
a bare `implicit` ALS fit (64 factors, 15 iterations, the recipe's regularisation and alpha) on the
very confidence matrix training stored in the bundle (`history/interacted`). Every step is
reported in seconds, as a ratio to the bare fit, and with the process's peak RSS after it.
`--user-hnsw` also times what the approximate user index used to cost (a deterministic HNSW build
over all user vectors), which training no longer builds: nothing at runtime searches it.

    python bench/train_cost.py --users 1000000 --items 100000 [--reuse] [--user-hnsw] [--no-tuning]

`--no-tuning` trains with the ranked recommender's self-tuning off (`[ranked] tune_budget_s =
0`: its sources keep their default settings), the protocol of issue 13's 3x target; a run is
kept per (users, tuning), and the cost-growth table reads the series with the most sizes.

Results: `bench/results/train_cost_runs.json`, rendered into `bench/results/train_cost.md`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402

from recsys.training.timing import anon_rss_mb  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
#: Steps that are model fits (the shipped scorer, the validation refit, the ranked
#: recommender's sources and ranker, the back-test refit).
FIT_STEPS = ("cf", "validation", "ranked", "backtest")

_BARE_ALS = """
import json, sys, time
import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits
from recsys.bundle.layout import load_csr
from pathlib import Path
x = load_csr(Path({path!r}), mmap=False).astype(np.float32)
with threadpool_limits(1, "blas"):
    model = AlternatingLeastSquares(factors=64, iterations=15, regularization={reg}, alpha={alpha},
                                    dtype=np.float32, random_state={seed})
    t = time.perf_counter()
    model.fit(x, show_progress=False)
    sys.stderr.write(json.dumps({{"fit_seconds": time.perf_counter() - t, "nnz": int(x.nnz)}}))
"""

_USER_HNSW = """
import json, sys, time
import numpy as np
from recsys.index.vector_index import IndexConfig, VectorIndex
v = np.load({path!r})
t = time.perf_counter()
VectorIndex(IndexConfig(kind="hnsw")).build(v)
sys.stderr.write(json.dumps({{"build_seconds": time.perf_counter() - t, "n": len(v)}}))
"""


class StageFailed(SystemExit):
    """A stage's process ended with an error or a signal (9: the kernel's OOM killer)."""

    def __init__(self, name: str, status: int, usage: os.struct_rusage, seconds: float) -> None:
        super().__init__(f"stage {name} failed with status {status}")
        self.status, self.seconds = status, round(seconds, 1)
        self.peak_rss_gib = round(usage.ru_maxrss / 2**20, 2)


class AnonSampler(threading.Thread):
    """The child's anonymous memory (`RssAnon`) read every `every` seconds, and its peak.

    Peak RSS also counts the file pages of the bundle parts training memory-maps and reads
    (clean pages the kernel can drop and read again): GBs at 10M users. The anonymous peak is
    what the process cannot give back; sampled, it can miss a spike shorter than `every`.
    """

    def __init__(self, pid: int, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_mib = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            now = anon_rss_mb(self.pid)
            if now is None:  # the child is gone
                return
            self.peak_mib = max(self.peak_mib, now)


def run_stage(name: str, code: str) -> dict[str, float | dict]:
    """Run `code` in a fresh interpreter: wall seconds, the child's peak RSS and sampled peak
    anonymous memory (GiB), and any JSON it writes as the last line of stderr."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    sampler = AnonSampler(proc.pid)
    sampler.start()
    err = proc.stderr.read()
    sampler.done.set()  # before the wait: the child's /proc entry goes with it
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        sys.stderr.write(err[-4000:])
        raise StageFailed(name, status, usage, seconds)
    out: dict[str, float | dict] = {
        "seconds": round(seconds, 1), "peak_rss_gib": round(usage.ru_maxrss / 2**20, 2),
        "peak_anon_gib": round(sampler.peak_mib / 2**10, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
    }  # fmt: skip
    tail = err.strip().rsplit("\n", 1)[-1] if err.strip() else ""
    if tail.startswith("{"):
        out["report"] = json.loads(tail)
    print(f"{name}: {seconds:.1f}s, peak RSS {out['peak_rss_gib']:.2f} GiB", flush=True)
    return out


def prepare(args: argparse.Namespace) -> tuple[Path, Path, dict]:
    """Synth + ingest into the cache folder (or reuse it)."""
    raw, data = args.work / "raw", args.work / "data"
    if args.reuse and data.exists():
        return raw, data, {}
    stages = {}
    if args.reuse and (raw / "synth_manifest.json").exists():  # a finished synth: ingest it
        shutil.rmtree(data, ignore_errors=True)
    else:
        shutil.rmtree(args.work, ignore_errors=True)
        stages["synth"] = run_stage(
            "synth",
            "from recsys.synth import SynthConfig, generate; "
            f"generate(SynthConfig(n_users={args.users}, n_items={args.items}, seed={args.seed}), "
            f"{str(raw)!r})",
        )
    stages["ingest"] = run_stage(
        "ingest", f"from recsys.ingest import ingest; ingest({str(raw)!r}, {str(data)!r})"
    )
    return raw, data, stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true",
                        help="Reuse cached synth + ingest data (or a finished synth alone).")
    parser.add_argument("--user-hnsw", action="store_true", help="Also time a user HNSW build.")
    parser.add_argument("--keep", action="store_true", help="Keep the bundle (for serving_load).")
    parser.add_argument("--no-tuning", action="store_true",
                        help="The ranked recommender's self-tuning off (tune_budget_s = 0).")
    parser.add_argument(
        "--bundle-only",
        action="store_true",
        help="Skip training: take the kept bundle's manifest and time the bare fit (and HNSW) "
        "now (said in the results; the train stage's process figures are then absent).",
    )
    args = parser.parse_args()
    args.work = args.work or HERE / "_work" / "train_cost" / str(args.users)
    facts = machine.describe()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    models = args.work / "models"
    from recsys.recipe import TrainConfig

    cfg = TrainConfig(seed=args.seed)
    no_tuning = "'ranked': {'tune_budget_s': 0}"
    recipe = (f"TrainConfig.model_validate({{'seed': {args.seed}, {no_tuning}}})"
              if args.no_tuning else f"TrainConfig(seed={args.seed})")
    if args.bundle_only:
        stages: dict = {}
    else:
        raw, data, stages = prepare(args)
        shutil.rmtree(models, ignore_errors=True)
        steps_log = args.work / "train_steps.log"
        steps_log.unlink(missing_ok=True)
        try:
            stages["train"] = run_stage(
                "train",
                "import logging; logging.basicConfig(level=logging.WARNING); "
                f"h = logging.FileHandler({str(steps_log)!r}); "
                "h.setFormatter(logging.Formatter('%(asctime)s %(message)s')); "
                "s = logging.getLogger('recsys.pipeline'); s.setLevel(logging.INFO); "
                "s.addHandler(h); "
                "from pathlib import Path; from recsys.training.run import run_training; "
                "from recsys.recipe import TrainConfig; "
                f"run_training(Path({str(data)!r}), {recipe}, "
                f"truth_dir=Path({str(raw / 'truth')!r}), models_dir=Path({str(models)!r}))",
            )
        except StageFailed as failed:
            save_failed(args, facts, started, stages, failed, steps_log)
            raise
    bundle = next(models.glob("*/manifest.json")).parent
    manifest = json.loads((bundle / "manifest.json").read_text())
    stages["bare_als"] = run_stage(
        "bare ALS fit",
        _BARE_ALS.format(
            path=str(bundle / "history" / "interacted"), reg=cfg.cf.regularization,
            alpha=cfg.cf.alpha, seed=args.seed,
        ),
    )  # fmt: skip
    if args.user_hnsw:
        stages["user_hnsw"] = run_stage(
            "user HNSW build",
            _USER_HNSW.format(path=str(bundle / "scorer" / "user_factors_.npy")),
        )
    facts["load_at_end"] = machine.load_average()
    run = {
        "date": started,
        "command": "python bench/train_cost.py "
        + " ".join(a for a in sys.argv[1:] if a not in ("--keep",)),
        "machine": facts,
        "stages": stages,
        "trained_at": manifest.get("created_at"),
        "bundle_only": args.bundle_only,
        "tuning": not args.no_tuning,
        "row_counts": manifest["row_counts"],
        "step_seconds": manifest["step_timings"],
        "step_peak_rss_mib": manifest["metrics"]["resources"]["peak_rss_mb_after_step"],
        "step_anon_mib": manifest["metrics"]["resources"].get("anon_rss_mb_after_step", {}),
        "index": manifest["metrics"]["index"],
        "holdout": manifest["metrics"].get("holdout"),
        "ranked": ranked_breakdown(manifest["metrics"].get("ranked")),
        "bundle_gib": round(machine.disk_bytes(bundle) / 2**30, 2),
    }  # fmt: skip
    runs_path = RESULTS / "train_cost_runs.json"
    runs = json.loads(runs_path.read_text()) if runs_path.exists() else []
    same = (run["row_counts"]["users"], run["tuning"])
    runs = [r for r in runs if (r["row_counts"]["users"], r.get("tuning", True)) != same] + [run]
    runs.sort(key=lambda r: (not r.get("tuning", True), r["row_counts"]["users"]))
    RESULTS.mkdir(exist_ok=True)
    runs_path.write_text(json.dumps(runs, indent=2) + "\n")
    text = render(runs)
    (RESULTS / "train_cost.md").write_text(text)
    print(text.split("## ", 1)[1] if "## " in text else text)
    if not args.keep:
        shutil.rmtree(models, ignore_errors=True)


def save_failed(args: argparse.Namespace, facts: dict, started: str, stages: dict,
                failed: StageFailed, steps_log: Path) -> None:
    """Record a training that did not finish: the steps it finished (from its step log), the
    step it died in, how, its time and peak memory, beside the finished runs."""
    done: dict[str, list[float]] = {}
    running = None
    for line in steps_log.read_text().splitlines() if steps_log.exists() else []:
        found = re.search(r"step (\w+): done in ([0-9.]+)s \(peak RSS ([0-9]+) MiB", line)
        if found:
            done[found.group(1)] = [float(found.group(2)), float(found.group(3))]
        started_step = re.search(r"step (\w+): started", line)
        if started_step:
            running = started_step.group(1)
    facts["load_at_end"] = machine.load_average()
    run = {
        "date": started, "machine": facts, "users": args.users, "items": args.items,
        "command": "python bench/train_cost.py " + " ".join(
            a for a in sys.argv[1:] if a not in ("--keep",)),
        "tuning": not args.no_tuning, "stages": stages,
        "failed": {"stage": "train", "status": failed.status, "seconds": failed.seconds,
                   "peak_rss_gib": failed.peak_rss_gib, "in_step": running,
                   "steps_done": done},
    }  # fmt: skip
    path = RESULTS / "train_cost_failed.json"
    runs = json.loads(path.read_text()) if path.exists() else []
    runs = [r for r in runs if (r["users"], r["tuning"]) != (run["users"], run["tuning"])]
    path.write_text(json.dumps(runs + [run], indent=2) + "\n")
    print(f"recorded in {path.name}: died in step {running} ({failed})", flush=True)


def ranked_breakdown(report: dict | None) -> dict | None:
    """Where the ranked step's seconds went (its fit report, `metrics.ranked`): source tuning,
    the label-fold fit (sources, features, training rows), the LightGBM ranker, the refit."""
    if not report or "seconds" not in report:
        return None
    ranker = report.get("ranker", {})
    return {
        "tune_s": report.get("tune_s"), "first_fit_s": report.get("first_fit_s"),
        "ranker_s": round(float(ranker.get("seconds", 0.0)), 1), "refit_s": report.get("refit_s"),
        "seconds": report["seconds"], "rows": ranker.get("n_rows"),
        "groups": ranker.get("n_groups"),
        "objectives_tried": len(ranker.get("trials", [])),
        "sources": list(report.get("source_params", {})),
    }  # fmt: skip


def _ranked_line(run: dict) -> list[str]:
    r = run.get("ranked")
    if not r:
        return []
    rest = r["seconds"] - sum(r[k] or 0 for k in ("tune_s", "first_fit_s", "ranker_s", "refit_s"))
    return [
        f"Ranked step ({r['seconds']:.1f} s): source tuning {r['tune_s']} s; label-fold fit "
        f"(sources, features, training rows) {r['first_fit_s']} s; LightGBM ranker "
        f"{r['ranker_s']} s on {r['rows']:,} rows of {r['groups']:,} users, "
        f"{r['objectives_tried']} settings tried; choosing what serves {rest:.1f} s; refit of "
        f"the sources on all of train {r['refit_s']} s. Sources: {', '.join(r['sources'])}.",
        "",
    ]


def render(runs: list[dict]) -> str:
    lines = [
        "# Training cost against a bare ALS fit (issue 13 part 1)",
        "",
        "Rendered by `bench/train_cost.py` from `train_cost_runs.json`. Training and the bare fit",
        "run one after the other in fresh processes of the same run, on the same confidence",
        "matrix. Peak RSS after a step is the training process's high-water mark so far (it only",
        "grows). Targets: whole train <= 3x the bare fit at 1M users; the non-fit steps together",
        "<= 1x. The 2 cores are shared with other jobs: read the load averages.",
        "",
    ]
    for run in runs:
        rc, st = run["row_counts"], run["stages"]
        bare = st["bare_als"]["report"]["fit_seconds"]
        steps = run["step_seconds"]
        train = sum(steps.values())
        nonfit = sum(s for k, s in steps.items() if k not in FIT_STEPS)
        lines += [
            f"## {rc['users']:,} users, {rc['items']:,} items, {rc['user_item_pairs']:,} "
            f"user-item pairs, self-tuning {'on' if run.get('tuning', True) else 'off'}",
            "",
            f"- command: `{run['command']}` ({run['date']})",
            *machine.render(run["machine"]),
            f"- bundle on disk: {run['bundle_gib']} GiB",
            *(
                [
                    f"- training ran in an earlier process ({run['trained_at']}); the bare fit "
                    "below was timed afterwards on its bundle (`--bundle-only`)"
                ]
                if run.get("bundle_only")
                else []
            ),  # fmt: skip
            "",
            "| stage | wall seconds | CPU seconds | peak RSS (GiB) | peak anonymous (GiB, "
            "sampled every 0.5 s) |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {name} | {s['seconds']:.1f} | {s.get('cpu_seconds', '')} | "
            f"{s['peak_rss_gib']:.2f} | {s.get('peak_anon_gib', 'not sampled')} |"
            for name, s in st.items()
        ]
        lines += [
            "",
            f"Bare ALS fit alone (inside its process, load excluded): **{bare:.1f} s**.",
            "",
            "| training step | seconds | x bare ALS fit | peak RSS after it (MiB) | anonymous "
            "memory after it (MiB) |",
            "|---|---:|---:|---:|---:|",
        ]
        anon = run.get("step_anon_mib", {})
        lines += [
            f"| {step}{' (fit)' if step in FIT_STEPS else ''} | {sec:.1f} | {sec / bare:.2f} | "
            f"{run['step_peak_rss_mib'].get(step, float('nan')):,.0f} | "
            f"{f'{anon[step]:,.0f}' if step in anon else 'not recorded'} |"
            for step, sec in steps.items()
        ]
        lines += [
            f"| **all steps** | {train:.1f} | **{train / bare:.2f}** | | |",
            f"| **non-fit steps** | {nonfit:.1f} | **{nonfit / bare:.2f}** | | |",
            "",
        ]
        if "user_hnsw" in st:
            hn = st["user_hnsw"]["report"]
            lines += [
                f"A deterministic HNSW build over the {hn['n']:,} user vectors (what the "
                f"`indexes` step used to add above 200k users): {hn['build_seconds']:.1f} s "
                f"= {hn['build_seconds'] / bare:.2f}x the bare fit, saved.",
                "",
            ]
        lines += _ranked_line(run)
        if run.get("note"):
            lines += [f"Note: {run['note']}", ""]
        lines += [
            f"Index: `{json.dumps(run['index'])}`",
            f"Holdout: `{json.dumps(run['holdout'])}`",
            "",
        ]
    return "\n".join(lines + growth(runs) + failed_section(runs))


def _failed_runs() -> list[dict]:
    path = RESULTS / "train_cost_failed.json"
    return json.loads(path.read_text()) if path.exists() else []


def failed_section(runs: list[dict]) -> list[str]:
    """Trainings that did not finish (`train_cost_failed.json`): where and how they died,
    titled as earlier attempts where a training of that size finished since (`runs`)."""
    finished = {r["row_counts"]["users"] for r in runs}
    lines = []
    for run in _failed_runs():
        f = run["failed"]
        how = ("killed by the kernel's OOM killer (signal 9)" if f["status"] == 9
               else f"exit status {f['status']}")
        title = ("an earlier attempt that did not finish" if run["users"] in finished
                 else "training did not finish")
        lines += [
            f"## {run['users']:,} users, {run['items']:,} items: {title}",
            "",
            f"- command: `{run['command']}` ({run['date']})",
            *machine.render(run["machine"]),
            f"- training {how} in step `{f['in_step']}` after {f['seconds']:,.0f} s, peak RSS "
            f"{f['peak_rss_gib']} GiB",
            "",
            "| stage or finished step | seconds | peak RSS (GiB) |",
            "|---|---:|---:|",
            *(f"| {name} | {s['seconds']:.1f} | {s['peak_rss_gib']:.2f} |"
              for name, s in run.get("stages", {}).items()),
            *(f"| train: {step} | {sec:.1f} | {rss / 1024:.2f} |"
              for step, (sec, rss) in f["steps_done"].items()),
            "",
        ]
        if run.get("note"):
            lines += [f"Note: {run['note']}", ""]
    return lines


def _exponent(t0: float, t1: float, n0: int, n1: int) -> float:
    """b in t ~ n^b between two sizes (the slope on a log-log plot)."""
    return math.log(t1 / t0) / math.log(n1 / n0) if t0 > 0 and t1 > 0 else float("nan")


def growth(runs: list[dict], target_users: int = 10_000_000) -> list[str]:
    """How time and memory grow with users (issue 13 part 4): each step's seconds per size,
    its log-log exponent between the two largest sizes, and what that exponent says of
    `target_users` (an extrapolation, never a measurement); the plot beside it."""
    series: dict[bool, list[dict]] = {}
    for r in runs:
        series.setdefault(r.get("tuning", True), []).append(r)
    # The protocol (self-tuning off) when it has two sizes, else the longest series.
    runs = (series[False] if len(series.get(False, [])) >= 2
            else max(series.values(), key=len) if series else [])
    if len(runs) < 2:
        return []
    runs = sorted(runs, key=lambda r: r["row_counts"]["users"])
    sizes = [r["row_counts"]["users"] for r in runs]
    na, nb = sizes[-2:]
    reached = nb >= target_users
    steps = list(dict.fromkeys(k for r in runs for k in r["step_seconds"]))
    reading = (
        f"{nb:,} users is measured (its catalogue and events are 10x the 1M run's too, the "
        "issue's workload)" if reached else
        f"and what b says of {target_users:,} users: **an extrapolation, not a measurement** "
        "(at 10M users the training did not finish here: see the last section)"
    )
    tuning = runs[-1].get("tuning", True)
    died = [f for f in _failed_runs() if f["tuning"] == tuning and f["users"] > nb]
    partial = died[-1] if died and not reached else None
    lines = [
        "## Cost growth with users",
        "",
        f"Self-tuning {'on' if tuning else 'off'}. "
        "Each step's seconds at each size (the runs above; their loads differ, so read the "
        f"exponents as rough), the exponent b of t ~ users^b between {na:,} and {nb:,} users, "
        f"{reading}. Plot: `train_cost_growth.png`.",
        "",
        "| step | " + " | ".join(f"{n:,} users (s)" for n in sizes) + " | b |"
        + ("" if reached else f" {target_users:,} users (extrapolated s) |")
        + (f" {partial['users']:,} users, measured (s; did not finish) |" if partial else ""),
        "|---|" + "---:|" * (len(sizes) + (1 if reached else 2) + bool(partial)),
    ]
    done = partial["failed"]["steps_done"] if partial else {}

    def measured(name: str) -> str:
        if not partial:
            return ""
        return f" {done[name][0]:,.1f} |" if name in done else " – |"

    rows = [(s, [r["step_seconds"].get(s, float("nan")) for r in runs]) for s in steps]
    rows.append(("all steps", [sum(r["step_seconds"].values()) for r in runs]))
    rows.append(("bare ALS fit", [r["stages"]["bare_als"]["report"]["fit_seconds"]
                                  for r in runs]))
    peak = [max(r["step_peak_rss_mib"].values()) / 1024 for r in runs]
    for name, secs in rows:
        b_exp = _exponent(secs[-2], secs[-1], na, nb)
        guess = secs[-1] * (target_users / nb) ** b_exp if not math.isnan(b_exp) else float("nan")
        lines.append(f"| {name} | " + " | ".join(f"{t:.1f}" for t in secs)
                     + f" | {b_exp:.2f} |" + ("" if reached else f" {guess:,.0f} |")
                     + measured(name))
    b_rss = _exponent(peak[-2], peak[-1], na, nb)
    lines.append("| peak RSS of training (GiB) | " + " | ".join(f"{g:.2f}" for g in peak)
                 + f" | {b_rss:.2f} |"
                 + ("" if reached else f" {peak[-1] * (target_users / nb) ** b_rss:.1f} |")
                 + (f" {partial['failed']['peak_rss_gib']} (killed) |" if partial else ""))
    lines.append("")
    _plot(sizes, rows, peak)
    return lines


def _plot(sizes: list[int], rows: list[tuple[str, list[float]]], peak: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for name, secs in rows:
        style = "k-o" if name == "all steps" else ("k--s" if name == "bare ALS fit" else "-o")
        left.loglog(sizes, secs, style, label=name, markersize=4)
    left.set(xlabel="users", ylabel="seconds", title="training time per step")
    left.legend(fontsize=7, ncol=2)
    right.loglog(sizes, peak, "k-o")
    right.set(xlabel="users", ylabel="GiB", title="peak RSS of training")
    fig.tight_layout()
    fig.savefig(RESULTS / "train_cost_growth.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
