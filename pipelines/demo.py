"""`recsys demo`: the main job end to end on embedded defaults, then exit.

sample data (generated, planted truth) -> validated ingest -> summary -> train a bundle ->
promote it -> print a few warm users' and a cold user's circles and items as the runtime
answers them, their feed beside the plain order, a circle feed, and whom a user should share a
group buy with (reasons, completion chance) -> a merchant's audience segment with its
back-tested reach -> evaluate against tuned baselines.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from pipelines.evaluate import run_evaluate
from recsys.bundle.created import CreationLog
from recsys.bundle.registry import ModelRegistry
from recsys.bundle.signing import resolve_key
from recsys.data_summary import summarize
from recsys.datastore import DataDir
from recsys.feeds.circle_feed import CircleFeed
from recsys.feeds.feed import Feed
from recsys.feeds.pages import CursorCodec, derive_secret
from recsys.ingest import IngestReport, ingest
from recsys.recipe import TrainConfig
from recsys.runtime import RuntimeModel
from recsys.segments import Scope, Segmenter, SegmentRequest
from recsys.segments.scope import buyers_of
from recsys.synth import SynthConfig, generate
from recsys.training.run import run_training

logger = logging.getLogger("recsys.demo")
#: What the demo created, in the models folder; `make clean` removes exactly that.
DEMO_RECORD = ".demo-created.json"


def _section(title: str) -> None:
    typer.secho(f"\n== {title} ==", bold=True)


def demo(
    workdir: Path = typer.Option(
        Path("data"), help="Where sample data goes (raw/ and processed/)."
    ),
    models_dir: Path = typer.Option(Path("models"), help="Where the demo bundle goes."),
    users: int = typer.Option(3000, help="Users in the generated sample."),
    items: int = typer.Option(1500, help="Items in the generated sample."),
    seed: int = typer.Option(0, help="Seed of the sample and of training."),
    show_users: int = typer.Option(3, help="How many users' circles and items to print."),
    trials: int = typer.Option(3, help="Tuning trials per baseline in the evaluation step."),
) -> None:
    """Generate a sample, ingest it, train and promote a bundle, and print what it learned."""
    raw = workdir / "raw" / "sample"
    processed = workdir / "processed" / "sample"
    reports = workdir / "reports" / "sample"
    created = CreationLog.begin(models_dir / DEMO_RECORD, models_dir, [raw, processed, reports])

    _section("1. generate sample data (recsys synth)")
    counts = generate(SynthConfig(n_users=users, n_items=items, seed=seed), raw)
    typer.echo(json.dumps(counts))

    _section("2. validate and ingest (recsys ingest)")
    ingest_sample(raw, processed)

    _section("3. data summary")
    typer.echo(json.dumps(summarize(DataDir(processed)), indent=2, default=str))

    _section("4. train a bundle (recsys train)")
    bundle_path = run_training(
        processed, TrainConfig(seed=seed), truth_dir=raw / "truth", models_dir=models_dir
    )
    created.bundle(bundle_path.name)
    registry = ModelRegistry(models_dir)
    registry.promote(bundle_path.name, force=True)
    manifest = json.loads((bundle_path / "manifest.json").read_text())
    metrics = manifest["metrics"]
    typer.echo(f"bundle {bundle_path.name} promoted; step timings (s): {manifest['step_timings']}")
    typer.echo(f"holdout: {metrics.get('holdout')}")
    _print_cold_start(metrics.get("cold_start", {}))
    placement = metrics.get("placement", {})
    for who in ("model", "baseline_history_frequency"):
        if who in placement:
            overall = placement[who]
            typer.echo(f"placement {who}: {json.dumps(_headline(overall))}")
    typer.echo(f"index: {metrics.get('index')}")

    _section("5. what it serves: warm users beside a cold one, feeds, share targets")
    model = RuntimeModel.load(bundle_path)
    history = np.diff(model.parts.history.interacted.indptr)
    rng = np.random.default_rng(seed)
    active = np.flatnonzero(history >= 5)
    chosen = list(rng.choice(active, size=min(show_users, len(active)), replace=False))
    cold = np.flatnonzero(history == 0)
    if len(cold):
        chosen.append(int(rng.choice(cold)))  # no item history: the circle chain answers
    feed = Feed(model, CursorCodec(derive_secret(resolve_key().secret)))
    typer.echo(f"feed: tail_weight {feed.tail_weight} (picked on validation; "
               f"{feed.chain_tail_weight} for users served a chain), re-rankers "
               f"{', '.join(feed.config.rerankers)}")
    for u in chosen:
        user_id = str(model.parts.ids.users.ids[u])
        _print_user(model, user_id, int(history[u]))
        _print_feed(model, feed, user_id)
    _print_circle_feed(model, CircleFeed(model, feed.codec),
                       str(model.parts.ids.users.ids[chosen[0]]))
    _print_share_targets(model, metrics.get("share_targeting", {}))

    _section("6. an audience segment for a merchant, with its back-tested reach (recsys segment)")
    _print_segment(model)

    _section("7. evaluate the recipe against tuned baselines (recsys evaluate)")
    run = run_evaluate(
        processed,
        out_dir=reports,
        bundle=bundle_path,
        n_trials=trials,
        seed=seed,
    )
    typer.echo(f"split: {run.result.split_info}")
    _print_comparison(run.result.metrics)
    typer.echo(f"report: {run.report}")


def _print_user(model: RuntimeModel, user_id: str, n_history: int) -> None:
    """A user's circles and top five items with titles and reasons, as the runtime answers."""
    names = {c.circle_id: f"{c.name_en} {c.name_zh}" for c in model.catalogue.circles}
    circles = [c for c in model.user_circles(user_id).circles if c.member]
    top = ", ".join(f"{names[c.circle_id]} ({c.affinity:.2f})" for c in circles)
    answer = model.recommend(user_id, limit=5)
    typer.secho(
        f"user {user_id} ({n_history} items of history; answered by {answer.step}): "
        f"circles {top}",
        fg="cyan",
    )
    items = model.parts.ids.items
    catalogue = model.parts.catalogue
    for scored in answer.items:
        i = int(items.to_index([scored.item_id])[0])
        tag = " [group buy]" if catalogue.is_group_buy[i] else ""
        typer.echo(
            f"   {scored.score:6.3f}  {catalogue.value('title', i)}  "
            f"({catalogue.value('category', i)}){tag}  <- {', '.join(scored.reasons)}"
        )


