"""The training composition: a data directory in, a committed bundle of typed parts out.

Steps (each a library function, timed and logged, one progress bar over them): interactions
(with the item catalogue, purchases and the social graph) -> content embeddings -> the shipped
scorer (CF, content -> factor map, item neighbours) -> validation fit (holdout accuracy, cold
items, the feed's tail_weight) -> the ranked recommender served to known users with history
(`ranked_step`: sources -> learned ranker) -> back-test fit (the scorer on the events before a
time cut, for segments' reach) -> circle placement -> share targeting (`share_steps`) -> faiss
indexes -> candidate lists -> the chain's tail weight (`feed_step.cold_tail_weight`) -> the
circle feed's posts and ranker -> bundle parts, written
atomically with a signed manifest. `recsys train` (`pipelines/train.py`) is a thin command over
`run_training`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from recsys.bundle.manifest import data_fingerprint
from recsys.bundle.parts import (
    Backtest,
    BundleParts,
    Circles,
    ContentMap,
    IdMaps,
    Indexes,
    ItemCatalogue,
    PostsAndGroups,
    RankedModel,
    Scorer,
    ShareTargeting,
    SocialGraph,
    UserActivity,
    UserHistory,
)
from recsys.bundle.writer import BundleWriter
from recsys.circles import CircleCatalogue
from recsys.datastore import DataDir
from recsys.engine.base import TrainingEngine
from recsys.engine.local import LocalEngine
from recsys.idmap import IdMap
from recsys.memory import system_arrow_pool
from recsys.recipe import TrainConfig
from recsys.training import content_steps, share_steps, steps
from recsys.training.backtest import backtest_fit
from recsys.training.feed_step import build_post_feed, cold_tail_weight
from recsys.training.ranked_step import fit_ranked
from recsys.training.timing import StepTimer, peak_rss_mb

logger = logging.getLogger("recsys.train")
P = TypeVar("P")


TRAIN_STEPS = ("interactions", "content", "cf", "validation", "ranked", "backtest", "placement",
               "share", "indexes", "lists", "cold_feed", "posts", "bundle")  # fmt: skip


def run_training(
    data_dir: Path,
    config: TrainConfig,
    *,
    truth_dir: Path | None = None,
    models_dir: Path | None = None,
    engine: TrainingEngine | None = None,
) -> Path:
    """Train every part from `data_dir` and write a new bundle; returns its folder.

    `engine` runs the heavy steps (default `LocalEngine`; `recsys.spark.training.SparkEngine`
    on a Spark cluster); the manifest's `engine` says which parts ran where.
    """
    engine = engine or LocalEngine()
    data = DataDir(data_dir).check_ingested()
    timer = StepTimer(TRAIN_STEPS, desc="train")
    users = IdMap.load(data.idmap_path("users"))
    items = IdMap.load(data.idmap_path("items"))
    catalogue = CircleCatalogue.from_table(data.read_table("circles"))
    n_users, n_items = len(users), len(items)
    logger.info(
        "training on %s: %d users, %d items, %d circles", data_dir, n_users, n_items, len(catalogue)
    )

    writer = BundleWriter(models_dir or Path(config.bundle.models_dir))
    with writer, system_arrow_pool():
        path = _train_into(writer, data, users, items, catalogue, config, engine, timer,
                           truth_dir)
    logger.info("bundle written: %s", path)
    return path


def _train_into(
    writer: BundleWriter, data: DataDir, users: IdMap, items: IdMap,
    catalogue: CircleCatalogue, config: TrainConfig, engine: TrainingEngine, timer: StepTimer,
    truth_dir: Path | None,
) -> Path:
    """Every step, the parts written into `writer`'s temp folder, the commit; the path."""
    n_users, n_items = len(users), len(items)
    early: set[str] = set()  # parts already written (`_written`)
    with timer.step("interactions"):
        aggregates = engine.interactions(data, users, items, catalogue, config)
        log, user_items = aggregates.log, aggregates.user_items
        engagement, purchases = aggregates.engagement, aggregates.purchases
        item_catalogue = ItemCatalogue.from_data(data, items, catalogue)
        social = SocialGraph.from_data(data, users)
    metrics: dict[str, object] = {}
    with timer.step("content"):
        texts = content_steps.item_texts(data, items)
        content = content_steps.fit_content(texts.full, config)
    with timer.step("cf"):
        scorer = engine.fit_scorer(user_items, content.vectors, config)
        content_placer, metrics["content"] = content_steps.content_map(content, scorer)
    with timer.step("validation"):
        # Without a content map the scorer ran without content, and so does its check.
        vectors = content.vectors if content_placer is not None else None
        metrics.update(
            steps.validation_fit(
                user_items, texts, vectors, item_catalogue, config, purchases, engine=engine
            )
        )
        del texts, content  # the items' documents (and their UGC): GBs of strings at 10M
    with timer.step("ranked"):
        # The shipped ALS is the ranked recommender's final ALS source when their settings
        # agree (the default recipe's do): one fit of the whole matrix saved.
        prefit = [scorer.cf_] if scorer.cf_ is not None else []
        friends = social.friends if data.has_table("social_edges") else None
        ranked, metrics["ranked"] = fit_ranked(data, users, items, log, user_items, vectors,
                                               config, prefit=prefit, friends=friends)
        # Both are final now: on disk, read back memory-mapped (the scorer's user factors and
        # the ranked sources' similarities: GBs at 10M users, no longer held in the heap).
        del prefit  # the in-heap fit: the memory-mapped copy below replaces it
        scorer = _written("scorer", Scorer(scorer), writer.root, Scorer.load, early).model
        if ranked is not None:
            ranked = _written("ranked", ranked, writer.root, RankedModel.load_optional, early)
    with timer.step("backtest"):
        backtest, metrics["backtest"] = backtest_fit(data, log, users, items, vectors, config)
        if backtest is not None:
            backtest = _written("backtest", backtest, writer.root, Backtest.load_optional,
                                early)
        del vectors
    with timer.step("placement"):
        truth = steps.load_truth(truth_dir, users, catalogue) if truth_dir else None
        placer, affinities, members, metrics["placement"] = steps.place_users(
            scorer.user_factors_, engagement, catalogue, config, truth, friends
        )
        del truth  # the planted circles, for placement's quality figures only
    with timer.step("share"):
        # Read where first needed: the posts' ids are ~2 GB at 10M users, not carried through
        # the ranked step's peak.
        posts_groups = PostsAndGroups.from_data(data, items)
        share, metrics["share_targeting"] = share_steps.fit_share_targeting(
            data, users, items, catalogue, posts_groups, social.friends, placer,
            scorer.user_factors_, config,
        )  # fmt: skip
        if share is not None:  # its counts are GBs at 10M users: on disk from here on
            share = _written("share", share, writer.root, ShareTargeting.load_optional, early)
    with timer.step("indexes"):
        item_index, metrics["index"] = steps.build_indexes(
            scorer.item_vectors_, scorer.user_factors_, config
        )
    with timer.step("lists"):
        lists = steps.candidate_lists(log, item_catalogue, len(catalogue), config)
    with timer.step("cold_feed"):
        cold = cold_tail_weight(
            lists, affinities, members, user_items, listed=np.asarray(item_catalogue.listed),
            is_group_buy=np.asarray(item_catalogue.is_group_buy, dtype=bool), config=config,
        )
        warm = metrics.get("feed")
        metrics["feed"] = {**warm, "cold": cold} if isinstance(warm, dict) else {"cold": cold}
    with timer.step("posts"):
        post_feed, metrics["circle_feed"] = build_post_feed(
            data, users, items, posts_groups.posts, catalogue, log=log,
            friends=social.friends, item_vectors=scorer.item_vectors_, config=config,
        )
    parts = BundleParts(
        ids=IdMaps(users, items),
        scorer=Scorer(scorer),
        content=None if content_placer is None else ContentMap(content_placer),
        circles=Circles(catalogue, affinities, members, placer),
        lists=lists,
        indexes=Indexes(item_index),
        catalogue=item_catalogue,
        history=UserHistory(interacted=user_items, purchased=purchases),
        social=social,
        posts_groups=posts_groups,
        post_feed=post_feed,
        share=share,
        activity=UserActivity.from_log(log, n_users, config.segments.recent_days),
        backtest=backtest,
        ranked=ranked,
    )
    # Timed apart from the commit, so the manifest the commit writes includes it.
    with timer.step("bundle"):
        parts.save(writer.root, written=early)
    return writer.commit(
        data_fingerprint=data_fingerprint(data.root),
        data_watermark=data.latest_event_time(),
        config=config.model_dump(mode="json"),
        row_counts={
            "users": n_users,
            "items": n_items,
            "circles": len(catalogue),
            "events_used": aggregates.events_used,
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
                "anon_rss_mb_after_step": timer.anon_rss_mb,
            },
        },
        engine=engine.describe(),
    )


def _written(name: str, part: P, root: Path, load: Callable[..., P | None],
             early: set[str]) -> P:
    """`part` saved into the bundle's temp folder and read back memory-mapped: at 10M users
    the finished scorer, ranked, back-test and share parts hold ~12 GB that every later
    step would otherwise carry in the heap (the 10M run died in placement). Its pages are
    the kernel's to drop and re-read."""
    part.save(root)
    early.add(name)  # the bundle's field: the final save must not rewrite a mapped file
    loaded = load(root, mmap=True)
    assert loaded is not None
    return loaded
