"""Serving under load (issue 13 part 2): the real server driven by wrk, against a bare endpoint.

The real `recsys serve` (one worker, pinned by taskset to core 0, event store and impression log
on, no response cache: the app has none) serves a promoted bundle on a loopback port; wrk (one
thread, pinned to core 1) drives each route for a fixed duration at each connection count, with
`bench/wrk_load.lua` drawing ids at random from 20,000 users / 10,000 items of the bundle. In
the same run, the same uvicorn serves `bench/bare_app.py` (FastAPI returning a fixed 20-item
list) under the same pinning and load; every route's throughput is reported as a ratio of the
bare one at the same connection count. Event posting sends batches of 100 new events; accepted
events/s is counted from the store's rows, not assumed (the store fsyncs: WAL, synchronous=FULL).

    python bench/serving_load.py --models bench/_work/train_cost/100000/models \
        [--duration 15] [--connections 1 16 64]

The models folder needs a bundle; the newest one is promoted when none is (keep one with
`python bench/train_cost.py --users 100000 --items 10000 --keep --reuse`). Results:
`bench/results/serving_load_runs.json`, rendered into `bench/results/serving_load.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LUA = HERE / "wrk_load.lua"
KEY = "bench-load-" + "k" * 20
BATCH = 100
#: (name, path template, mode, id kind)
ROUTES = (
    ("feed", "/v1/users/{id}/feed?limit=20", "get", "users"),
    ("recommendations", "/v1/users/{id}/recommendations?limit=20", "get", "users"),
    ("similar items", "/v1/items/{id}/similar?limit=20", "get", "items"),
    ("user circles", "/v1/users/{id}/circles", "get", "users"),
    ("share targets", "/v1/share-targets", "share", "users"),
    ("events (batch of 100)", "/v1/events", "events", "users"),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"server at {url} not ready after {timeout:.0f}s")


class Server:
    """A server process pinned to core 0, in its own session so it is stopped with its children."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, ready: str) -> None:
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0", *argv], env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        wait_ready(ready)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


