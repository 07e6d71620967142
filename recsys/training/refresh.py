"""Catalogue refresh between retrains: new items and posts reach feeds without a full retrain.

A refresh (1) re-ingests the data directory with the delta's rows appended, so every new row is
validated, quarantined and counted like any other; (2) gives new items vectors through the
bundle's content map and appends them to the item index; (3) rebuilds the candidate lists from
the refreshed log; (4) writes a child bundle that rewrites only what changed. The data directory
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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import scipy.sparse as sp
from tqdm import tqdm

from recsys.bundle.bundle import Bundle
from recsys.bundle.manifest import data_fingerprint
from recsys.bundle.registry import ModelRegistry
from recsys.bundle.writer import BundleWriter
from recsys.candidate_lists import build_candidate_lists
from recsys.content.documents import item_documents
from recsys.datastore import DataDir, replace_dir
from recsys.errors import BundleError, UnusableFileError
from recsys.features.interactions import load_interaction_log
from recsys.idmap import IdMap
from recsys.index.vector_index import VectorIndex
from recsys.ingest import ingest
from recsys.training import steps
from recsys.training.artifacts import TrainedModel, save_csr
from recsys.training.config import TrainConfig
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

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# -- the child bundle ------------------------------------------------------------------


def check_prefix(old: IdMap, new: IdMap, what: str) -> None:
    """The bundle's ids must keep their indices in the refreshed data; else a retrain is due."""
    n = len(old)
    if len(new) < n or not np.array_equal(new.ids[:n], old.ids):
        moved = np.flatnonzero(new.ids[: min(n, len(new))] != old.ids[: min(n, len(new))])
        example = old.ids[moved[:3]].tolist() if len(moved) else old.ids[len(new) : n][:3].tolist()
        raise BundleError(
            f"the refreshed {what} id map ({len(new)} ids) does not start with the bundle's "
            f"{n} ids (e.g. {example} moved or missing): indices changed, retrain instead"
        )


def refresh_model(
    model: TrainedModel, data: DataDir, config: TrainConfig, *, n_posts_before: int
) -> tuple[TrainedModel, dict[str, int]]:
    """`model` extended to the items of the refreshed `data`; returns it and what changed.

    New items get content-mapped vectors appended to `item_vectors` and the item index. Cold
    (content-mapped) items named by new posts are re-mapped when the index is exact, where
    rebuilding it is a copy; an approximate index keeps their old vectors until the retrain.
    """
    users, items = IdMap.load(data.idmap_path("users")), IdMap.load(data.idmap_path("items"))
    check_prefix(model.items, items, "items")
    check_prefix(model.users, users, "users")
    n_old, n_items = len(model.items), len(items)
    meta = steps.item_metadata(data, items, model.catalogue)
    vectors = np.array(model.item_vectors, dtype=np.float32)
    if n_items > n_old:
        docs = item_documents(data, IdMap(items.ids[n_old:]))
        vectors = np.concatenate([vectors, model.content.item_vectors(docs)]).astype(np.float32)
    grown = _cold_items_with_new_posts(model, data, items, config, n_posts_before)
    item_index = model.item_index
    remapped = 0
    if len(grown) and item_index.kind == "flat":
        docs = item_documents(data, IdMap(items.ids[grown]))
        vectors[grown] = model.content.item_vectors(docs)
        remapped = len(grown)
        item_index = VectorIndex(item_index.config).build(vectors)
    else:
        if len(grown):
            logger.info("%d cold items got posts; old vectors kept (approximate index)", len(grown))
        item_index.add(vectors[n_old:])
    log = load_interaction_log(data, users, items, config.interactions)
    lists = build_candidate_lists(
        log,
        n_items=n_items,
        item_circle=meta["circle_idx"].to_numpy(),
        is_group_buy=meta["is_group_buy"].to_numpy(),
        is_listed=meta["listed"].to_numpy(),
        n_circles=len(model.catalogue),
        head_share=config.lists.head_share,
        per_circle=config.lists.per_circle,
        trending_days=config.lists.trending_days,
    )
    ui = model.user_items
    # New items have no training history yet: empty columns keep the history filter aligned.
    widened = sp.csr_matrix((ui.data, ui.indices, ui.indptr), shape=(ui.shape[0], n_items))
    was_listed = model.item_meta["listed"].to_numpy(dtype=bool)
    counts = {
        "new_items": n_items - n_old,
        "remapped_cold_items": remapped,
        "delisted_items": int((was_listed & ~meta["listed"].to_numpy(dtype=bool)[:n_old]).sum()),
        "new_users_not_placed": len(users) - len(model.users),
        "events_used": int(len(log)),
    }
    refreshed = replace(
        model,
        items=items,
        item_meta=meta,
        user_items=widened,
        item_vectors=vectors,
        lists=lists,
        item_index=item_index,
    )
    return refreshed, counts


