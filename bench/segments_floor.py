"""Segments against memory bandwidth, and exact vs approximate item retrieval (issue 13 part 3).

Segments: on a real bundle, an audience of `--size` users for an item target (the recipe's
scoring, back-test reach included, as `recsys segment` and the API build it) against the floor
of one pass over the user vectors: their bytes divided by the memory bandwidth numpy reaches in
the same run (a streaming `sum` over a 1 GiB array, best of 5). Reported for the scorer's pass
alone (`SegmentScorer.top`) and for the whole `Segmenter.build` (which adds the back-test
scorer's pass and the id lookup). Target: ratio <= 3.

Retrieval: item vectors of the bundle tiled with noise up to each catalogue size; 1,000 user
queries top-10 against an exact faiss index (flat, inner product) and the approximate kinds
(HNSW and IVF at the project's defaults): build seconds, queries/s (one thread, batch 1 and
batch 1,000) and recall@10 against exact, so one can read from which size approximate pays.

    python bench/segments_floor.py --models bench/_work/train_cost/1000000/models \
        [--size 100000] [--catalogues 10000 100000 1000000]

Results: `bench/results/segments_floor_runs.json`, rendered into `segments_floor.md`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def best_of(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bandwidth_gbs() -> float:
    """Read bandwidth numpy reaches: a streaming float32 sum over 1 GiB (best of 5)."""
    x = np.ones(2**28, dtype=np.float32)
    return x.nbytes / best_of(lambda: x.sum()) / 1e9


def segments(models: Path, size: int, seed: int) -> dict[str, object]:
    from recsys.bundle.registry import ModelRegistry
    from recsys.runtime import RuntimeModel
    from recsys.segments import SegmentConfig, Segmenter
    from recsys.segments.request import SegmentRequest
    from recsys.segments.scope import Scope

    registry = ModelRegistry(models)
    if registry.promoted() is None:
        newest = sorted(p.parent.name for p in models.glob("*/manifest.json"))[-1]
        registry.promote(newest, force=True)
    model = RuntimeModel.load(registry.current_bundle(verify=False).root)
    t = time.perf_counter()
    seg = Segmenter(model.parts, model.version)
    setup = time.perf_counter() - t
    users = np.asarray(model.parts.scorer.model.user_factors_)
    n_users = users.shape[0]
    rng = np.random.default_rng(seed)
    popular = np.argsort(-np.asarray(seg.popularity))[:200]
    items = model.parts.ids.items.to_ids(rng.choice(popular, 3, replace=False))
    request = SegmentRequest.model_validate(
        {"target": {"kind": "item", "ids": [str(i) for i in items]}, "size": size}
    )
    query = seg._query(seg.resolve(request, Scope()), seg.popularity)  # the pass alone
    eligible = np.ones(n_users, dtype=bool)
    np.asarray(users).sum()  # pages of the mapped vectors in cache, as for a serving worker
    gbs = bandwidth_gbs()
    floor = users.nbytes / (gbs * 1e9)
    gemv = best_of(lambda: users @ np.ones(users.shape[1], np.float32))
    top = best_of(lambda: seg.scorer.top(query, eligible, size=size), 3)
    build = best_of(lambda: seg.build(request, Scope()), 3)
    got = seg.build(request, Scope())
    # The same build with the reach curve counted over everyone (a second full pass): the
    # baseline of the sampled curve, in time and in what it says.
    counting = Segmenter(model.parts, model.version, SegmentConfig(reach_sample=0))
    build_counted = best_of(lambda: counting.build(request, Scope()), 3)
    counted = counting.build(request, Scope()).reach
    return {
        "users": n_users, "factors": users.shape[1], "size": size, "returned": len(got),
        "vector_mib": round(users.nbytes / 2**20, 1), "bandwidth_gbs": round(gbs, 2),
        "floor_s": round(floor, 4), "gemv_s": round(gemv, 4), "top_s": round(top, 4),
        "build_s": round(build, 4), "segmenter_setup_s": round(setup, 3),
        "top_ratio": round(top / floor, 2), "build_ratio": round(build / floor, 2),
        "reach_sampled": got.reach.sampled, "build_counted_s": round(build_counted, 4),
        "build_counted_ratio": round(build_counted / floor, 2),
        "expected_buyers": got.reach.expected_buyers,
        "expected_buyers_counted": counted.expected_buyers,
        "curve": [[p.size, p.buyers] for p in got.reach.curve],
        "curve_counted": [[p.size, p.buyers] for p in counted.curve],
        "load": machine.load_average(),
    }  # fmt: skip


def retrieval(
    base: np.ndarray, queries: np.ndarray, sizes: list[int], seed: int
) -> list[dict[str, object]]:
    import faiss

    from recsys.index.recall import measure_recall
    from recsys.index.vector_index import IndexConfig, VectorIndex

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(seed)
    scale = float(np.std(base))
    out = []
    for n in sizes:
        reps = -(-n // len(base))
        vectors = np.tile(base, (reps, 1))[:n]
        vectors = vectors + rng.normal(0, 0.1 * scale, vectors.shape).astype(np.float32)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        for kind in ("flat", "hnsw", "ivf"):
            t = time.perf_counter()
            cfg = {"kind": kind, "threads": 1, "hnsw_deterministic": False}
            index = VectorIndex(IndexConfig.model_validate(cfg)).build(vectors)
            build = time.perf_counter() - t
            one = best_of(lambda index=index: [index.search(q[None], 10) for q in queries[:200]], 2)
            batch = best_of(lambda index=index: index.search(queries, 10), 2)
            recall = 1.0 if kind == "flat" else measure_recall(index, vectors, queries, 10)
            row = {
                "items": n, "kind": kind, "build_s": round(build, 2),
                "qps_batch1": round(200 / one, 1), "qps_batch1000": round(len(queries) / batch, 1),
                "recall@10": round(float(recall), 4), "load": machine.load_average(),
            }  # fmt: skip
            print(json.dumps(row), flush=True)
            out.append(row)
            del index
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--catalogues", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    facts = machine.describe()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    seg = segments(args.models, args.size, args.seed)
    print(json.dumps(seg), flush=True)
    from recsys.bundle.registry import ModelRegistry
    from recsys.runtime import RuntimeModel

    model = RuntimeModel.load(ModelRegistry(args.models).current_bundle(verify=False).root)
    sc = model.parts.scorer.model
    rng = np.random.default_rng(args.seed)
    u = np.asarray(sc.user_factors_)
    active = np.flatnonzero(np.any(u != 0, axis=1))
    queries = np.ascontiguousarray(u[np.sort(rng.choice(active, 1000, replace=False))])
    ret = retrieval(np.asarray(sc.item_vectors_, np.float32), queries, args.catalogues, args.seed)
    facts["load_at_end"] = machine.load_average()
    run = {
        "date": started, "command": "python bench/segments_floor.py " + " ".join(sys.argv[1:]),
        "machine": facts, "segments": seg, "retrieval": ret,
    }  # fmt: skip
    runs_path = RESULTS / "segments_floor_runs.json"
    runs = json.loads(runs_path.read_text()) if runs_path.exists() else []
    runs = [r for r in runs if r["segments"]["users"] != seg["users"]] + [run]
    runs_path.write_text(json.dumps(runs, indent=2) + "\n")
    text = render(runs)
    (RESULTS / "segments_floor.md").write_text(text)
    print(text)


def _counted_rows(s: dict) -> list[str]:
    """The sampled reach curve beside the counted one (runs since the curve is sampled)."""
    if "build_counted_s" not in s:
        return []
    how = (f"reach estimated from {s['reach_sampled']:,} sampled users"
           if s["reach_sampled"]
           else "reach counted (fewer than 10x the sample's users: a pass costs what a sample does)"
           )
    return [
        f"| the same build, reach counted over everyone (second full pass) | "
        f"{s['build_counted_s']:.4f} | {s['build_counted_ratio']:.2f} |",
        "",
        f"The whole build's {how}: expected buyers {s['expected_buyers']} vs "
        f"{s['expected_buyers_counted']} counted; curve (size, buyers) {s['curve']} vs "
        f"{s['curve_counted']} counted.",
    ]


def render(runs: list[dict]) -> str:
    lines = [
        "# Segments against memory bandwidth; exact vs approximate item retrieval",
        "",
        "Rendered by `bench/segments_floor.py` from `segments_floor_runs.json` (issue 13 part 3).",
        "Floor = bytes of the user vectors / numpy's streaming read bandwidth measured in the",
        "same run. Target: an audience within 3x the floor. 2 shared cores: read the load.",
        "",
    ]
    for run in runs:
        s = run["segments"]
        lines += [
            f"## {s['users']:,} users x {s['factors']} factors ({s['vector_mib']} MiB of vectors)",
            "",
            f"- command: `{run['command']}` ({run['date']})",
            *machine.render(run["machine"]),
            "",
            "| measure | seconds | x floor |",
            "|---|---:|---:|",
            f"| floor: one pass at {s['bandwidth_gbs']} GB/s | {s['floor_s']:.4f} | 1.00 |",
            f"| numpy `U @ q` (one GEMV pass) | {s['gemv_s']:.4f} | "
            f"{s['gemv_s'] / s['floor_s']:.2f} |",
            f"| audience of {s['size']:,}: scorer pass (`SegmentScorer.top`) | {s['top_s']:.4f} | "
            f"**{s['top_ratio']:.2f}** |",
            f"| audience of {s['size']:,}: whole `Segmenter.build` (+ back-test reach, ids) | "
            f"{s['build_s']:.4f} | **{s['build_ratio']:.2f}** |",
            *_counted_rows(s),
            "",
            f"Returned {s['returned']:,} users; load {s['load']}; `Segmenter` set-up (norms, "
            f"once per bundle) {s['segmenter_setup_s']} s.",
            "",
            "Item retrieval, top-10 for 1,000 user queries, faiss on one thread "
            "(catalogues: the bundle's item vectors tiled with noise):",
            "",
            "| items | index | build s | queries/s (batch 1) | queries/s (batch 1,000) | "
            "recall@10 vs exact | load |",
            "|---:|---|---:|---:|---:|---:|---|",
        ]
        lines += [
            f"| {r['items']:,} | {r['kind']} | {r['build_s']} | {r['qps_batch1']:,.0f} | "
            f"{r['qps_batch1000']:,.0f} | {r['recall@10']} | {r['load']} |"
            for r in run["retrieval"]
        ]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
