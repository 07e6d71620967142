"""Benchmark: live events accepted durably per second, and fold-in latency at 1M users.

    .venv/bin/python bench/events_bench.py store  --batches 500
    .venv/bin/python bench/events_bench.py server --clients 8 --batches 60 [--workers 2]
    .venv/bin/python bench/events_bench.py fold-in --users 1000000 --items 100000 --calls 2000

`store`: `SQLiteEventStore.add` alone, batches of 100 events, one durable commit each (WAL,
synchronous=FULL). `server`: a real `recsys serve` on a loopback port (a demo bundle trained into
bench/_work/events/ when none is given); `--clients` threads each post `--batches` batches of 100
events through `POST /v1/events`; events/s counts rows answered `accepted`, i.e. judged by the
ingest rules and fsynced. `fold-in`: arrays of a 1M-user bundle (random item vectors and a
1M x items history CSR of ~10 items per user, memory-mapped from .npy like a bundle's, and a store
holding 2 live events per user); per call: the user's store read, the events as confidence, the
training row plus them, and implicit's `recalculate_user` (the fold-in), then the scoring of
every item and top-k under the exclusion rule (the answer). Building a real 1M-user bundle
(bench/train_bench.py) takes most of an hour on this machine; fold-in cost depends on the item
count, factors and the user's row, not on how the arrays were made.

Each run prints one JSON line and appends it to bench/results/events_runs.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "_work" / "events"
RESULTS = ROOT / "results" / "events_runs.json"
BATCH = 100


def _machine() -> dict[str, object]:
    return {"cores": os.cpu_count(), "load_avg": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "when": time.strftime("%Y-%m-%d %H:%M")}


def _record(out: dict[str, object]) -> None:
    out = {**out, "machine": _machine(), "command": " ".join(sys.argv[1:])}
    print(json.dumps(out))
    runs = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    RESULTS.write_text(json.dumps([*runs, out], indent=1) + "\n")


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {f"p{q}": round(float(np.percentile(ms, q)), 3) for q in (50, 95, 99)}


# -- store alone -------------------------------------------------------------------------------


def bench_store(batches: int) -> None:
    from recsys.events.store import SQLiteEventStore

    folder = Path(tempfile.mkdtemp(dir=WORK))
    try:
        store = SQLiteEventStore(folder / "events.sqlite3")
        started = time.perf_counter()
        for b in range(batches):
            rows = [(f"e{b}-{n}", f"u{n % 977}", f"i{n % 311}", None, "view", None, None,
                     1_700_000_000_000_000 + b * BATCH + n) for n in range(BATCH)]
            store.add("events", rows, [])
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _record({"bench": "store", "batch": BATCH, "batches": batches,
             "events_per_s": round(batches * BATCH / seconds), "seconds": round(seconds, 2)})


# -- through the real server -------------------------------------------------------------------


def _demo_models() -> Path:
    """A promoted bundle of 3,000 synthetic users under bench/_work/events (made once)."""
    from recsys.bundle.registry import ModelRegistry
    from recsys.ingest import ingest
    from recsys.recipe import TrainConfig
    from recsys.synth import SynthConfig, generate
    from recsys.training.run import run_training

    models = WORK / "models"
    if ModelRegistry(models).promoted():
        return models
    shutil.rmtree(WORK / "raw", ignore_errors=True)
    generate(SynthConfig(n_users=3000, seed=7, progress=False), WORK / "raw")
    ingest(WORK / "raw", WORK / "data", force=True)
    bundle = run_training(WORK / "data", TrainConfig.model_validate(
        {"content": {"evaluate_cold_start": False}}), models_dir=models)
    ModelRegistry(models).promote(bundle.name, force=True)
    return models


def bench_server(clients: int, batches: int, workers: int, models: Path | None) -> None:
    import httpx

    from recsys.bundle.registry import ModelRegistry
    from recsys.runtime import RuntimeModel

    models = models or _demo_models()
    model = RuntimeModel.load(ModelRegistry(models).current_bundle(verify=False).root)
    users, items = model.parts.ids.users.ids, model.parts.ids.items.ids
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = "bench-" + "k" * 20
    events_db = Path(tempfile.mkdtemp(dir=WORK)) / "events.sqlite3"
    env = {**os.environ, "RECSYS_API_KEYS": json.dumps({key: "service"}),
           "RECSYS_EVENTS_DB": str(events_db), "RECSYS_IMPRESSIONS_DB": str(
               events_db.with_name("impressions.sqlite3"))}
    recsys = Path(sys.executable).parent / "recsys"
    log = (WORK / "server.log").open("w")
    server = subprocess.Popen(
        [str(recsys), "serve", "--port", str(port), "--workers", str(workers),
         "--models-dir", str(models)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        base_us = model.watermark_us + 1_000_000
        accepted = [0] * clients
        latencies: list[float] = []
        lock = threading.Lock()

        def post(c: int) -> None:
            rng = np.random.default_rng(c)
            with httpx.Client(base_url=url, timeout=60, headers={"X-API-Key": key}) as client:
                for b in range(batches):
                    pick_u = rng.integers(0, len(users), BATCH)
                    pick_i = rng.integers(0, len(items), BATCH)
                    events = [{"event_id": f"c{c}-b{b}-{n}", "user_id": str(users[pick_u[n]]),
                               "item_id": str(items[pick_i[n]]), "type": "view",
                               "ts": (base_us + (c * batches + b) * BATCH + n) / 1e6}
                              for n in range(BATCH)]
                    t0 = time.perf_counter()
                    r = client.post("/v1/events", json={"events": events})
                    with lock:
                        latencies.append(time.perf_counter() - t0)
                    accepted[c] += r.json()["accepted"] if r.status_code == 200 else 0

        threads = [threading.Thread(target=post, args=(c,)) for c in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=60)
        log.close()
        shutil.rmtree(events_db.parent, ignore_errors=True)
    total = sum(accepted)
    _record({"bench": "server", "batch": BATCH, "clients": clients, "batches_per_client": batches,
             "workers": workers, "users": len(users), "accepted": total,
             "events_per_s": round(total / seconds), "seconds": round(seconds, 2),
             "batch_latency_ms": _percentiles(latencies)})


# -- fold-in at 1M users -----------------------------------------------------------------------


def bench_fold_in(n_users: int, n_items: int, factors: int, calls: int) -> None:
    import pyarrow as pa
    import scipy.sparse as sp

    from recsys.bundle.layout import csr_row_matrix, load_array, load_csr, save_array, save_csr
    from recsys.bundle.parts import PostsAndGroups
    from recsys.events.store import SQLiteEventStore
    from recsys.idmap import IdMap
    from recsys.recipe import TrainConfig
    from recsys.recommenders.shipped import ShippedRecommender
    from recsys.runtime.exclusion import ExclusionRule
    from recsys.runtime.fold_in import FoldIn, fresh_history

    folder = WORK / f"fold-in-{n_users}"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    if not (folder / "history" / "shape.npy").is_file():
        save_array(folder / "item_vectors.npy",
                   (rng.standard_normal((n_items, factors)) * 0.1).astype(np.float32))
        per_user = rng.poisson(10, n_users).astype(np.int64)
        indptr = np.concatenate([[0], np.cumsum(per_user)])
        indices = rng.integers(0, n_items, indptr[-1]).astype(np.int32)
        history = sp.csr_matrix((rng.uniform(1, 10, indptr[-1]).astype(np.float32), indices,
                                 indptr), shape=(n_users, n_items))
        history.sum_duplicates()
        save_csr(folder / "history", history)
        del history, indices
        store = SQLiteEventStore(folder / "events.sqlite3")
        con = store._con()
        con.execute("PRAGMA synchronous=OFF")  # set-up only: the bench reads
        con.execute("BEGIN")
        for lo in range(0, n_users, 100_000):
            users = np.arange(lo, min(lo + 100_000, n_users))
            con.executemany(
                "INSERT INTO events (event_id, user_id, item_id, type, ts_us, received_us) "
                "VALUES (?, ?, ?, ?, ?, 0)",
                [(f"e{u}-{k}", f"u{u}", f"i{(u * 7 + k * 13) % n_items}",
                  ("view", "purchase")[k], 2_000_000_000_000_000 + k) for u in users
                 for k in range(2)],
            )
        con.execute("COMMIT")
    vectors = load_array(folder / "item_vectors.npy", mmap=True)
    history = load_csr(folder / "history", mmap=True)
    store = SQLiteEventStore(folder / "events.sqlite3")
    scorer = ShippedRecommender(config=TrainConfig())
    scorer.item_vectors_, scorer.user_factors_ = vectors, np.zeros((1, factors), np.float32)
    scorer.cold_items_, scorer.similarity_, scorer.n_items_ = np.empty(0, np.int64), None, n_items
    items = IdMap([f"i{k}" for k in range(n_items)])
    items.to_index([""])
    empty = PostsAndGroups(IdMap([]), np.empty(0, np.int64), np.empty(0, bool), IdMap([]),
                           pa.table({"started": pa.array([], pa.bool_())}))
    fold = FoldIn(scorer)
    rule = ExclusionRule()
    weights = scorer.config.interactions
    fold_s, answer_s = [], []
    for u in rng.integers(0, n_users, calls):
        t0 = time.perf_counter()
        found = store.user_events(f"u{u}", 0)
        fresh = fresh_history(found, items, empty, weights)
        row = fresh.row(csr_row_matrix(history, int(u)), n_items)
        factors_u = fold.user_factors(row)
        t1 = time.perf_counter()
        bought = sp.csr_matrix((np.ones(len(fresh.purchased), np.float32),
                                (np.zeros(len(fresh.purchased), np.int64), fresh.purchased)),
                               shape=(1, n_items))
        rule.recommend(scorer.for_user_factors(factors_u[None, :]), np.zeros(1, np.int64), row,
                       20, purchased=bought)
        t2 = time.perf_counter()
        fold_s.append(t1 - t0)
        answer_s.append(t2 - t0)
    _record({"bench": "fold_in", "users": n_users, "items": n_items, "factors": factors,
             "history_nnz": int(history.nnz), "store_events": 2 * n_users, "calls": calls,
             "fold_in_ms": _percentiles(fold_s), "answer_ms_limit_20": _percentiles(answer_s)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("store")
    p.add_argument("--batches", type=int, default=500)
    p = sub.add_parser("server")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--batches", type=int, default=60)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--models-dir", type=Path, default=None)
    p = sub.add_parser("fold-in")
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--factors", type=int, default=64)
    p.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.what == "store":
        bench_store(args.batches)
    elif args.what == "server":
        bench_server(args.clients, args.batches, args.workers, args.models_dir)
    else:
        bench_fold_in(args.users, args.items, args.factors, args.calls)


if __name__ == "__main__":
    main()
