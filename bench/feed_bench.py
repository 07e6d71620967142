"""The feed's measurements (issue 10): bench/results/feed.md and feed_runs.json.

    .venv/bin/python bench/feed_bench.py quality [--datasets synth20k-s0 movielens-1m ...]
    .venv/bin/python bench/feed_bench.py circle [--users 20000 --seeds 0 1 2 --affinity 0.5]
    .venv/bin/python bench/feed_bench.py cold [--users 20000 --seeds 0 2 1]
    .venv/bin/python bench/feed_bench.py latency [--users 1000000 --calls 300]

- **quality**: on each data set's split (docs/evaluation.md), the default recipe is the plain
  order; `tail_weight` is picked on the validation split (`recsys.evaluation.feed_curves`), and
  on test the feed (the plain order re-ranked at that weight) is compared with the plain CF
  scorer and popularity: NDCG@10, long-tail share@10, group-buy share@10 (synthetic), catalogue
  coverage@10, exposure Gini@10; both curves (ours and the naive boost) over the grid.
- **circle**: the circle feed against recency and engagement popularity on synthetic data
  with the generator's `post_affinity` off and on (`recsys.evaluation.circle_feed`).
- **cold**: users with no item history before a time cut (friends, posts, attributes) get the
  feed of a bundle trained on the data before the cut; NDCG@10 on their first items after it,
  against global popularity, paired bootstrap.
- **latency**: one in-process feed page (and circle feed page) at 1M users.

Public data sets are imported from ../shared/datasets into bench/_work/<name>/data (as
`bench/datasets_table.py` does); synthetic ones are generated there. Every run records the
machine, its load and the command; feed.md is rebuilt from every stored run.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import datasets_table as dt  # noqa: E402

from recsys.config import load_config  # noqa: E402
from recsys.recipe import TrainConfig  # noqa: E402

logger = logging.getLogger("feed_bench")
WORK = ROOT / "bench" / "_work"
RESULTS = ROOT / "bench" / "results"
RUNS = RESULTS / "feed_runs.json"
DEFAULT_CONFIG = ROOT / "pipelines" / "configs" / "default.toml"
#: Data set -> (shared folder or synthetic seed, split).
SETS: dict[str, tuple[str, str]] = {
    "synth20k-s0": ("seed 0", "temporal"),
    "synth20k-s1": ("seed 1", "temporal"),
    "synth20k-s2": ("seed 2", "temporal"),
    "movielens-1m": ("movielens_1m", "fixed"),
    "amazon-beauty": ("amazon_beauty", "leave_last_out"),
    "lastfm-hetrec": ("lastfm_hetrec2k", "random"),
}
SYNTH_USERS = 20_000


def _data(name: str, shared: Path) -> Path:
    """The ingested data of a set, made once under bench/_work."""
    data = WORK / name / "data"
    if (data / "ingest_report.json").is_file() or (data / "dataset.json").is_file():
        return data
    if name.startswith("synth"):
        from recsys.ingest import ingest
        from recsys.synth import SynthConfig, generate

        seed = int(name.rsplit("s", 1)[1])
        generate(SynthConfig(n_users=SYNTH_USERS, seed=seed), WORK / name / "raw")
        ingest(WORK / name / "raw", data)
    else:
        from pipelines.import_job import run_import

        run_import(name, shared / SETS[name][0], data)
    return data


def _runs() -> dict[str, Any]:
    return json.loads(RUNS.read_text()) if RUNS.is_file() else {}


def _store(part: str, key: str, value: dict[str, Any]) -> None:
    runs = _runs()
    runs.setdefault(part, {})[key] = value
    RUNS.write_text(json.dumps(runs, indent=1, sort_keys=True, default=float) + "\n")
    render(runs)


def _facts(argv: list[str], load_before: float) -> dict[str, Any]:
    return {"machine": dt.machine(), "load": [load_before, dt.load()],
            "code": dt.code_version(), "command": shlex.join(
                [".venv/bin/python", "bench/feed_bench.py", *argv]),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


# -- quality ----------------------------------------------------------------------------------


def _above(ours: list[dict], naive: list[dict], k: int = 10) -> dict[str, Any]:
    """Where the naive curve reaches, how much higher NDCG ours has at the same long-tail
    share (linear interpolation of the naive curve)."""
    share, key = f"long_tail_share@{k}", f"ndcg@{k}"
    nx = np.array([p[share] for p in naive])
    ny = np.array([p[key] for p in naive])
    order = np.argsort(nx)
    nx, ny = nx[order], ny[order]
    gaps = []
    for p in ours:
        if nx[0] <= p[share] <= nx[-1] and p["tail_weight"] > 0:
            gaps.append(p[key] - float(np.interp(p[share], nx, ny)))
    return {"points_compared": len(gaps), "points_above": int(sum(g > 0 for g in gaps)),
            "min_gap": min(gaps) if gaps else None, "mean_gap": float(np.mean(gaps)) if gaps
            else None}


def quality(names: list[str], shared: Path, argv: list[str]) -> None:
    from recsys.evaluation.evaluate import compare_models
    from recsys.evaluation.feed_curves import feed_curves
    from recsys.evaluation.harness import prepare
    from recsys.recommenders.popularity import PopularityRecommender
    from recsys.recommenders.shipped import ShippedRecommender

    config = load_config(TrainConfig, DEFAULT_CONFIG)
    for name in names:
        load_before = dt.load()
        started = time.perf_counter()
        data = _data(name, shared)
        p = prepare(data, split=SETS[name][1], config=config, seed=0)  # type: ignore[arg-type]
        shipped = ShippedRecommender(config=config, content=p.content).fit(
            p.train, show_progress=False)
        curves = feed_curves(train=p.train, inner_train=p.inner_train, valid=p.valid,
                             test=p.test, train_events=p.train_events, shipped=shipped,
                             config=config, content=p.content, is_group_buy=p.is_group_buy)
        models = {"popularity": PopularityRecommender().fit(p.train, show_progress=False),
                  "plain CF (shipped)": shipped, "feed": curves.model}
        comparison = compare_models(models, p.train, p.test, ks=(10,),
                                    item_interactions=p.train_events)
        if p.is_group_buy is not None:
            for model, exposure in comparison.exposure.items():
                total = exposure.sum()
                comparison.metrics[model]["group_buy_share@10"] = (
                    float(exposure[p.is_group_buy].sum() / total) if total else 0.0)
        _store("quality", name, {
            "split": p.split.info.get("method"), "n_users": int(p.train.shape[0]),
            "n_items": int(p.train.shape[1]), "metrics": comparison.metrics,
            "feed": curves.summary(), "above_naive": _above(curves.ours, curves.naive),
            "seconds": round(time.perf_counter() - started, 1), **_facts(argv, load_before),
        })
        logger.info("%s done", name)


# -- circle -----------------------------------------------------------------------------------


def circle(users: int, seeds: list[int], affinity: float, argv: list[str]) -> None:
    from recsys.evaluation.circle_feed import evaluate_circle_feed
    from recsys.ingest import ingest
    from recsys.synth import SynthConfig, generate

    for seed in seeds:
        for knob in (0.0, affinity):
            load_before = dt.load()
            started = time.perf_counter()
            name = f"synth{users // 1000}k-s{seed}-post_affinity{knob}"
            data = WORK / name / "data"
            if not (data / "ingest_report.json").is_file():
                generate(SynthConfig(n_users=users, seed=seed, post_affinity=knob),
                         WORK / name / "raw")
                ingest(WORK / name / "raw", data)
            result = evaluate_circle_feed(str(data), seed=seed)
            _store("circle", name, {**result, "post_affinity": knob, "seed": seed,
                                    "users": users,
                                    "seconds": round(time.perf_counter() - started, 1),
                                    **_facts(argv, load_before)})


# -- cold users -------------------------------------------------------------------------------


def _cut_raw(raw: Path, out: Path, cut_us: int) -> None:
    """A copy of a synthetic raw folder holding only what existed before `cut_us`."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    times = {"users": "signup_ts", "items": "created_ts", "posts": "created_ts",
             "group_buys": "created_ts", "events": "ts", "social_edges": "ts"}
    for table in ("circles", *times):
        (out / table).mkdir(parents=True, exist_ok=True)
        for part in sorted((raw / table).glob("*.parquet")):
            rows = pq.read_table(part)
            if table in times:
                rows = rows.filter(pc.less(rows[times[table]].cast(pa.int64()), cut_us))
            pq.write_table(rows, out / table / part.name)


