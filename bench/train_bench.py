"""Benchmark the offline chain at platform-like scale: synth -> ingest -> train, per step.

Each stage runs in its own process so its peak RSS is its own (read with os.wait4); training's
per-step seconds and peak RSS come from the bundle manifest. Results are appended to
`bench/results/train_runs.json` and rendered into `bench/results/train.md`.

    python bench/train_bench.py --users 1000000 --items 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def run_stage(name: str, code: str) -> dict[str, float]:
    """Run `code` in a fresh interpreter; return wall seconds and the child's peak RSS (GiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code])
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"stage {name} failed with status {status}")
    peak = usage.ru_maxrss / 1024 / 1024
    print(f"{name}: {seconds:.1f}s, peak RSS {peak:.2f} GiB", flush=True)
    return {"seconds": round(seconds, 1), "peak_rss_gib": round(peak, 2)}


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores, {mem:.1f} GiB RAM, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, load average {load:.1f} at start"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=HERE / "_work" / "train")
    parser.add_argument("--keep", action="store_true", help="Keep data and bundle afterwards.")
    args = parser.parse_args()
    raw, data, models = args.work / "raw", args.work / "data", args.work / "models"
    shutil.rmtree(args.work, ignore_errors=True)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    info = machine()
    stages = {
        "synth": run_stage(
            "synth",
            "from recsys.synth import SynthConfig, generate; "
            f"generate(SynthConfig(n_users={args.users}, n_items={args.items}, seed={args.seed}), "
            f"{str(raw)!r})",
        ),
        "ingest": run_stage(
            "ingest", f"from recsys.ingest import ingest; ingest({str(raw)!r}, {str(data)!r})"
        ),
        "train": run_stage(
            "train",
            "import logging; logging.basicConfig(level=logging.INFO); "
            "from pathlib import Path; from recsys.training.run import run_training; "
            "from recsys.recipe import TrainConfig; "
            f"run_training(Path({str(data)!r}), TrainConfig(seed={args.seed}), "
            f"truth_dir=Path({str(raw / 'truth')!r}), models_dir=Path({str(models)!r}))",
        ),
    }
    manifest = json.loads(next(models.glob("*/manifest.json")).read_text())
    run = {
        "date": started,
        "command": f"python bench/train_bench.py --users {args.users} --items {args.items}",
        "machine": info,
        "stages": stages,
        "row_counts": manifest["row_counts"],
        "step_seconds": manifest["step_timings"],
        "step_peak_rss_mib": manifest["metrics"]["resources"]["peak_rss_mb_after_step"],
        "index": manifest["metrics"]["index"],
        "holdout": manifest["metrics"].get("holdout"),
    }
    runs_path = RESULTS / "train_runs.json"
    runs = json.loads(runs_path.read_text()) if runs_path.exists() else []
    runs = [r for r in runs if r["command"] != run["command"]] + [run]
    RESULTS.mkdir(exist_ok=True)
    runs_path.write_text(json.dumps(runs, indent=2) + "\n")
    render(runs)
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


def render(runs: list[dict]) -> None:
    lines = [
        "# Offline chain benchmark: synth -> ingest -> train",
        "",
        "Rendered by `bench/train_bench.py` from `bench/results/train_runs.json`. Each stage runs",
        "in its own process (peak RSS = that process's). The 2 cores are shared with other jobs",
        "while these runs happen: see the load average in each run's machine line.",
        "",
    ]
    for run in runs:
        rc = run["row_counts"]
        lines += [
            f"## {rc['users']:,} users, {rc['items']:,} items, {rc['events_used']:,} events used",
            "",
            f"- command: `{run['command']}` ({run['date']})",
            f"- machine: {run['machine']}",
            "",
            "| stage | seconds | peak RSS (GiB) |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {name} | {s['seconds']:.1f} | {s['peak_rss_gib']:.2f} |"
            for name, s in run["stages"].items()
        ]
        lines += [
            "",
            "| training step | seconds | process peak RSS after it (MiB) |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {step} | {sec:.1f} | {run['step_peak_rss_mib'].get(step, float('nan')):,.0f} |"
            for step, sec in run["step_seconds"].items()
        ]
        lines += [
            "",
            f"Index: `{json.dumps(run['index'])}`",
            f"Holdout: `{json.dumps(run['holdout'])}`",
            "",
        ]
    (RESULTS / "train.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