def wrk(url: str, connections: int, duration: int, env: dict[str, str]) -> dict[str, float]:
    """One wrk run (one thread on core 1): requests/s, latency percentiles (ms), errors."""
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
         "--timeout", "10s", "-s", str(LUA), url],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = re.search(r"WRK_JSON (\{.*\})", out)
    if not found:
        raise SystemExit(f"wrk printed no result:\n{out}")
    r = json.loads(found.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    seconds = r["duration_us"] / 1e6
    return {
        "requests": r["requests"],
        "seconds": round(seconds, 2),
        "rps": round(r["requests"] / seconds, 1),
        "p50_ms": r["p50"] / 1000, "p95_ms": r["p95"] / 1000, "p99_ms": r["p99"] / 1000,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": r["connect_errors"] + r["read_errors"] + r["write_errors"]
        + r["timeouts"],
    }  # fmt: skip


def bundle_ids(bundle: Path, n_users: int, n_items: int, seed: int, work: Path) -> dict[str, Path]:
    """Files of distinct user and item ids drawn from the bundle, one per line, for wrk."""
    rng = np.random.default_rng(seed)
    files = {}
    for kind, n in (("users", n_users), ("items", n_items)):
        ids = pq.read_table(bundle / "idmap" / f"{kind}.parquet").column(0).to_numpy()
        pick = rng.choice(len(ids), min(n, len(ids)), replace=False)
        files[kind] = work / f"{kind}.txt"
        files[kind].write_text("\n".join(str(i) for i in ids[pick]) + "\n")
    return files


def events_rows(db: Path) -> int:
    """Rows in the store once it stops growing (requests wrk gave up on may still land)."""
    last = -1
    while True:
        with sqlite3.connect(db) as con:
            now = int(con.execute("SELECT count(*) FROM events").fetchone()[0])
        if now == last:
            return now
        last = now
        time.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, required=True, help="Models folder with a bundle.")
    parser.add_argument("--duration", type=int, default=15, help="Seconds per wrk run.")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    from recsys.bundle.registry import ModelRegistry
    from recsys.runtime import RuntimeModel

    registry = ModelRegistry(args.models)
    if registry.promoted() is None:
        newest = sorted(p.parent.name for p in args.models.glob("*/manifest.json"))[-1]
        registry.promote(newest, force=True)
    bundle = registry.current_bundle(verify=False).root
    manifest = json.loads((bundle / "manifest.json").read_text())
    watermark_s = RuntimeModel.load(bundle).watermark_us / 1e6
    facts = machine.describe()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    work = Path(tempfile.mkdtemp(prefix="serving_load_", dir=HERE / "_work"))
    ids = bundle_ids(bundle, 20_000, 10_000, args.seed, work)
    events_db = work / "events.sqlite3"
    env = {
        **os.environ, "RECSYS_API_KEYS": json.dumps({KEY: "service"}),
        "RECSYS_EVENTS_DB": str(events_db), "RECSYS_IMPRESSIONS_DB": str(work / "imp.sqlite3"),
    }  # fmt: skip
    bin_dir = Path(sys.executable).parent
    results: list[dict] = []
    run_no = 0

    def drive(name: str, url: str, path: str, mode: str, kind: str) -> None:
        nonlocal run_no
        for warm, conns in [(True, 16)] + [(False, c) for c in args.connections]:
            run_no += 1
            before = events_rows(events_db) if mode == "events" else 0
            wenv = {
                "WRK_IDS": str(ids[kind]), "WRK_ITEMS": str(ids["items"]), "WRK_PATH": path,
                "WRK_KEY": KEY, "WRK_MODE": mode, "WRK_BATCH": str(BATCH),
                "WRK_TS": f"{watermark_s + 1 + run_no * 10_000:.6f}", "WRK_RUN": str(run_no),
            }  # fmt: skip
            r = wrk(url, conns, 3 if warm else args.duration, wenv)
            if warm:
                continue
            r.update(route=name, connections=conns, load=machine.load_average())
            if mode == "events":
                # Stored rows, capped at what wrk saw answered inside its window.
                stored = min(events_rows(events_db) - before, r["requests"] * BATCH)
                r["events_per_s"] = round(stored / r["seconds"], 1)
            print(json.dumps(r), flush=True)
            results.append(r)

    port = free_port()
    bare = Server(
        [str(bin_dir / "python"), "-m", "uvicorn", "bare_app:app", "--app-dir", str(HERE),
         "--port", str(port), "--workers", "1"],
        env, work / "bare.log", f"http://127.0.0.1:{port}/bare/x",
    )  # fmt: skip
    try:
        drive("bare FastAPI (20 items)", f"http://127.0.0.1:{port}", "/bare/{id}", "get", "users")
    finally:
        bare.stop()
    port = free_port()
    server = Server(
        [str(bin_dir / "recsys"), "serve", "--port", str(port), "--workers", "1",
         "--models-dir", str(args.models)],
        env, work / "server.log", f"http://127.0.0.1:{port}/readyz",
    )  # fmt: skip
    try:
        server_pid = server.proc.pid
        for name, path, mode, kind in ROUTES:
            drive(name, f"http://127.0.0.1:{port}", path, mode, kind)
        rss = _rss_mib(server_pid)
    finally:
        server.stop()
    facts["load_at_end"] = machine.load_average()
    run = {
        "date": started,
        "command": "python bench/serving_load.py " + " ".join(sys.argv[1:]),
        "machine": facts,
        "bundle": {"users": manifest["row_counts"]["users"],
                   "items": manifest["row_counts"]["items"], "version": bundle.name},
        "duration_s": args.duration,
        "server_rss_mib": rss,
        "results": results,
    }  # fmt: skip
    runs_path = RESULTS / "serving_load_runs.json"
    runs = json.loads(runs_path.read_text()) if runs_path.exists() else []
    runs = [r for r in runs if r["bundle"]["users"] != run["bundle"]["users"]] + [run]
    runs_path.write_text(json.dumps(runs, indent=2) + "\n")
    text = render(runs)
    (RESULTS / "serving_load.md").write_text(text)
    print(text)
    shutil.rmtree(work, ignore_errors=True)


def _rss_mib(pid: int) -> float:
    """RSS of the server's process tree (taskset execs, so pid is the server itself)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def render(runs: list[dict]) -> str:
    lines = [
        "# Serving under load: the real server vs a bare FastAPI endpoint (issue 13 part 2)",
        "",
        "Rendered by `bench/serving_load.py` from `serving_load_runs.json`. One uvicorn worker",
        "pinned to core 0 (`taskset -c 0`), wrk with one thread pinned to core 1; ids drawn at",
        "random from 20,000 users / 10,000 items per request; event store and impression log",
        "on; no response cache. Throughput ratio = route req/s / bare req/s at the same",
        "connection count. The 2 cores are shared with other jobs: read the load column.",
        "",
    ]
    for run in runs:
        b = run["bundle"]
        lines += [
            f"## {b['users']:,} users, {b['items']:,} items (bundle {b['version']})",
            "",
            f"- command: `{run['command']}` ({run['date']}), {run['duration_s']} s per run",
            *machine.render(run["machine"]),
            f"- server RSS at the end: {run['server_rss_mib']} MiB",
            "",
            "| route | conns | req/s | x bare | p50 ms | p95 ms | p99 ms | non-2xx | errors "
            "| events/s | load (1/5/15) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        bare = {r["connections"]: r["rps"] for r in run["results"] if r["route"].startswith("bare")}
        for r in run["results"]:
            ratio = r["rps"] / bare[r["connections"]] if bare.get(r["connections"]) else 0
            lines.append(
                f"| {r['route']} | {r['connections']} | {r['rps']:,.0f} | {ratio:.2f} | "
                f"{r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['p99_ms']:.2f} | {r['non_2xx']} | "
                f"{r['socket_errors']} | {r.get('events_per_s', '')} | {r['load']} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
