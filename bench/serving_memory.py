"""Serving memory per worker (issue 13 part 5): PSS and USS for 1, 2 and 4 workers.

Starts the real `recsys serve --workers N` on a promoted bundle, sends `--requests` calls spread
over the routes (recommendations, similar items, user circles, events) so every worker has
touched what it serves, then reads each worker's `/proc/<pid>/smaps`: RSS, PSS (shared pages
divided among the processes sharing them) and USS (private pages: what one more worker costs),
split by where the pages come from: the bundle's memory-mapped files, other files (libraries),
and anonymous memory (Python objects, arrays read into memory, faiss indexes read without mmap).

    python bench/serving_memory.py --models bench/_work/train_cost/1000000/models [--workers 1 2 4]

Results: `bench/results/serving_memory_runs.json`, rendered into `serving_memory.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402
from serving_load import KEY, free_port, wait_ready  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
_FIELDS = ("Rss", "Pss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Shared_Dirty")


def smaps(pid: int, bundle: Path) -> dict[str, dict[str, float]]:
    """MiB of each field per origin ("bundle files", "other files", "anonymous") and "total"."""
    out: dict[str, dict[str, float]] = {}
    origin = "anonymous"
    bundle_s = str(bundle.resolve())
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(None, 5)
        if "-" in head[0] and len(head) >= 5 and ":" not in head[0]:  # a mapping's first line
            path = head[5] if len(head) > 5 else ""
            if path.startswith(bundle_s):
                origin = "bundle files"
            elif path.startswith("/"):
                origin = "other files"
            else:
                origin = "anonymous"
            continue
        key = head[0].rstrip(":")
        if key in _FIELDS:
            kib = float(head[1])
            for o in (origin, "total"):
                out.setdefault(o, dict.fromkeys(_FIELDS, 0.0))[key] += kib / 1024
    for fields in out.values():
        fields["USS"] = fields["Private_Clean"] + fields["Private_Dirty"]
    return out


def workers_of(pid: int, n: int) -> list[int]:
    """The serving processes: the supervisor's children with N > 1, the process itself with 1."""
    if n == 1:
        return [pid]
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    procs = []
    for k in map(int, kids):
        cmd = Path(f"/proc/{k}/cmdline").read_bytes()
        if b"spawn_main" in cmd and b"resource_tracker" not in cmd:
            procs.append(k)
    return procs


