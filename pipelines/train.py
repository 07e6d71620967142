"""`recsys train`: one command that turns a data directory into a versioned model bundle.

Steps (each a library function, timed and logged): interactions (and the item catalogue,
purchases, social graph) -> content embeddings -> the shipped scorer (CF, content->factor map,
item neighbours) -> validation fit (holdout accuracy, cold items) -> circle placement -> faiss
indexes -> candidate lists -> bundle parts (written atomically, manifest with checksums).
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from recsys.bundle.manifest import data_fingerprint
from recsys.bundle.parts import (
    BundleParts,
    Circles,
    ContentMap,
    IdMaps,
    Indexes,
    ItemCatalogue,
    Scorer,
    SocialGraph,
    UserHistory,
)
from recsys.bundle.writer import BundleWriter
from recsys.circles import CircleCatalogue
from recsys.config import load_config
from recsys.datastore import DataDir
from recsys.errors import RecsysError
from recsys.features.circle_engagement import user_circle_engagement
from recsys.features.interactions import load_interaction_log, purchase_matrix, to_csr
from recsys.idmap import IdMap
from recsys.training import steps
from recsys.training.config import TrainConfig
from recsys.training.timing import StepTimer, peak_rss_mb

logger = logging.getLogger("recsys.train")

TRAIN_STEPS = ("interactions", "content", "cf", "validation", "placement", "indexes", "lists",
               "bundle")  # fmt: skip
DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "default.toml"


def run_training(
    data_dir: Path,
    config: TrainConfig,
    *,
    truth_dir: Path | None = None,
    models_dir: Path | None = None,
) -> Path:
    """Train every part from `data_dir` and write a new bundle; returns its folder."""
    data = DataDir(data_dir)
    timer = StepTimer(TRAIN_STEPS, desc="train")
    users = IdMap.load(data.idmap_path("users"))
    items = IdMap.load(data.idmap_path("items"))
    catalogue = CircleCatalogue.from_table(data.read_table("circles"))
    n_users, n_items = len(users), len(items)
    logger.info(
        "training on %s: %d users, %d items, %d circles", data_dir, n_users, n_items, len(catalogue)
    )

    with timer.step("interactions"):
        log = load_interaction_log(data, users, items, config.interactions)
        user_items = to_csr(
            log, n_users, n_items, half_life_days=config.interactions.half_life_days
        )
        engagement = user_circle_engagement(data, users, catalogue)
        item_catalogue = ItemCatalogue.from_data(data, items, catalogue)
        purchases = purchase_matrix(data, users, items)
        social = SocialGraph.from_data(data, users)
    with timer.step("content"):
        texts = steps.item_texts(data, items)
        encoder, content = steps.fit_content(texts.full, config)
    with timer.step("cf"):
        scorer = steps.fit_scorer(user_items, content, config)
        content_map = steps.content_map(encoder, scorer)
    metrics: dict[str, object] = {}
    with timer.step("validation"):
        metrics.update(
            steps.validation_fit(user_items, texts, content, item_catalogue, config, purchases)
        )
        del texts, content
    with timer.step("placement"):
        truth = steps.load_truth(truth_dir, users, catalogue) if truth_dir else None
        friends = social.friends if data.has_table("social_edges") else None
        placer, affinities, members, metrics["placement"] = steps.place_users(
            scorer.user_factors_, engagement, catalogue, config, truth, friends
        )
    with timer.step("indexes"):
        item_index, user_index, metrics["index"] = steps.build_indexes(
            scorer.item_vectors_, scorer.user_factors_, config
        )
    with timer.step("lists"):
        lists = steps.candidate_lists(log, item_catalogue, len(catalogue), config)
    parts = BundleParts(
        ids=IdMaps(users, items),
        scorer=Scorer(scorer),
        content=ContentMap(content_map),
        circles=Circles(catalogue, affinities, members, placer),
        lists=lists,
        indexes=Indexes(item_index, user_index),
        catalogue=item_catalogue,
        history=UserHistory(interacted=user_items, purchased=purchases),
        social=social,
    )
    writer = BundleWriter(models_dir or Path(config.bundle.models_dir))
    with writer:
        # Timed apart from the commit, so the manifest the commit writes includes it.
        with timer.step("bundle"):
            parts.save(writer.root)
        path = writer.commit(
            data_fingerprint=data_fingerprint(data.root),
            config=config.model_dump(mode="json"),
            row_counts={
                "users": n_users,
                "items": n_items,
                "circles": len(catalogue),
                "events_used": int(len(log)),
                "user_item_pairs": int(user_items.nnz),
                "cold_items": int(len(scorer.cold_items_)),
                "friendships": int(social.friends.nnz // 2),
            },
            step_timings=timer.timings,
            metrics={
                **metrics,
                "resources": {
                    "peak_rss_mb": round(peak_rss_mb(), 1),
                    "peak_rss_mb_after_step": timer.peak_rss_mb,
                },
            },
        )
    logger.info("bundle written: %s", path)
    return path


def train(
    data: Path = typer.Option(
        ..., "--data", help="Ingested data directory (recsys ingest output)."
    ),
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", help="Training config (TOML)."),
    truth: Path | None = typer.Option(
        None, "--truth", help="Planted truth folder of a synthetic data set, to score placement."
    ),
    models_dir: Path | None = typer.Option(None, "--models-dir", help="Where bundles go."),
    seed: int | None = typer.Option(None, "--seed", help="Override the config's seed."),
) -> None:
    """Train CF, content map, circle placement, indexes and lists into a new model bundle."""
    try:
        cfg = load_config(TrainConfig, config, seed=seed)
        path = run_training(data, cfg, truth_dir=truth, models_dir=models_dir)
    except RecsysError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"bundle: {path}")
