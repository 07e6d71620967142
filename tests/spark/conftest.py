"""One SparkSession for every Spark test (local[2], as small as Spark gets), and shared data.

Every test under tests/spark is marked `spark`. The session limits what an action may bring to
the driver (`spark.driver.maxResultSize=64m`), so a step that collects an event table fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from recsys.datastore import DataDir
from recsys.ingest import ingest
from recsys.spark.ingest import spark_ingest
from recsys.spark.session import spark_session
from tests.spark.dirty import write_dirty

TEST_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.driver.maxResultSize": "64m",
    "spark.driver.memory": "2g",
    "spark.ui.enabled": "false",
    "spark.sql.adaptive.enabled": "false",
    # A short-lived JVM: the C1 compiler alone halves the run (the C2 warm-up never pays off).
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}
PARITY_USERS = 10_000
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = spark_session("local[2]", app_name="recsys-tests", conf=TEST_CONF)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def parity_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10k synthetic users plus planted bad rows of every kind (see dirty.py)."""
    return write_dirty(tmp_path_factory.mktemp("parity") / "src", n_users=PARITY_USERS)


@pytest.fixture(scope="session")
def parity_data(spark: SparkSession, parity_source: Path) -> dict[str, DataDir]:
    """The parity source ingested by both engines."""
    root = parity_source.parent
    ingest(parity_source, root / "local", max_quarantine_share=1.0)
    spark_ingest(spark, parity_source, root / "spark", max_quarantine_share=1.0)
    return {"local": DataDir(root / "local"), "spark": DataDir(root / "spark")}