def drive(url: str, users: list[str], items: list[str], requests: int, ts: float) -> int:
    paths = [
        *(f"/v1/users/{u}/recommendations?limit=20" for u in users),
        *(f"/v1/items/{i}/similar?limit=20" for i in items),
        *(f"/v1/users/{u}/circles" for u in users),
    ]
    rng = np.random.default_rng(0)
    pick = rng.choice(len(paths), requests)

    def get(p: str) -> int:
        req = urllib.request.Request(url + p, headers={"X-API-Key": KEY})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status

    def post(n: int) -> int:
        events = [
            {"event_id": f"m{ts}-{n}-{k}", "user_id": users[(n * 100 + k) % len(users)],
             "item_id": items[k % len(items)], "type": "view", "ts": ts + n + k / 1000}
            for k in range(100)
        ]  # fmt: skip
        req = urllib.request.Request(
            url + "/v1/events", data=json.dumps({"events": events}).encode(),
            headers={"X-API-Key": KEY, "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status

    with ThreadPoolExecutor(8) as pool:
        ok = sum(s == 200 for s in pool.map(get, [paths[i] for i in pick]))
        ok += sum(s == 200 for s in pool.map(post, range(requests // 20)))
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    from recsys.bundle.registry import ModelRegistry
    from recsys.runtime import RuntimeModel

    registry = ModelRegistry(args.models)
    if registry.promoted() is None:
        newest = sorted(p.parent.name for p in args.models.glob("*/manifest.json"))[-1]
        registry.promote(newest, force=True)
    bundle = registry.current_bundle(verify=False).root
    watermark = RuntimeModel.load(bundle).watermark_us / 1e6
    rng = np.random.default_rng(0)
    ids = {}
    for kind in ("users", "items"):
        col = pq.read_table(bundle / "idmap" / f"{kind}.parquet").column(0).to_numpy()
        ids[kind] = [str(x) for x in col[rng.choice(len(col), 2000, replace=False)]]
    facts = machine.describe()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    rows = []
    for n in args.workers:
        work = Path(tempfile.mkdtemp(prefix="serving_memory_", dir=HERE / "_work"))
        env = {
            **os.environ, "RECSYS_API_KEYS": json.dumps({KEY: "service"}),
            "RECSYS_EVENTS_DB": str(work / "ev.sqlite3"),
            "RECSYS_IMPRESSIONS_DB": str(work / "imp.sqlite3"),
        }  # fmt: skip
        port = free_port()
        log = (work / "server.log").open("w")
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "recsys"), "serve", "--port", str(port),
             "--workers", str(n), "--models-dir", str(args.models)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url + "/readyz")
            time.sleep(2 * n)  # every worker up (readyz answers from the first)
            ok = drive(url, ids["users"], ids["items"], args.requests, watermark + 1 + n * 1e5)
            pids = workers_of(proc.pid, n)
            for i, pid in enumerate(pids):
                m = smaps(pid, bundle)
                mib = {o: {k: round(v, 1) for k, v in f.items()} for o, f in m.items()}
                row = {"workers": n, "worker": i, "pid": pid, "ok_requests": ok,
                       "load": machine.load_average(), "mib": mib}  # fmt: skip
                print(json.dumps({"workers": n, "worker": i, **m["total"]}), flush=True)
                rows.append(row)
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()
            shutil.rmtree(work, ignore_errors=True)
    facts["load_at_end"] = machine.load_average()
    man = json.loads((bundle / "manifest.json").read_text())
    size = machine.disk_bytes(bundle)
    run = {
        "date": started, "command": "python bench/serving_memory.py " + " ".join(sys.argv[1:]),
        "machine": facts, "users": man["row_counts"]["users"], "items": man["row_counts"]["items"],
        "bundle_mib": round(size / 2**20),
        "rows": rows,
    }  # fmt: skip
    runs_path = RESULTS / "serving_memory_runs.json"
    runs = json.loads(runs_path.read_text()) if runs_path.exists() else []
    runs = [r for r in runs if r["users"] != run["users"]] + [run]
    runs_path.write_text(json.dumps(runs, indent=2) + "\n")
    text = render(runs)
    (RESULTS / "serving_memory.md").write_text(text)
    print(text)


def render(runs: list[dict]) -> str:
    lines = [
        "# Serving memory per worker: PSS and USS (issue 13 part 5)",
        "",
        "Rendered by `bench/serving_memory.py` from `serving_memory_runs.json`, read from",
        "`/proc/<pid>/smaps` after each worker served requests. USS = private pages (what one",
        "more worker adds); PSS = private + shared pages divided among their sharers. Split by",
        "origin: the bundle's memory-mapped files, other files (libraries), anonymous memory.",
        "",
    ]
    for run in runs:
        lines += [
            f"## {run['users']:,} users, {run['items']:,} items (bundle {run['bundle_mib']:,} MiB)",
            "",
            f"- command: `{run['command']}` ({run['date']})",
            *machine.render(run["machine"]),
            "",
            "| workers | worker | RSS MiB | PSS MiB | USS MiB | bundle files RSS / PSS / USS "
            "| anonymous RSS / USS | other files RSS / PSS | load |",
            "|---:|---:|---:|---:|---:|---|---|---|---|",
        ]
        for r in run["rows"]:
            t, b = r["mib"]["total"], r["mib"].get("bundle files", {})
            a, o = r["mib"].get("anonymous", {}), r["mib"].get("other files", {})
            lines.append(
                f"| {r['workers']} | {r['worker']} | {t['Rss']:,.0f} | {t['Pss']:,.0f} | "
                f"{t['USS']:,.0f} | {b.get('Rss', 0):,.0f} / {b.get('Pss', 0):,.0f} / "
                f"{b.get('USS', 0):,.0f} | {a.get('Rss', 0):,.0f} / {a.get('USS', 0):,.0f} | "
                f"{o.get('Rss', 0):,.0f} / {o.get('Pss', 0):,.0f} | {r['load']} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
