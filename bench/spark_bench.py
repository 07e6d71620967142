"""Benchmark the Spark engine in local mode next to the local engine: synth -> ingest -> train.

Both engines read the same synthetic source and train the same recipe; each stage runs through
the CLI in its own process (`recsys ingest|train [--engine spark --master local[2]]`), so the
Spark stages include starting the JVM. Per-step seconds and holdout NDCG come from each bundle's
manifest. Results are appended to `bench/results/spark_runs.json` and rendered into
`bench/results/spark.md`.

    python bench/spark_bench.py --users 100000
    python bench/spark_bench.py --users 1000000 --items 100000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

from train_bench import machine  # noqa: E402

RECSYS = str(Path(sys.executable).with_name("recsys"))


def timed(name: str, argv: list[str]) -> dict[str, float]:
    """Run a CLI stage; its wall seconds, the peak RSS of its Python process (GiB; Spark's JVM
    is not waited for by it and is not included), and the load average after it."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"stage {name} failed with status {status}: {' '.join(argv)}")
    print(f"{name}: {seconds:.1f}s", flush=True)
    return {
        "seconds": round(seconds, 1),
        "peak_rss_gib": round(usage.ru_maxrss / 2**20, 2),
        "load_after": round(os.getloadavg()[0], 1),
    }


def manifest(models: Path) -> dict:
    return json.loads(next(models.glob("*/manifest.json")).read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--engines", default="local,spark",
                        help="Engines to run (comma-separated); the local engine's figures "
                        "at the same size are also in bench/results/train.md.")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    args.work = args.work or HERE / "_work" / f"spark-{args.users}"
    shutil.rmtree(args.work, ignore_errors=True)
    raw = args.work / "raw"
    started = datetime.now(UTC).isoformat(timespec="seconds")
    info = machine()
    items = [] if args.items is None else ["--items", str(args.items)]
    stages = {"synth": timed("synth", [RECSYS, "synth", "--users", str(args.users), *items,
                                       "--seed", str(args.seed), "--out", str(raw)])}
    bundles = {}
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for engine in engines:
        data, models = args.work / f"data-{engine}", args.work / f"models-{engine}"
        flags = [] if engine == "local" else ["--engine", "spark", "--master", args.master]
        stages[f"{engine} ingest"] = timed(
            f"{engine} ingest", [RECSYS, "ingest", str(raw), "--out", str(data), *flags]
        )
        stages[f"{engine} train"] = timed(
            f"{engine} train",
            [RECSYS, "train", "--data", str(data), "--truth", str(raw / "truth"),
             "--models-dir", str(models), "--seed", str(args.seed), *flags],
        )
        bundles[engine] = manifest(models)
    run = {
        "date": started,
        "command": "python bench/spark_bench.py " + " ".join(sys.argv[1:]),
        "machine": info,
        "load_after": round(os.getloadavg()[0], 1),
        "stages": stages,
        "row_counts": bundles[engines[0]]["row_counts"],
        "steps": {e: m["step_timings"] for e, m in bundles.items()},
        "holdout": {e: m["metrics"].get("holdout") for e, m in bundles.items()},
        "mllib": bundles.get("spark", {}).get("engine", {}).get("mllib"),
    }
    runs_path = RESULTS / "spark_runs.json"
    runs = json.loads(runs_path.read_text()) if runs_path.exists() else []
    runs = [r for r in runs if r["command"] != run["command"]] + [run]
    runs_path.write_text(json.dumps(runs, indent=2) + "\n")
    render(runs)
    shutil.rmtree(args.work, ignore_errors=True)


def render(runs: list[dict]) -> None:
    lines = [
        "# The Spark engine in local mode next to the local engine",
        "",
        "Rendered by `bench/spark_bench.py` from `bench/results/spark_runs.json`. Every stage is",
        "the CLI in its own process on the same synthetic source and recipe; the Spark stages",
        "run `--engine spark --master local[2]` (one JVM on the same 2 cores, its start-up",
        "included). The cores are shared with other jobs: see the load averages.",
        "Peak RSS is the CLI's Python process only (local Spark's JVM, about 1 GiB of heap by",
        "default, comes on top). Local mode measures Spark's overhead on one machine, not a",
        "cluster's speed: the",
        "engine exists for data past one machine (docs/spark.md).",
        "",
    ]
    for run in runs:
        rc = run["row_counts"]
        lines += [
            f"## {rc['users']:,} users, {rc['items']:,} items, {rc['events_used']:,} events used",
            "",
            f"- command: `{run['command']}` ({run['date']})",
            f"- machine: {run['machine']}; load average {run['load_after']} at the end",
            "",
            "| stage | seconds | peak RSS of the command's Python process (GiB) | load after |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {name} | {s['seconds']:.1f} | {s['peak_rss_gib']:.2f} | {s['load_after']} |"
            for name, s in run["stages"].items()
        ]
        steps = run["steps"]
        names = list(steps)
        lines += ["", "| training step | " + " | ".join(f"{e} (s)" for e in names) + " |",
                  "|---|" + "---:|" * len(names)]
        lines += [
            f"| {step} | " + " | ".join(f"{steps[e].get(step, float('nan')):.1f}" for e in names)
            + " |"
            for step in steps[names[0]]
        ]
        lines += [""] + [f"Holdout ({e}): `{json.dumps(run['holdout'][e])}`" for e in names]
        lines += [f"MLlib parameters: `{json.dumps(run['mllib'])}`", ""]
    (RESULTS / "spark.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
