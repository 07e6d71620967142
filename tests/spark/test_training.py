"""Training on Spark against the local engine on the same ingested data (10k synthetic users
plus planted bad rows): the same bundle format, holdout NDCG@10 within 5%, the same top-1
circle for at least 95% of users, identical quarantine counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import SparkSession

from recsys.bundle.bundle import Bundle
from recsys.datastore import DataDir
from recsys.recipe import TrainConfig
from recsys.spark.training import ON_DRIVER, ON_SPARK, spark_engine
from recsys.training.run import run_training
from tests.conftest import RANKED_OFF

# The default recipe, with fewer factors and sweeps to keep the two fits within the test
# budget; both engines train exactly this.
CONFIG = TrainConfig.model_validate({"cf": {"factors": 32, "iterations": 10},
                                     "ranked": RANKED_OFF})


@pytest.fixture(scope="module")
def bundles(
    spark: SparkSession, parity_data: dict[str, DataDir], parity_source: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Bundle]:
    models = tmp_path_factory.mktemp("models")
    truth = parity_source / "truth"
    local = run_training(parity_data["local"].root, CONFIG, truth_dir=truth,
                         models_dir=models / "local")
    with spark_engine(spark, parity_data["spark"].root) as engine:
        on_spark = run_training(parity_data["spark"].root, CONFIG, truth_dir=truth,
                                models_dir=models / "spark", engine=engine)
    return {"local": Bundle.open(local), "spark": Bundle.open(on_spark)}


def _files(bundle: Bundle) -> set[str]:
    return set(bundle.manifest.files)


def test_same_bundle_format(bundles: dict[str, Bundle]) -> None:
    local, spark = bundles["local"], bundles["spark"]
    assert _files(spark) == _files(local)  # Bundle.open checked the signature and checksums
    assert set(spark.manifest.metrics) == set(local.manifest.metrics)
    assert spark.manifest.row_counts == local.manifest.row_counts


def test_manifest_says_where_each_part_ran(bundles: dict[str, Bundle]) -> None:
    engine = bundles["spark"].manifest.engine
    assert engine["name"] == "spark"
    assert engine["on_spark"] == ON_SPARK and engine["on_driver"] == ON_DRIVER
    assert engine["mllib"]["final"]["rank"] == CONFIG.cf.factors
    assert bundles["local"].manifest.engine == {"name": "local"}


def test_holdout_ndcg_within_5_percent(bundles: dict[str, Bundle]) -> None:
    local = bundles["local"].manifest.metric("holdout.ndcg@10")
    spark = bundles["spark"].manifest.metric("holdout.ndcg@10")
    assert local is not None and spark is not None and local > 0.05
    assert abs(spark - local) <= 0.05 * local, (local, spark)


def test_same_top_circle_for_95_percent_of_users(bundles: dict[str, Bundle]) -> None:
    local = np.load(bundles["local"].root / "circles" / "affinities.npy")
    spark = np.load(bundles["spark"].root / "circles" / "affinities.npy")
    assert local.shape == spark.shape and len(local) >= 10_000
    same = float((local.argmax(axis=1) == spark.argmax(axis=1)).mean())
    assert same >= 0.95, same


def test_identical_quarantine_counts(parity_data: dict[str, DataDir]) -> None:
    counts = {
        engine: {t: r["quarantined"] for t, r in json.loads(
            data.report_path.read_text(encoding="utf-8"))["tables"].items()}
        for engine, data in parity_data.items()
    }
    assert counts["spark"] == counts["local"]
    assert sum(counts["local"].values()) > 0
