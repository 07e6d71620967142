"""`generate`: build the world, then write the contract tables chunk by chunk (bounded memory)."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.circles import CircleCatalogue, default_catalogue_path, load_catalogue
from recsys.contract import ITEMS, TABLES, table_spec
from recsys.datastore import claim_output, mark_output, replace_dir, temp_sibling
from recsys.synth.chunk import ChunkMaker
from recsys.synth.config import SynthConfig
from recsys.synth.sampling import format_ids, id_width, rng_for, timestamps
from recsys.synth.world import STAGE_ITEMS, World, build_world

log = logging.getLogger(__name__)

COMMAND = "synth"
TRUTH_DIR = "truth"
MANIFEST = "synth_manifest.json"
GENERATOR_VERSION = 1
_PART = "part-{:05d}.parquet"


def generate(
    config: SynthConfig,
    out_dir: str | Path,
    catalogue: CircleCatalogue | None = None,
    *,
    force: bool = False,
    inputs: Mapping[str, str | Path | None] | None = None,
) -> dict[str, int]:
    """Write a synthetic data set in the contract layout to `out_dir`; return rows per table.

    `out_dir/<table>/part-NNNNN.parquet` holds the contract tables (one part per user chunk),
    `out_dir/truth/` the planted truth (user interests, users, items) and
    `out_dir/synth_manifest.json` the config, counts and timing. The folder is written to a temp
    sibling and swapped in, so a failed run leaves an earlier output untouched. `out_dir` must
    be new, empty or an earlier synth output (else `force`), and never hold one of `inputs`
    (label -> path of a file read, such as the config), not even with `force`.
    """
    t_start = time.perf_counter()
    out_dir = claim_output(out_dir, command=COMMAND, inputs=inputs, force=force, legacy=MANIFEST)
    if catalogue is None:
        catalogue = load_catalogue(default_catalogue_path())
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(out_dir, "tmp")
    tmp.mkdir()
    try:
        counts, timing = _write_all(config, catalogue, tmp)
        seconds = time.perf_counter() - t_start
        manifest = {
            "generator": "recsys.synth",
            "generator_version": GENERATOR_VERSION,
            "config": config.model_dump(mode="json"),
            "n_circles": len(catalogue),
            "counts": counts,
            "seconds": round(seconds, 3),
            "timing": {k: round(v, 3) for k, v in timing.items()},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        mark_output(tmp, COMMAND)
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("synth: wrote %s in %.1fs: %s", out_dir, seconds, counts)
    return counts


def _write_all(
    config: SynthConfig, catalogue: CircleCatalogue, root: Path
) -> tuple[dict[str, int], dict[str, float]]:
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    world = build_world(config, catalogue)
    timing["world"] = time.perf_counter() - t0
    for spec in TABLES:
        (root / spec.name).mkdir()
    (root / TRUTH_DIR).mkdir()
    counts = {spec.name: 0 for spec in TABLES}

    _write(root, "circles", 0, catalogue.to_table())
    counts["circles"] = len(catalogue)
    items, truth_items = _items_tables(world)
    _write(root, "items", 0, items)
    counts["items"] = items.num_rows
    pq.write_table(truth_items, root / TRUTH_DIR / "items.parquet")

    t1 = time.perf_counter()
    maker = ChunkMaker(world)
    writers: dict[str, pq.ParquetWriter] = {}
    chunks = world.chunks()
    progress = None
    if config.progress:
        from tqdm import tqdm

        progress = tqdm(total=len(chunks), desc="synth chunks", unit="chunk")
    try:
        for index, (lo, hi) in enumerate(chunks):
            out = maker.make(index, lo, hi)
            for name, table in out.tables.items():
                _write(root, name, index, table)
                counts[name] += table.num_rows
            for name, table in (("user_interests", out.truth_interests),
                                ("users", out.truth_users)):  # fmt: skip
                if name not in writers:
                    writers[name] = pq.ParquetWriter(
                        root / TRUTH_DIR / f"{name}.parquet", table.schema
                    )
                writers[name].write_table(table)
            del out
            if progress is not None:
                progress.update(1)
    finally:
        for writer in writers.values():
            writer.close()
        if progress is not None:
            progress.close()
    timing["chunks"] = time.perf_counter() - t1
    return counts, timing


def _write(root: Path, name: str, index: int, table: pa.Table) -> None:
    spec = table_spec(name)
    if table.schema != spec.schema:
        raise AssertionError(f"synth produced {name} with schema {table.schema}")
    pq.write_table(table, root / name / _PART.format(index))


def _items_tables(world: World) -> tuple[pa.Table, pa.Table]:
    it, circles = world.items, world.circles
    rng = rng_for(world.config.seed, STAGE_ITEMS, 1)
    n = it.n
    ids = format_ids("i", np.arange(n), id_width(n, 5))
    category = np.asarray(circles.category_names, dtype=object)[it.category]
    brand_no = np.minimum(rng.zipf(1.6, n), 30)
    brand = pa.array([f"{c}_brand{b:02d}" for c, b in zip(category, brand_no, strict=True)],
                     mask=rng.random(n) < 0.1)  # fmt: skip
    adjectives = np.asarray(["classic", "new", "pro", "lite", "premium", "value pack", "mini",
                             "plus", "limited", "essential"], dtype=object)  # fmt: skip
    adj = adjectives[rng.integers(0, len(adjectives), n)]
    label = np.char.replace(category.astype(str), "_", " ")
    title = [f"{a} {lab} #{i}" for i, (a, lab) in enumerate(zip(adj, label, strict=True))]
    n_merchants = max(1, n // 50)
    merchant = format_ids("m", rng.integers(0, n_merchants, n), id_width(n_merchants, 5))
    items = pa.Table.from_arrays(
        [
            ids,
            pa.array(title, pa.string()),
            pa.array(category, pa.string()),
            brand,
            merchant,
            pa.array(it.price),
            pa.array(it.is_group_buy),
            timestamps(it.created),
            pa.array(np.where(it.delisted, "delisted", "listed"), pa.string()),
        ],
        schema=ITEMS.schema,
    )
    circle_ids = pa.array(world.catalogue.ids)
    truth = pa.table(
        {
            "item_id": ids,
            "circle_id": circle_ids.take(pa.array(it.circle.astype(np.int64))),
            "price_tier": pa.array(it.tier),
            "base_popularity": pa.array(it.base_popularity),
            "is_head": pa.array(it.is_head),
            "exposure": pa.array(it.exposure),
        }
    )
    return items, truth
