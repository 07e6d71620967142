"""Catalogue refresh between retrains: new items and posts reach feeds without a full retrain.

A refresh (1) re-ingests the data directory with the delta's rows appended, so every new row is
validated, quarantined and counted like any other; (2) gives new items vectors through the
bundle's content map and appends them to the scorer's item vectors and the item index;
(3) rebuilds the item catalogue and the candidate lists from the refreshed data; (4) writes a
child bundle that rewrites only the item-side parts (`recsys.bundle.parts`, named by
`recsys.bundle.layout`). The data directory
is swapped only after the bundle is committed, so a failed run changes neither.

Ingest assigns dense indices in accepted-row order; the base rows come first in the combined
source, so they keep their indices, and the bundle's id maps must be prefixes of the new ones.
A delta row naming an existing item is a status update (e.g. a delisting): it is applied in place.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from tqdm import tqdm

from recsys.bundle import layout
from recsys.bundle.bundle import Bundle
from recsys.bundle.manifest import data_fingerprint
from recsys.bundle.parts import (
    Circles,
    ContentMap,
    IdMaps,
    Indexes,
    ItemCatalogue,
    PostFeed,
    PostsAndGroups,
    Scorer,
    UserHistory,
)
from recsys.bundle.registry import ModelRegistry
from recsys.bundle.writer import BundleWriter
from recsys.candidate_lists import CandidateLists
from recsys.content.documents import item_documents
from recsys.datastore import DataDir, replace_dir
from recsys.errors import BundleError, UnusableFileError
from recsys.features.interactions import load_interaction_log
from recsys.idmap import IdMap
from recsys.index.vector_index import VectorIndex
from recsys.ingest import ingest
from recsys.ingest.column_map import ColumnMap
from recsys.item_stats import users_per_item
from recsys.recipe import TrainConfig
from recsys.training import steps
from recsys.training.feed_step import build_post_feed
from recsys.training.refresh_source import build_combined_source, from_delta, remap_quarantine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshSummary:
    """What a refresh did; `to_dict()` is the `refresh` entry of the bundle's metrics."""

    version: str
    parent_version: str
    promoted: bool
    new_items: int
    new_posts: int
    new_users_not_placed: int
    status_updates: int
    delisted_items: int
    remapped_cold_items: int
    delta_rows: dict[str, int]
    quarantined: dict[str, int]
    seconds: float
    step_seconds: dict[str, float]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# -- the child bundle ------------------------------------------------------------------


def check_prefix(old: IdMap | pa.Array, new: IdMap | pa.Array, what: str) -> None:
    """The bundle's ids must keep their indices in the refreshed data; else a retrain is due."""
    old_ids = pa.array(old.ids, pa.string()) if isinstance(old, IdMap) else old
    new_ids = pa.array(new.ids, pa.string()) if isinstance(new, IdMap) else new
    n = len(old_ids)
    same = len(new_ids) >= n and pc.all(pc.equal(new_ids.slice(0, n), old_ids)).as_py() is not False
    if not same:
        m = min(n, len(new_ids))
        moved = np.flatnonzero(~pc.equal(new_ids.slice(0, m), old_ids.slice(0, m)).to_numpy(False))
        example = old_ids.take(moved[:3]) if len(moved) else old_ids.slice(m, 3)
        raise BundleError(
            f"the refreshed {what} id map ({len(new_ids)} ids) does not start with the bundle's "
            f"{n} ids (e.g. {example.to_pylist()} moved or missing): indices changed, retrain"
        )


@dataclass
class RefreshedItems:
    """The item-side parts a refresh rewrites; everything user-side stays the parent's."""

    items: IdMap
    catalogue: ItemCatalogue
    scorer: Scorer  # the parent's scorer over the grown item vectors
    item_index: VectorIndex
    lists: CandidateLists
    n_users: int  # users the bundle knows
    posts_groups: PostsAndGroups
    post_feed: PostFeed  # over the bundle's users; the parent's circle ranker