#: Seeds whose cold users chose a setting (`RuntimePolicy.circle_boost`): reported, not pooled.
DEV_SEEDS = (1,)


def cold(users: int, seeds: list[int], argv: list[str]) -> None:
    """Each seed's cold users (`_cold_seed`), and the seeds' users pooled, development seeds
    left out, when more than one held-out seed ran."""
    from recsys.metrics import ranking as m

    pooled: dict[str, list[np.ndarray]] = {}
    for seed in seeds:
        per = _cold_seed(users, seed, argv)
        if seed not in DEV_SEEDS:
            for label, values in per.items():
                pooled.setdefault(label, []).append(values)
    held_out = [s for s in seeds if s not in DEV_SEEDS]
    if len(held_out) < 2:
        return
    per = {label: np.concatenate(v) for label, v in pooled.items()}
    diff, low, high = m.paired_bootstrap(per["feed"], per["global popularity"], seed=0)
    p_diff, p_low, p_high = m.paired_bootstrap(per["plain order"], per["global popularity"],
                                               seed=0)
    facts = _facts(argv, dt.load())
    markdown = [
        f"## Cold users, held-out seeds {held_out} pooled", "",
        f"{len(per['feed'])} cold users of the seeds above ({DEV_SEEDS} chose the circle "
        "chain's `circle_boost` and is left out).", "",
        "| answer | NDCG@10 |", "|---|---|",
        *[f"| {label} | {np.nanmean(v):.4f} |" for label, v in per.items()], "",
        f"Feed minus popularity {diff:+.4f}, 95% paired bootstrap [{low:+.4f}, {high:+.4f}]; "
        f"plain order minus popularity {p_diff:+.4f} [{p_low:+.4f}, {p_high:+.4f}].", "",
        f"Run: {facts['command']}; {facts['machine']}; {facts['finished']}.",
    ]
    _store("cold", f"pooled-{users}-{'-'.join(map(str, held_out))}",
           {"users": len(per["feed"]), "ndcg@10": {k: float(np.nanmean(v))
                                                   for k, v in per.items()},
            "difference": [diff, low, high], "plain_difference": [p_diff, p_low, p_high],
            "markdown": markdown, **facts})