def _title(model: RuntimeModel, item_id: str, width: int) -> str:
    i = int(model.parts.ids.items.to_index([item_id])[0])
    tail = "" if model.parts.lists.is_head[i] else " *"
    return (f"{model.parts.catalogue.value('title', i)}{tail}")[:width].ljust(width)


def _print_feed(model: RuntimeModel, feed: Feed, user_id: str, n: int = 8) -> None:
    """The user's first feed page beside the plain order it re-ranked (* = long tail)."""
    plain = model.plain_order(user_id, n)
    page = feed.page(user_id, n)
    names = model.parts.ids.items.to_ids(plain.items)
    typer.echo(f"   {'plain order':<36}  feed page 1 (reasons)")
    for row in range(max(len(names), len(page.items))):
        left = _title(model, str(names[row]), 36) if row < len(names) else " " * 36
        right = ""
        if row < len(page.items):
            entry = page.items[row]
            right = f"{_title(model, entry.item_id, 36).rstrip()}  <- {', '.join(entry.reasons)}"
        typer.echo(f"   {left}  {right}")


def _print_circle_feed(model: RuntimeModel, feed: CircleFeed, user_id: str) -> None:
    """One circle feed page for a user: the busiest of their circles."""
    circles = [c.circle_id for c in model.user_circles(user_id).circles if c.member]
    offsets = model.parts.post_feed.signals.circle_offsets
    sizes = {cid: int(offsets[i + 1] - offsets[i]) for i, cid in enumerate(model.catalogue.ids)}
    circle = max(circles or list(sizes), key=lambda c: sizes[c])
    ranker = model.parts.post_feed.ranker
    weights = {f: round(w, 2) for f, w in ranker.weights().items()} if ranker else "none"
    typer.secho(f"circle feed of {circle} for user {user_id} (ranker weights {weights}):",
                fg="cyan")
    for post in feed.page(circle, user_id, 5).posts:
        about = f" about {post.item_id}" if post.item_id else ""
        typer.echo(f"   {post.score:6.2f}  {post.post_id} by {post.author_id}{about}  "
                   f"<- {', '.join(post.reasons)}")


def _print_share_targets(model: RuntimeModel, fitted: dict) -> None:
    """Whom the user who started the most group buys should share their latest one with."""
    if model.parts.share is None:
        typer.echo(f"share targets: none in this bundle ({fitted.get('skipped', 'not fitted')})")
        return
    facts = model.parts.posts_groups.group_facts.to_pandas()
    user = str(facts["initiator_id"].value_counts().index[0])
    item = str(facts[facts["initiator_id"] == user].sort_values("created_ts")["item_id"].iloc[-1])
    deadline = time.time_ns() // 1000 + 24 * 3_600 * 1_000_000
    answer = model.share_targets(user, item, target_size=3, deadline_us=deadline, limit=5)
    catalogue = model.parts.catalogue
    i = int(model.parts.ids.items.to_index([item])[0])
    c = answer.completion
    chance = "unknown" if c.chance is None else f"{c.chance:.2f}"
    typer.secho(
        f"share targets for {user}'s group buy of {catalogue.value('title', i)} "
        f"(3 people, closes in 24 h): completion chance {chance} from "
        f"{c.expected_joiners:.2f} expected joiners",
        fg="cyan",
    )
    for t in answer.targets:
        why = ", ".join(t.reasons) or "(no stronger reason than being a friend)"
        typer.echo(f"   {t.join_probability:5.2f}  {t.user_id}  <- {why}")
    if answer.post_circles:
        typer.echo(f"   few contacts: also post it in {', '.join(answer.post_circles)}")