def refresh_items(
    parent: Bundle, data: DataDir, config: TrainConfig, *, n_posts_before: int
) -> tuple[RefreshedItems, dict[str, int]]:
    """The parent's item parts extended to the items of the refreshed `data`.

    Reads only item-side parts of the bundle (user factors, placement and the user-item
    matrix of 10M users stay memory-mapped and untouched). New items get content-mapped
    vectors appended to the scorer's item vectors and the item index. Cold (content-mapped)
    items named by new posts are re-mapped when the index is exact, where rebuilding it is a
    copy; an approximate index keeps their old vectors until the retrain.
    """
    root = parent.root
    users, items = IdMap.load(data.idmap_path("users")), IdMap.load(data.idmap_path("items"))
    old_items = IdMaps.load_items(root)
    check_prefix(old_items, items, "items")
    bundle_users = IdMaps.user_ids(root)
    check_prefix(bundle_users, pa.array(users.ids, pa.string()), "users")
    n_old, n_items = len(old_items), len(items)
    circles = Circles.load_catalogue(root)
    catalogue = ItemCatalogue.from_data(data, items, circles)
    # A bundle trained on items without usable text has no content map: new items then get
    # zero vectors (no CF score) and reach feeds through the candidate lists until a retrain.
    content = ContentMap.load_optional(root)
    scorer = Scorer.load(root, mmap=True).model
    vectors = np.array(scorer.item_vectors_, dtype=np.float32)  # a writable copy
    if n_items > n_old:
        if content is None:
            new_vectors = np.zeros((n_items - n_old, vectors.shape[1]), np.float32)
        else:
            docs = item_documents(data, IdMap(items.ids[n_old:]))
            new_vectors = content.placer.item_vectors(docs).astype(np.float32)
        vectors = np.concatenate([vectors, new_vectors])
    item_users = users_per_item(UserHistory.load(root, mmap=True).interacted)
    grown = _cold_items_with_new_posts(
        data, items, n_old, item_users < config.content.warm_min_users, n_posts_before
    ) if content is not None else np.empty(0, dtype=np.int64)
    item_index = Indexes.load_items(root)
    remapped = 0
    if len(grown) and item_index.kind == "flat":
        docs = item_documents(data, IdMap(items.ids[grown]))
        vectors[grown] = content.placer.item_vectors(docs)  # type: ignore[union-attr]
        remapped = len(grown)
        item_index = VectorIndex(item_index.config).build(vectors)
    else:
        if len(grown):
            logger.info("%d cold items got posts; old vectors kept (approximate index)", len(grown))
        item_index.add(vectors[n_old:])
    new = np.arange(n_old, n_items) if content is not None else np.empty(0, np.int64)
    mapped = np.concatenate([new, grown[:remapped]])
    log = load_interaction_log(data, users, items, config.interactions)
    lists = steps.candidate_lists(log, catalogue, len(circles), config)
    was_listed = np.asarray(ItemCatalogue.load(root).listed)
    still = np.asarray(catalogue.listed)[:n_old]
    counts = {
        "new_items": n_items - n_old,
        "remapped_cold_items": remapped,
        "delisted_items": int((was_listed & ~still).sum()),
        "new_users_not_placed": len(users) - len(bundle_users),
        "events_used": int(len(log)),
    }
    posts_groups = PostsAndGroups.from_data(data, items)
    # The circle feed's signals over the new posts too; events of users the bundle does not
    # know yet drop out (they are placed at the retrain), the ranker stays the parent's.
    post_feed, _ = build_post_feed(
        data, IdMap(np.asarray(bundle_users.to_numpy(zero_copy_only=False))), items,
        posts_groups.posts, circles, log=None, friends=sp.csr_matrix((0, 0)),
        item_vectors=vectors, config=config, ranker=PostFeed.load(root).ranker,
    )
    refreshed = RefreshedItems(
        items, catalogue, Scorer(scorer.with_item_vectors(vectors, mapped)), item_index, lists,
        len(bundle_users), posts_groups, post_feed,
    )
    return refreshed, counts


def _cold_items_with_new_posts(
    data: DataDir, items: IdMap, n_old: int, cold: np.ndarray, n_posts_before: int
) -> np.ndarray:
    """Existing content-mapped items that posts added by this refresh name (their text grew).

    Posts are stored in accepted order, base rows first, so the new ones are a suffix.
    """
    if not data.has_table("posts"):
        return np.empty(0, dtype=np.int64)
    fresh = data.read_table("posts", ["item_id"]).slice(n_posts_before).column("item_id")
    idx = items.to_index(pc.drop_null(fresh).to_numpy(zero_copy_only=False))
    idx = np.unique(idx[(idx >= 0) & (idx < n_old)])
    return idx[cold[idx]]