def _cold_items_with_new_posts(
    model: TrainedModel, data: DataDir, items: IdMap, config: TrainConfig, n_posts_before: int
) -> np.ndarray:
    """Existing content-mapped items that posts added by this refresh name (their text grew).

    Posts are stored in accepted order, base rows first, so the new ones are a suffix.
    """
    if not data.has_table("posts"):
        return np.empty(0, dtype=np.int64)
    fresh = data.read_table("posts", ["item_id"]).slice(n_posts_before).column("item_id")
    idx = items.to_index(pc.drop_null(fresh).to_numpy(zero_copy_only=False))
    idx = np.unique(idx[(idx >= 0) & (idx < len(model.items))])
    warm = np.diff(model.user_items.tocsc().indptr) >= config.content.warm_min_users
    return idx[~warm[idx]]


def write_child_bundle(
    parent: Bundle,
    models_dir: Path,
    model: TrainedModel,
    data: DataDir,
    *,
    refresh: dict[str, object],
    events_used: int,
) -> Path:
    """Commit the refreshed model as a child of `parent`, rewriting only the changed files.

    Users, CF factors, placement and the user index are unchanged and stay the parent's copies.
    """
    with BundleWriter(models_dir, parent=parent) as writer:
        root = writer.root
        model.items.save(root / "idmap" / "items.parquet")
        pq.write_table(
            pa.Table.from_pandas(model.item_meta, preserve_index=False),
            root / "items_meta.parquet",
        )
        save_csr(root / "user_items", model.user_items)
        writer.write_array("item_vectors", model.item_vectors)
        writer.remove("lists")
        for key, array in model.lists.to_arrays().items():
            writer.write_array(f"lists/{key}", array)
        writer.remove("index/items")
        model.item_index.save(writer.path("index/items"))
        row_counts = {
            **parent.manifest.row_counts,
            "items": len(model.items),
            "events_used": events_used,
        }
        return writer.commit(
            data_fingerprint=data_fingerprint(data.root),
            row_counts=row_counts,
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
    data, models_dir = DataDir(data_dir), Path(models_dir)
    registry = ModelRegistry(models_dir)
    parent = registry.current_bundle(verify=True)
    logger.info("refreshing bundle %s from delta %s", parent.version, delta_dir)
    model = TrainedModel.load(parent.root, mmap=False)
    config = TrainConfig.model_validate(parent.manifest.config)
    posts_map = data.idmap_path("posts")
    n_posts_before = len(IdMap.load(posts_map)) if posts_map.is_file() else 0
    work = data.root.parent / f".{data.root.name}.refresh-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    try:
        with tqdm(total=4, desc="refresh", unit="step") as bar:
            combined = build_combined_source(data, Path(delta_dir), work / "src")
            out = DataDir(work / "data")
            try:
                report = ingest(combined.root, out.root)
            except UnusableFileError as exc:
                raise from_delta(exc, combined) from None
            remap_quarantine(out, combined, data)
            bar.update()
            refreshed, counts = refresh_model(model, out, config, n_posts_before=n_posts_before)
            bar.update()
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
            }
            entry["seconds"] = round(time.perf_counter() - started, 3)
            path = write_child_bundle(
                parent, models_dir, refreshed, out, refresh=entry, events_used=counts["events_used"]
            )
            bar.update()
            # Only now the data moves: a failure above leaves DATA_DIR as it was.
            replace_dir(out.root, data.root)
            if promote:
                registry.promote(path.name)
            bar.update()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if entry["new_users_not_placed"]:
        logger.warning(
            "%d new users are not in the bundle's user map: they need a retrain (or the "
            "cold-user path)",
            entry["new_users_not_placed"],
        )
    summary = RefreshSummary(version=path.name, promoted=promote, **entry)  # type: ignore[arg-type]
    logger.info("refresh done: %s", summary.to_dict())
    return summary
