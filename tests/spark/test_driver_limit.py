"""No Spark step brings the events to the driver: on data whose events alone exceed the
session's `spark.driver.maxResultSize` (64m), collecting them fails, and the training
aggregation (every event read, weighted and summed) still runs.

The data is written with numpy and pyarrow straight into the ingested layout: ingesting this
many events on local[2] takes minutes, past the Spark tests' budget (the ingest's own driver
traffic is counts per file and rule, and the quarantine and id maps read part by part).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from recsys.circles import CircleCatalogue, default_catalogue_path, load_catalogue
from recsys.contract import EVENTS, ITEMS, USERS
from recsys.datastore import DataDir
from recsys.idmap import IdMap
from recsys.recipe import TrainConfig
from recsys.spark.interactions import aggregate

# Few rows, wide ones: Spark compresses task results, so the rows must not compress away.
# Each event's channel is 512 hex digits of random bytes (256 bytes of entropy): ~100 MB of
# channels over 200k events, past the 64 MB limit after compression.
N_EVENTS, CHANNEL_BYTES, N_PARTS = 200_000, 256, 2
N_USERS, N_ITEMS = 20_000, 2_000
TYPES = ["view", "like", "purchase", "share"]
TS0 = 1_704_067_200_000_000  # 2024-01-01, microseconds
HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return pa.array([f"{prefix}{n:0{width}d}" for n in numbers.tolist()], pa.string())


def _hex_strings(rng: np.random.Generator, n: int, n_bytes: int) -> pa.Array:
    """`n` strings of 2 * `n_bytes` random hex digits, built as one Arrow buffer."""
    raw = rng.integers(0, 256, size=n * n_bytes, dtype=np.uint8)
    digits = np.empty(2 * raw.size, dtype=np.uint8)
    digits[0::2], digits[1::2] = HEX[raw >> 4], HEX[raw & 15]
    offsets = np.arange(0, digits.size + 1, 2 * n_bytes, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(digits)]
    )


def _events(ids: np.ndarray, rng: np.random.Generator) -> pa.Table:
    n = len(ids)
    none = pa.nulls(n, pa.string())
    ts = TS0 + (ids % (180 * 86_400)) * 1_000_000
    return pa.Table.from_arrays(
        [
            _ids("e", ids, 10),
            _ids("u", (ids * 7919) % N_USERS, 6),
            _ids("i", (ids * 104729) % N_ITEMS, 5),
            none,
            pa.array(np.array(TYPES)[ids % 4]),
            none,
            _hex_strings(rng, n, CHANNEL_BYTES),
            pa.array(ts, pa.timestamp("us", tz="UTC")),
        ],
        schema=EVENTS.schema,
    )


@pytest.fixture(scope="module")
def big_data(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    """A data directory of 200k wide events over 20k users and 2k items."""
    root = tmp_path_factory.mktemp("big") / "data"
    data = DataDir(root)
    rng = np.random.default_rng(0)
    data.table_dir("events").mkdir(parents=True)
    for i, ids in enumerate(np.array_split(np.arange(N_EVENTS), N_PARTS)):
        pq.write_table(_events(ids, rng), data.table_dir("events") / f"part-{i:05d}.parquet")
    signup = pa.array(np.full(N_USERS, TS0 - 86_400_000_000), pa.timestamp("us", tz="UTC"))
    data.write_table("users", pa.table({
        "user_id": _ids("u", np.arange(N_USERS), 6),
        "signup_ts": signup,
        **{c: pa.nulls(N_USERS, pa.string()) for c in ("gender", "age_band", "city")},
        "share_opt_out": pa.array(np.zeros(N_USERS, dtype=bool)),
    }, schema=USERS.schema))
    catalogue = load_catalogue(default_catalogue_path())
    categories = np.array([c for circle in catalogue.to_table().column("categories").to_pylist()
                           for c in circle])
    numbers = np.arange(N_ITEMS)
    data.write_table("items", pa.table({
        "item_id": _ids("i", numbers, 5),
        "title": pa.array([f"item {n}" for n in numbers.tolist()]),
        "category": pa.array(categories[numbers % len(categories)]),
        "brand": pa.nulls(N_ITEMS, pa.string()),
        "merchant_id": pa.array(["m1"] * N_ITEMS),
        "price": pa.array(np.full(N_ITEMS, 10.0)),
        "is_group_buy": pa.array(np.zeros(N_ITEMS, dtype=bool)),
        "created_ts": pa.array(np.full(N_ITEMS, TS0 - 86_400_000_000),
                               pa.timestamp("us", tz="UTC")),
        "status": pa.array(["listed"] * N_ITEMS),
    }, schema=ITEMS.schema))
    data.idmap_dir.mkdir()
    IdMap([f"u{i:06d}" for i in range(N_USERS)]).save(data.idmap_path("users"), "user_id")
    IdMap([f"i{i:05d}" for i in range(N_ITEMS)]).save(data.idmap_path("items"), "item_id")
    data.write_table("circles", catalogue.to_table())
    return data


def test_the_events_exceed_the_limit(big_data: DataDir) -> None:
    """The data is what the test says: more event bytes than the driver may receive."""
    channels = sum(pq.read_table(p, columns=["channel"]).column("channel").nbytes
                   for p in big_data.parts("events"))
    assert channels > 64 * 2**20


def test_collecting_the_events_exceeds_the_limit(spark: SparkSession, big_data: DataDir) -> None:
    """The guard is real: the events do not fit through the driver."""
    assert spark.conf.get("spark.driver.maxResultSize") == "64m"
    events = spark.read.parquet(str(big_data.table_dir("events")))
    with pytest.raises(Exception, match="maxResultSize"):
        events.collect()


def test_aggregation_runs_within_it(
    spark: SparkSession, big_data: DataDir, tmp_path: Path
) -> None:
    data = big_data
    users = IdMap.load(data.idmap_path("users"))
    items = IdMap.load(data.idmap_path("items"))
    catalogue = CircleCatalogue.from_table(data.read_table("circles"))
    result = aggregate(spark, data, len(users), len(items), catalogue, TrainConfig(),
                       tmp_path / "work")
    assert result.events_used == N_EVENTS
    assert result.user_items.shape == (N_USERS, N_ITEMS)
    # every event weighted: views 1, likes 2, purchases 8, shares 4, a quarter of each
    assert result.user_items.sum() == pytest.approx(N_EVENTS / 4 * (1 + 2 + 8 + 4), rel=1e-4)
    assert result.purchases.nnz > 0