def _cold_seed(users: int, seed: int, argv: list[str]) -> dict[str, np.ndarray]:
    """Users without item history before a cut, their first page against global popularity;
    returns each answer's per-user NDCG@10."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import scipy.sparse as sp

    from recsys.bundle.signing import resolve_key
    from recsys.feeds.feed import Feed
    from recsys.feeds.pages import CursorCodec, derive_secret
    from recsys.ingest import ingest
    from recsys.metrics import ranking as m
    from recsys.runtime import RuntimeModel
    from recsys.synth import SynthConfig, generate
    from recsys.training.run import run_training

    load_before = dt.load()
    started = time.perf_counter()
    name = f"synth{users // 1000}k-s{seed}"
    raw = WORK / name / "raw"
    if not (raw / "events").is_dir():
        generate(SynthConfig(n_users=users, seed=seed), raw)
    events = pq.read_table(raw / "events", columns=["user_id", "item_id", "ts"])
    ts = events["ts"].cast(pa.int64()).to_numpy()
    cut = int(np.quantile(ts, 0.8))
    work = WORK / f"{name}-cold"
    if not (work / "data" / "ingest_report.json").is_file():
        _cut_raw(raw, work / "raw", cut)
        ingest(work / "raw", work / "data")
    bundles = sorted(p.parent for p in (work / "models").glob("*/manifest.json"))
    bundle = bundles[-1] if bundles else run_training(
        work / "data", load_config(TrainConfig, DEFAULT_CONFIG), models_dir=work / "models")
    model = RuntimeModel.load(bundle)
    feed = Feed(model, CursorCodec(derive_secret(resolve_key().secret)))
    parts = model.parts
    # Cold: known to the bundle, no item history, some social or UGC signal; relevant: the
    # items they touch after the cut that the bundle knows.
    after = events.filter(pa.compute.greater_equal(events["ts"].cast(pa.int64()), cut))
    after = after.filter(pa.compute.is_valid(after["item_id"]))
    u = parts.ids.users.to_index(after["user_id"].to_numpy(zero_copy_only=False))
    i = parts.ids.items.to_index(after["item_id"].to_numpy(zero_copy_only=False))
    ok = (u >= 0) & (i >= 0)
    n_users, n_items = len(parts.ids.users), len(parts.ids.items)
    truth = sp.csr_matrix((np.ones(int(ok.sum())), (u[ok], i[ok])), shape=(n_users, n_items))
    has_history = np.diff(parts.history.interacted.indptr) > 0
    social = np.diff(parts.social.friends.indptr) > 0
    posted = np.diff(parts.post_feed.signals.user_posts.indptr) > 0
    cold_users = np.flatnonzero(~has_history & (np.diff(truth.indptr) > 0))
    kinds = {"friends": int(social[cold_users].sum()),
             "post events": int(posted[cold_users].sum()),
             "neither (attributes only)": int((~social[cold_users] & ~posted[cold_users]).sum())}
    listed = np.asarray(parts.catalogue.listed)
    popular = np.asarray(parts.lists.popular_all)
    popular = popular[listed[popular]][:10]
    feeds, plains, pops, steps = [], [], [], {}
    for user in cold_users:
        page = feed.page(str(parts.ids.users.ids[user]), 10)
        steps[page.step.value] = steps.get(page.step.value, 0) + 1
        ids = parts.ids.items.to_index([p.item_id for p in page.items])
        feeds.append(np.pad(ids, (0, 10 - len(ids)), constant_values=-1))
        plain = np.asarray(model.plain_order(str(parts.ids.users.ids[user]), 10).items)
        plains.append(np.pad(plain, (0, 10 - len(plain)), constant_values=-1))
        pops.append(popular)
    relevant = truth[cold_users]
    per = {}
    for label, rec in (("feed", np.array(feeds)), ("plain order", np.array(plains)),
                       ("global popularity", np.array(pops))):
        hits, n_rel = m.relevance_hits(rec, relevant)
        per[label] = m.accuracy_per_user(hits, n_rel, 10)["ndcg"]
    diff, low, high = m.paired_bootstrap(per["feed"], per["global popularity"], seed=seed)
    p_diff, p_low, p_high = m.paired_bootstrap(per["plain order"], per["global popularity"],
                                               seed=seed)
    facts = _facts(argv, load_before)
    markdown = [
        "## Cold users: the feed against global popularity", "",
        f"`recsys synth --users {users} --seed {seed}` cut at the 80% quantile of event times: "
        "the bundle is trained on what existed before the cut; cold users are users it knows "
        "without item history (friends, post events or only attributes) who touch items after "
        f"the cut. {len(cold_users)} cold users ({kinds}); their feed came from the policy "
        f"steps {steps}.", "",
        "| answer | NDCG@10 |", "|---|---|",
        f"| feed (first page) | {np.nanmean(per['feed']):.4f} |",
        f"| plain order (the circle chain, before re-ranking) | "
        f"{np.nanmean(per['plain order']):.4f} |",
        f"| global popularity | {np.nanmean(per['global popularity']):.4f} |", "",
        f"Feed minus popularity {diff:+.4f}, 95% paired bootstrap [{low:+.4f}, {high:+.4f}]; "
        f"plain order minus popularity {p_diff:+.4f} [{p_low:+.4f}, {p_high:+.4f}].", "",
        f"Run: {facts['command']}; {facts['machine']}; load {facts['load']}; "
        f"{round(time.perf_counter() - started, 1)} s; {facts['finished']}.",
    ]
    _store("cold", name, {"users": len(cold_users), "kinds": kinds, "steps": steps,
                          "ndcg@10": {k: float(np.nanmean(v)) for k, v in per.items()},
                          "difference": [diff, low, high],
                          "plain_difference": [p_diff, p_low, p_high],
                          "markdown": markdown, **facts})
    return per


# -- latency ----------------------------------------------------------------------------------


def latency(users: int, items: int, calls: int, argv: list[str]) -> None:
    """One feed page and one circle feed page, in process, at `users` users."""
    from serving_inprocess import build

    from recsys.bundle.signing import resolve_key
    from recsys.feeds.circle_feed import CircleFeed
    from recsys.feeds.feed import Feed
    from recsys.feeds.pages import CursorCodec, derive_secret
    from recsys.runtime import RuntimeModel

    load_before = dt.load()
    bundle = build(WORK / f"serving-{users}", users, items, 0)
    model = RuntimeModel.load(bundle)
    codec = CursorCodec(derive_secret(resolve_key().secret))
    feed, circles = Feed(model, codec), CircleFeed(model, codec)
    parts = model.parts
    rng = np.random.default_rng(0)
    history = np.diff(parts.history.interacted.indptr)
    warm = rng.choice(np.flatnonzero(history > 0), calls, replace=False)
    cold = rng.choice(np.flatnonzero(history == 0), min(calls, int((history == 0).sum())),
                      replace=False)
    ids = parts.ids.users.ids
    sizes = np.diff(parts.post_feed.signals.circle_offsets)
    timings: dict[str, list[float]] = {}

    def timed(label: str, fn) -> None:  # noqa: ANN001
        t = time.perf_counter()
        fn()
        timings.setdefault(label, []).append((time.perf_counter() - t) * 1000)

    for u in warm:
        timed("feed page 1, limit 20 (known user with history: ranked)",
              lambda u=u: feed.page(str(ids[u]), 20))
    for u in cold:
        timed("feed page 1, limit 20 (cold: circle chain)", lambda u=u: feed.page(str(ids[u]),
                                                                                 20))
    for u in warm[: calls // 3]:
        first = feed.page(str(ids[u]), 20)
        timed("feed page 2 (cursor), limit 20",
              lambda u=u, c=first.next_cursor: feed.page(str(ids[u]), 20, c))
    for n, u in enumerate(warm):
        circle = model.catalogue.ids[int(np.argsort(-sizes)[n % 5])]
        timed("circle feed page 1, limit 20 (5 biggest circles)",
              lambda u=u, c=circle: circles.page(c, str(ids[u]), 20))
    rows = ["| call | calls | p50 ms | p99 ms |", "|---|---:|---:|---:|"]
    for label, values in timings.items():
        rows.append(f"| {label} | {len(values)} | {np.percentile(values, 50):.2f} | "
                    f"{np.percentile(values, 99):.2f} |")
    facts = _facts(argv, load_before)
    markdown = [
        f"## Latency of one feed call at {users:,} users, {items:,} items (in process)", "",
        "Sequential calls on one loaded `RuntimeModel` (bundle of `bench/serving_inprocess.py`, "
        "bench/_work/serving-<users>), 1 BLAS thread, no event store; a page is the plain order "
        f"of `feed.pool` candidates, the hard rules, the re-ranker chain and reasons. The "
        f"largest circle holds {int(sizes.max()):,} live posts.", "", *rows, "",
        f"Run: {facts['command']}; {facts['machine']}; load {facts['load']}; "
        f"{facts['finished']}.",
    ]
    _store("latency", str(users), {"timings_ms": {k: [float(np.percentile(v, 50)),
                                                      float(np.percentile(v, 99))]
                                                  for k, v in timings.items()},
                                   "markdown": markdown, **facts})


# -- rendering --------------------------------------------------------------------------------


def _f(x: Any, digits: int = 4) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def render(runs: dict[str, Any]) -> None:
    lines = ["# The feed: long tail, exposure, cold users, circle feed, latency", "",
             "Made by `bench/feed_bench.py` (its docstring says how); every section names its "
             "command, machine and load. Raw numbers: `bench/results/feed_runs.json`.", ""]
    quality_runs = runs.get("quality", {})
    if quality_runs:
        lines += ["## Long tail at the picked tail_weight (test split)", "",
                  "`tail_weight` is picked on each set's validation split as the largest of "
                  "the grid costing at most 5% relative NDCG@10; the feed is the plain order "
                  "(the default recipe) re-ranked at it. Targets: long-tail share@10 >= 0.15 "
                  "and >= 3x the plain order's; on synthetic data group-buy share@10 >= the "
                  "group-buy share of the test interactions.", "",
                  "| data set | split | tail_weight | NDCG@10 plain | NDCG@10 feed | loss | "
                  "long-tail@10 plain | long-tail@10 feed | x plain | group-buy@10 feed | "
                  "group-buy share of test | ours above naive |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, r in quality_runs.items():
            plain, feed = r["metrics"]["plain CF (shipped)"], r["metrics"]["feed"]
            ratio = (feed["long_tail_share@10"] / plain["long_tail_share@10"]
                     if plain["long_tail_share@10"] else float("inf"))
            loss = 1 - feed["ndcg@10"] / plain["ndcg@10"]
            above = r["above_naive"]
            lines.append(
                f"| {name} | {r['split']} | {r['feed']['tail_weight']} | "
                f"{_f(plain['ndcg@10'])} | {_f(feed['ndcg@10'])} | {loss:.1%} | "
                f"{_f(plain['long_tail_share@10'], 3)} | {_f(feed['long_tail_share@10'], 3)} | "
                f"{ratio:.1f} | {_f(feed.get('group_buy_share@10'), 3)} | "
                f"{_f(r['feed'].get('group_buy_share_of_test'), 3)} | "
                f"{above['points_above']}/{above['points_compared']} points, "
                f"mean +{_f(above['mean_gap'])} |")
        lines += ["", "## Coverage and exposure Gini against plain CF and popularity (test)", "",
                  "| data set | model | NDCG@10 | coverage@10 | Gini@10 | long-tail@10 |",
                  "|---|---|---|---|---|---|"]
        for name, r in quality_runs.items():
            for model, m in r["metrics"].items():
                lines.append(f"| {name} | {model} | {_f(m['ndcg@10'])} | "
                             f"{_f(m['coverage@10'], 3)} | {_f(m['gini@10'], 3)} | "
                             f"{_f(m['long_tail_share@10'], 3)} |")
        lines += ["", "## The curves on test: ours against the naive boost", "",
                  "NDCG@10 / long-tail share@10 at each tail_weight (the naive boost: "
                  "`scaled score + w * is_tail`, sorted).", ""]
        for name, r in quality_runs.items():
            lines += [f"**{name}** (picked {r['feed']['tail_weight']})", "",
                      "| w | ours NDCG | ours tail | naive NDCG | naive tail |",
                      "|---|---|---|---|---|"]
            for o, n in zip(r["feed"]["ours"], r["feed"]["naive"], strict=True):
                lines.append(f"| {o['tail_weight']} | {_f(o['ndcg@10'])} | "
                             f"{_f(o['long_tail_share@10'], 3)} | {_f(n['ndcg@10'])} | "
                             f"{_f(n['long_tail_share@10'], 3)} |")
            lines += ["", f"Run: {r['command']}; {r['machine']}; load {r['load']}; "
                      f"{r['seconds']} s; commit {r['code']['commit']} "
                      f"(dirty: {r['code']['dirty']}); {r['finished']}.", ""]
    circle_runs = runs.get("circle", {})
    if circle_runs:
        lines += ["## Circle feed against recency and engagement popularity", "",
                  "NDCG@10 per (user, circle) query on post actions after a time cut; "
                  "differences with 95% paired-bootstrap intervals.", "",
                  "| data | post_affinity | queries | circle feed | recency | popularity | "
                  "feed - recency [95%] | feed - popularity [95%] |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, r in circle_runs.items():
            n = r["ndcg@10"]
            vr, vp = r["vs_recency"], r["vs_popularity"]
            lines.append(
                f"| {name} | {r['post_affinity']} | {r['queries']} | {_f(n['circle_feed'])} | "
                f"{_f(n['recency'])} | {_f(n['popularity'])} | {_f(vr['difference'])} "
                f"[{_f(vr['low'])}, {_f(vr['high'])}] | {_f(vp['difference'])} "
                f"[{_f(vp['low'])}, {_f(vp['high'])}] |")
        last = next(reversed(circle_runs.values()))
        lines += ["", f"Run: {last['command']}; {last['machine']}; load {last['load']}.", ""]
    for part in ("cold", "latency"):
        for _, r in runs.get(part, {}).items():
            lines += r.get("markdown", []) + [""]
    (RESULTS / "feed.md").write_text("\n".join(lines).rstrip() + "\n")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--datasets", nargs="+", default=["synth20k-s0", "movielens-1m",
                                                      "amazon-beauty", "lastfm-hetrec"])
    q.add_argument("--shared", type=Path, default=dt.SHARED)
    c = sub.add_parser("circle")
    c.add_argument("--users", type=int, default=SYNTH_USERS)
    c.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    c.add_argument("--affinity", type=float, default=0.5)
    k = sub.add_parser("cold")
    k.add_argument("--users", type=int, default=SYNTH_USERS)
    k.add_argument("--seeds", type=int, nargs="+", default=[0])
    lat = sub.add_parser("latency")
    lat.add_argument("--users", type=int, default=1_000_000)
    lat.add_argument("--items", type=int, default=100_000)
    lat.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    argv = sys.argv[1:]
    if args.part == "quality":
        quality(args.datasets, args.shared, argv)
    elif args.part == "circle":
        circle(args.users, args.seeds, args.affinity, argv)
    elif args.part == "cold":
        cold(args.users, args.seeds, argv)
    else:
        from threadpoolctl import threadpool_limits

        from recsys.errors import InvalidInputError

        with threadpool_limits(limits=1):
            try:
                latency(args.users, args.items, args.calls, argv)
            except InvalidInputError as exc:
                raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