def _print_segment(model: RuntimeModel) -> None:
    """The best 100 users for the categories with the most buyers after the back-test's cut,
    asked by the merchant with the most items, and how that audience back-tests."""
    catalogue = model.parts.catalogue
    merchants, categories = catalogue.strings("merchant_id"), catalogue.strings("category")
    values, counts = np.unique(merchants.astype(str), return_counts=True)
    merchant = str(values[counts.argmax()])
    backtest = model.parts.backtest
    if backtest is None:
        typer.echo("the bundle has no back-test part: no segment shown")
        return
    after = np.bincount(backtest.bought_after.indices, minlength=backtest.n_items)
    buyers = pd.Series(after, index=categories[: backtest.n_items]).groupby(level=0).sum()
    # The categories with the most buyers after the cut, enough of them for a curve (a small
    # sample has few buyers per category in the held-out month).
    chosen: list[str] = []
    for category in buyers.sort_values(ascending=False, kind="stable").index[:10]:
        chosen.append(str(category))
        items = np.flatnonzero(np.isin(categories[: backtest.n_items], chosen))
        if buyers_of(backtest.bought_after, items).sum() >= 40:
            break
    request = SegmentRequest.model_validate(
        {"target": {"kind": "category", "ids": chosen}, "size": 100, "exclude_buyers": True}
    )
    segment = Segmenter(model.parts, model.version).build(request, Scope(merchant))
    typer.echo(f"merchant {merchant}: {json.dumps(request.model_dump(mode='json'))}")
    best = zip(segment.user_ids[:5], segment.scores[:5], strict=True)
    top = ", ".join(f"{u} ({s:.2f})" for u, s in best)
    typer.echo(f"{len(segment)} of {segment.eligible} eligible users; best: {top}, ...")
    reach = segment.reach
    if not reach.curve:
        typer.echo(f"no back-tested reach: {reach.reason}")
        return
    typer.echo(f"back-tested reach (ranked at the cut {reach.cut[:10]}, buyers in the "
               f"{reach.days:g} days after): expected buyers in this audience "
               f"{reach.expected_buyers}"
               + (f" (estimated from {reach.sampled:,} sampled users)" if reach.sampled else ""))
    for point in reach.curve:
        typer.echo(f"  top {point.size:>6,}: {point.buyers:>5,} buyers  "
                   f"precision {point.precision:.3f}  recall {point.recall:.3f}")


def ingest_sample(raw: Path, processed: Path) -> IngestReport:
    """Ingest the sample and print the same read / accepted / quarantined table as `ingest`."""
    report = ingest(raw, processed)
    typer.echo(report.format_table())
    return report


def _print_comparison(metrics: dict[str, dict[str, float]]) -> None:
    columns = ("ndcg@10", "recall@10", "map@10", "coverage@10", "long_tail_share@10")
    typer.echo(f"{'model':<16}" + "".join(f"{c:>20}" for c in columns))
    ranked = sorted(metrics.items(), key=lambda kv: -kv[1].get("ndcg@10", 0.0))
    for name, values in ranked:
        cells = "".join(f"{values.get(c, float('nan')):>20.4f}" for c in columns)
        typer.echo(f"{name:<16}{cells}")


def _print_cold_start(report: dict) -> None:
    """One line per (placement, pair set): AUC of the model against its two baselines."""
    for variant in ("catalogue_only", "with_ugc"):
        for who, r in report.get(variant, {}).items():
            typer.echo(
                f"cold items ({variant}, {who}, {r['n_pairs']:.0f} pairs): AUC model "
                f"{r['model_auc']:.3f} / popularity in category {r['popularity_auc']:.3f} / "
                f"random {r['random_auc']:.3f}; hit@10 {r['model_hit@10']:.3f} / "
                f"{r['popularity_hit@10']:.3f} / {r['random_hit@10']:.3f}"
            )


def _headline(report: dict) -> dict:
    """The top-level numbers of a placement report (per-circle detail stays in the manifest)."""
    return {
        subset: {
            k: round(v, 3)
            for k, v in values.items()
            if k in ("micro_f1", "macro_f1", "brier", "ece")
        }
        for subset, values in report.get("subsets", {}).items()
    }

