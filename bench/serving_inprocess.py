"""Serving in process at platform scale: bundle load time and per-route latency p50 / p99.

    python bench/serving_inprocess.py --users 1000000 --items 100000

Builds synthetic data and a bundle once under `bench/_work/serving-<users>/` (synth -> ingest ->
train, each stage in its own process as in train_bench.py; kept for the next run), or serves
`--bundle`. Then measures, each in a fresh process, `RuntimeModel.load` with and without
verification (checksums and signature), and in this process the latency of every /v1 route:
through the app (TestClient: routing, key check, validation, schema) and as the bare
`RuntimeModel` call. Writes `bench/results/serving.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
from machine import disk_bytes  # noqa: E402
from train_bench import run_stage  # noqa: E402

LIBRARIES = (
    "numpy",
    "scipy",
    "faiss-cpu",
    "implicit",
    "fastapi",
    "starlette",
    "pydantic",
    "uvicorn",
    "prometheus-client",
)


def build(work: Path, users: int, items: int, seed: int) -> Path:
    """The bundle folder under `work`, trained from synthetic data when not there yet."""
    raw, data, models = work / "raw", work / "data", work / "models"
    if not (data / "ingest_report.json").is_file():
        run_stage(
            "synth",
            "from recsys.synth import SynthConfig, generate; "
            f"generate(SynthConfig(n_users={users}, n_items={items}, seed={seed}), {str(raw)!r})",
        )
        run_stage(
            "ingest", f"from recsys.ingest import ingest; ingest({str(raw)!r}, {str(data)!r})"
        )
    bundles = sorted(p.parent for p in models.glob("*/manifest.json"))
    if not bundles:
        run_stage(
            "train",
            "import logging; logging.basicConfig(level=logging.INFO); "
            "from pathlib import Path; from recsys.training.run import run_training; "
            "from recsys.recipe import TrainConfig; "
            f"run_training(Path({str(data)!r}), TrainConfig(seed={seed}), "
            f"truth_dir=Path({str(raw / 'truth')!r}), models_dir=Path({str(models)!r}))",
        )
        bundles = sorted(p.parent for p in models.glob("*/manifest.json"))
    return bundles[-1]


def load_times(bundle: Path, repeats: int) -> dict[str, list[float]]:
    """Seconds of RuntimeModel.load (verify on / off), each in a fresh process; page cache warm."""
    code = (
        "import json, resource, sys, time; from recsys.runtime import RuntimeModel; "
        "t = time.perf_counter(); "
        f"m = RuntimeModel.load({str(bundle)!r}, verify=sys.argv[1] == 'verify'); "
        "s = time.perf_counter() - t; "
        "print(json.dumps([s, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))"
    )
    times: dict[str, list[float]] = {}
    for mode in ("verify", "no-verify"):
        for _ in range(repeats):
            out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"loading {bundle} failed: {out.stderr.strip().splitlines()[-1]}")
            seconds, rss_mib = json.loads(out.stdout.strip().splitlines()[-1])
            times.setdefault(mode, []).append(seconds)
            times.setdefault(f"{mode} peak RSS MiB", []).append(rss_mib)
            print(f"load ({mode}): {seconds:.2f} s, peak RSS {rss_mib:,.0f} MiB", flush=True)
    return times


def timed(call: Callable[[object], object], args: list, warmup: int = 20) -> np.ndarray:
    """Milliseconds of `call(a)` for each `a` in `args`, after `warmup` untimed calls."""
    for a in args[:warmup]:
        call(a)
    out = np.empty(len(args))
    for k, a in enumerate(args):
        start = time.perf_counter()
        call(a)
        out[k] = time.perf_counter() - start
    return out * 1000.0


def latencies(bundle: Path, n: int, seed: int) -> list[dict[str, object]]:
    """Per route: n calls through the app and n bare runtime calls, on different ids (so
    neither finds the other's pages warm), the runtime calls pinned as the server pins them."""
    from fastapi.testclient import TestClient
    from threadpoolctl import threadpool_limits

    from recsys.runtime import PolicyStep, RuntimeModel
    from serving.app import create_app
    from serving.settings import Settings

    model = RuntimeModel.load(bundle, verify=False)
    rng = np.random.default_rng(seed)
    has_history = np.diff(model.parts.history.interacted.indptr) > 0
    user_ids = model.parts.ids.users.ids
    item_ids = model.parts.ids.items.ids
    candidates = {
        "scorer": user_ids[rng.choice(np.flatnonzero(has_history), 2 * n, replace=False)],
        "circle_chain": user_ids[rng.permutation(np.flatnonzero(~has_history))[: 20 * n]],
        "global_chain": np.array([f"bench-unknown-{k}" for k in range(2 * n)]),
    }
    groups = {
        step: [str(u) for u in ids if model.recommend(str(u), 1).step == PolicyStep(step)][: 2 * n]
        for step, ids in candidates.items()
    }
    items = [str(i) for i in item_ids[rng.choice(len(item_ids), 2 * n, replace=False)]]

    key = secrets.token_urlsafe(24)
    settings = Settings(models_dir=bundle.parent, api_keys={key: "service"})
    app = create_app(settings)
    rows = []
    with TestClient(app) as client, threadpool_limits(limits=settings.blas_threads):
        assert client.get("/readyz").json()["model_version"] == model.version, "promote the bundle"
        headers = {"X-API-Key": key}

        def route(name: str, path: str, ids: list[str], direct: Callable | None) -> None:
            if len(ids) < 2:
                return
            half = len(ids) // 2
            calls = half if direct is not None else len(ids)
            paths = [path.format(id=i) for i in ids[:calls]]
            app_ms = timed(lambda p: client.get(p, headers=headers), paths)
            row: dict[str, object] = {"route": name, "calls": calls, "app": app_ms}
            if direct is not None:
                row["runtime"] = timed(direct, ids[half : 2 * half])
            rows.append(row)
            print(f"{name}: app p50 {np.percentile(app_ms, 50):.2f} ms", flush=True)

        recommendations = "/v1/users/{id}/recommendations?limit=20"
        for step, ids in groups.items():
            route(
                f"GET {recommendations} ({step})",
                recommendations,
                ids,
                lambda u: model.recommend(u, 20),
            )
        route(
            "GET /v1/users/{id}/circles",
            "/v1/users/{id}/circles",
            groups["scorer"],
            model.user_circles,
        )
        similar = "/v1/items/{id}/similar?limit=20"
        route(f"GET {similar}", similar, items, lambda i: model.similar_items(i, 20))
        route("GET /v1/circles", "/v1/circles", ["-"] * n, None)
    return rows


def machine() -> list[str]:
    from threadpoolctl import threadpool_info

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    blas = ", ".join(
        " ".join(str(p[k]) for k in ("internal_api", "version", "architecture") if p.get(k))
        for p in threadpool_info()
    )
    return [
        f"{os.cpu_count()} cores, {mem:.1f} GiB RAM, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "libraries: " + ", ".join(f"{lib} {version(lib)}" for lib in LIBRARIES),
        f"BLAS / OpenMP: {blas}",
    ]


def render(args: argparse.Namespace, bundle: Path, loads: dict, rows: list, info: dict) -> str:
    manifest = json.loads((bundle / "manifest.json").read_text())
    counts = manifest.get("row_counts", {})
    size = disk_bytes(bundle) / 2**30
    lines = [
        "# Serving in process: bundle load and per-route latency",
        "",
        "Rendered by `bench/serving_inprocess.py`. Load times are `RuntimeModel.load` in a fresh",
        "process with the page cache warm (the bundle was just written or read); a hot swap takes",
        "a worker about one poll interval (1 s) plus the verified load. Latencies are sequential",
        "calls in one process, through the app (FastAPI TestClient: routing, key check,",
        "validation, compute pool, response schema, metrics) and as the bare `RuntimeModel` call",
        "(1 BLAS/OpenMP thread, as the server pins it), on different random ids so neither finds",
        "the other's pages warm. The machine's 2 cores are shared with other jobs: see the load.",
        "",
        f"- command: `{info['command']}` ({info['date']})",
        f"- bundle: {counts.get('users', '?'):,} users, {counts.get('items', '?'):,} items, "
        f"{size:.2f} GiB on disk",
        *[f"- {line}" for line in info["machine"]],
        f"- load average: {info['load_start']:.1f} at start, {info['load_end']:.1f} at end",
        "",
        "## Bundle load",
        "",
        "| mode | runs | seconds (each run) | median | peak RSS (MiB, median) |",
        "|---|---:|---|---:|---:|",
    ]
    for mode in ("verify", "no-verify"):
        runs = loads[mode]
        lines.append(
            f"| {mode} | {len(runs)} | {', '.join(f'{s:.2f}' for s in runs)} | "
            f"{np.median(runs):.2f} | {np.median(loads[mode + ' peak RSS MiB']):,.0f} |"
        )
    lines += [
        "",
        "## Latency per route (ms)",
        "",
        "| route | calls | app p50 | app p99 | runtime p50 | runtime p99 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        app, bare = row["app"], row.get("runtime")
        cells = [f"{np.percentile(app, 50):.2f}", f"{np.percentile(app, 99):.2f}"]
        cells += (
            [f"{np.percentile(bare, 50):.2f}", f"{np.percentile(bare, 99):.2f}"]
            if bare is not None
            else ["-", "-"]
        )
        lines.append(f"| `{row['route']}` | {row['calls']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bundle", type=Path, help="Serve this bundle instead of building one.")
    parser.add_argument("--calls", type=int, default=1000, help="Calls per route and kind.")
    parser.add_argument("--load-repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "serving.md")
    args = parser.parse_args()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    load_start = os.getloadavg()[0]
    bundle = args.bundle or build(
        HERE / "_work" / f"serving-{args.users}", args.users, args.items, args.seed
    )
    from recsys.bundle.registry import ModelRegistry

    registry = ModelRegistry(bundle.parent)
    if registry.promoted() != bundle.name:
        registry.promote(bundle.name, force=True)
    loads = load_times(bundle, args.load_repeats)
    rows = latencies(bundle, args.calls, args.seed)
    command = "python bench/serving_inprocess.py " + " ".join(
        a if not a.startswith("/") else Path(a).name for a in sys.argv[1:]
    )
    info = {
        "command": command.strip(),
        "date": started,
        "machine": machine(),
        "load_start": load_start,
        "load_end": os.getloadavg()[0],
    }
    text = render(args, bundle, loads, rows, info)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
