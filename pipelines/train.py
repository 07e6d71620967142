"""`recsys train`: one command that turns a data directory into a versioned model bundle.

Steps (each a library function, timed and logged): interactions -> CF -> content embeddings and
the content->factor map -> validation fit (holdout accuracy, cold items) -> circle placement ->
faiss indexes -> candidate lists -> bundle (written atomically, manifest with checksums).
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from recsys.bundle.manifest import data_fingerprint
from recsys.bundle.writer import BundleWriter
from recsys.circles import CircleCatalogue
from recsys.config import load_config
from recsys.datastore import DataDir
from recsys.features.circle_engagement import user_circle_engagement
from recsys.features.interactions import load_interaction_log, purchase_matrix, to_csr
from recsys.idmap import IdMap
from recsys.placement import load_friends
from recsys.training import content_steps, steps
from recsys.training.artifacts import TrainedModel
from recsys.training.config import TrainConfig
from recsys.training.timing import StepTimer, peak_rss_mb

logger = logging.getLogger("recsys.train")

TRAIN_STEPS = ("interactions", "cf", "content", "validation", "placement", "indexes", "lists",
               "bundle")  # fmt: skip
DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "default.toml"


def run_training(
    data_dir: Path,
    config: TrainConfig,
    *,
    truth_dir: Path | None = None,
    models_dir: Path | None = None,
) -> Path:
    """Train every artefact from `data_dir` and write a new bundle; returns its folder."""
    data = DataDir(data_dir).check_ingested()
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
        item_meta = steps.item_metadata(data, items, catalogue)
    with timer.step("cf"):
        cf = steps.fit_cf(user_items, config)
        item_similarity = steps.fit_item_neighbours(user_items, config)
    metrics: dict[str, object] = {}
    with timer.step("content"):
        texts = content_steps.item_texts(data, items)
        content_placer, item_vectors, cold, metrics["content"] = content_steps.map_cold_items(
            cf, content_steps.fit_content(texts.full, config), user_items, config
        )
    with timer.step("validation"):
        category_codes = item_meta["category"].astype("category").cat.codes.to_numpy()
        created = item_meta["created_ts"].astype("int64").to_numpy()
        purchases = purchase_matrix(data, users, items)
        metrics.update(
            steps.validation_fit(user_items, texts, category_codes, created, config, purchases,
                                 with_content=content_placer is not None)
        )
        del texts, purchases
    with timer.step("placement"):
        truth = steps.load_truth(truth_dir, users, catalogue) if truth_dir else None
        friends = load_friends(data, users)
        placer, affinities, members, metrics["placement"] = steps.place_users(
            cf.user_factors_, engagement, catalogue, config, truth, friends
        )
    with timer.step("indexes"):
        item_index, user_index, metrics["index"] = steps.build_indexes(
            item_vectors, cf.user_factors_, config
        )
    with timer.step("lists"):
        lists = steps.candidate_lists(log, item_meta, len(catalogue), config)
    model = TrainedModel(
        users=users,
        items=items,
        catalogue=catalogue,
        item_meta=item_meta,
        user_items=user_items,
        cf=cf,
        item_vectors=item_vectors,
        content=content_placer,
        placer=placer,
        affinities=affinities,
        members=members,
        lists=lists,
        item_index=item_index,
        user_index=user_index,
        item_similarity=item_similarity,
        blend_weight=config.item_knn.weight,
    )
    writer = BundleWriter(models_dir or Path(config.bundle.models_dir))
    with writer:
        # Timed apart from the commit, so the manifest the commit writes includes it.
        with timer.step("bundle"):
            model.save(writer.root)
        path = writer.commit(
            data_fingerprint=data_fingerprint(data.root),
            config=config.model_dump(mode="json"),
            row_counts={
                "users": n_users,
                "items": n_items,
                "circles": len(catalogue),
                "events_used": int(len(log)),
                "user_item_pairs": int(user_items.nnz),
                "cold_items": int(cold.sum()),
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
    seed: int | None = typer.Option(None, "--seed", min=0, help="Override the config's seed."),
) -> None:
    """Train CF, content map, circle placement, indexes and lists into a new model bundle."""
    cfg = load_config(TrainConfig, config, seed=seed)
    path = run_training(data, cfg, truth_dir=truth, models_dir=models_dir)
    typer.echo(f"bundle: {path}")