def write_child_bundle(
    parent: Bundle,
    models_dir: Path,
    refreshed: RefreshedItems,
    data: DataDir,
    *,
    refresh: dict[str, object],
    events_used: int,
    step_timings: dict[str, float],
) -> Path:
    """Commit the refreshed items as a child of `parent`, rewriting only the item-side parts.

    Users, user factors, placement, any user index and the social graph stay the parent's
    copies (and so does the data watermark: the user side was not refitted); the history
    matrices get empty columns for the new items, which only changes
    their shape files.
    """
    with BundleWriter(models_dir, parent=parent) as writer:
        root = writer.root
        IdMaps.save_items(refreshed.items, root)
        writer.remove(layout.CATALOGUE)
        refreshed.catalogue.save(root)
        UserHistory.save_widened(root, refreshed.n_users, len(refreshed.items))
        refreshed.scorer.save_item_side(root)
        writer.remove(layout.LISTS)
        refreshed.lists.save(root)
        writer.remove(layout.ITEM_INDEX)
        Indexes.save_items(refreshed.item_index, root)
        refreshed.posts_groups.save(root)  # new posts and group buys judge live events
        for name in (layout.POST_BY_CIRCLE, layout.POST_SEEN, layout.POST_AUTHOR_AFFINITY,
                     layout.CIRCLE_RANKER):
            writer.remove(name)
        refreshed.post_feed.save(root)  # the circle feed ranks the new posts
        row_counts = {
            **parent.manifest.row_counts,
            "items": len(refreshed.items),
            "events_used": events_used,
        }
        return writer.commit(
            data_fingerprint=data_fingerprint(data.root),
            row_counts=row_counts,
            step_timings={**parent.manifest.step_timings, **step_timings},
            metrics={**parent.manifest.metrics, "refresh": refresh},
        )


# -- the whole run --------------------------------------------------------------------------


def refresh_catalogue(
    data_dir: str | Path, delta_dir: str | Path, models_dir: str | Path, *, promote: bool = True
) -> RefreshSummary:
    """Ingest `delta_dir` into `data_dir` and write (and promote) a refreshed child bundle.

    Raises UnusableFileError for a delta file that cannot be used, BundleError when nothing is
    promoted or the refreshed id maps do not extend the bundle's (retrain instead). On any error
    `data_dir`, the bundles and the promoted pointer are left as they were.
    """
    started = time.perf_counter()
    data, models_dir = DataDir(data_dir).check_ingested(), Path(models_dir)
    registry = ModelRegistry(models_dir)
    parent = registry.current_bundle(verify=True)
    logger.info("refreshing bundle %s from delta %s", parent.version, delta_dir)
    config = TrainConfig.model_validate(parent.manifest.config)
    posts_map = data.idmap_path("posts")
    n_posts_before = len(IdMap.load(posts_map)) if posts_map.is_file() else 0
    work = data.root.parent / f".{data.root.name}.refresh-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    timings: dict[str, float] = {}
    try:
        with tqdm(total=4, desc="refresh", unit="step") as bar:
            t0 = time.perf_counter()
            combined = build_combined_source(data, Path(delta_dir), work / "src")
            out = DataDir(work / "data")
            try:
                # The combined source has no dataset.json: carry the base's time kind over,
                # or order-only data would be recorded as real times after a refresh.
                report = ingest(
                    combined.root, out.root, column_map=ColumnMap(time_kind=data.time_kind())
                )
            except UnusableFileError as exc:
                raise from_delta(exc, combined) from None
            remap_quarantine(out, combined, data)
            timings["refresh.ingest"] = _since(t0, bar)
            t0 = time.perf_counter()
            refreshed, counts = refresh_items(parent, out, config, n_posts_before=n_posts_before)
            timings["refresh.items"] = _since(t0, bar)
            posts_after = len(IdMap.load(out.idmap_path("posts"))) if out.has_table("posts") else 0
            entry = {
                "parent_version": parent.version,
                "new_items": counts["new_items"],
                "new_posts": posts_after - n_posts_before,
                "new_users_not_placed": counts["new_users_not_placed"],
                "status_updates": combined.status_updates,
                "delisted_items": counts["delisted_items"],
                "remapped_cold_items": counts["remapped_cold_items"],
                "delta_rows": dict(combined.delta_rows),
                "quarantined": {
                    n: t.quarantined for n, t in report.tables.items() if t.quarantined
                },
                "seconds": round(time.perf_counter() - started, 3),  # up to the bundle write
            }
            t0 = time.perf_counter()
            path = write_child_bundle(
                parent,
                models_dir,
                refreshed,
                out,
                refresh=entry,
                events_used=counts["events_used"],
                step_timings=timings,
            )
            timings["refresh.bundle"] = _since(t0, bar)
            # Only now the data moves: a failure above leaves DATA_DIR as it was.
            t0 = time.perf_counter()
            replace_dir(out.root, data.root)
            if promote:
                registry.promote(path.name)
            timings["refresh.swap_promote"] = _since(t0, bar)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if entry["new_users_not_placed"]:
        logger.warning(
            "%d new users are not in the bundle's user map: they need a retrain (or the "
            "cold-user path)",
            entry["new_users_not_placed"],
        )
    total = round(time.perf_counter() - started, 3)
    summary = RefreshSummary(
        version=path.name, promoted=promote, step_seconds=timings, **{**entry, "seconds": total}
    )
    logger.info("refresh done: %s", summary.to_dict())
    return summary


def _since(t0: float, bar: tqdm) -> float:
    bar.update()
    return round(time.perf_counter() - t0, 3)
