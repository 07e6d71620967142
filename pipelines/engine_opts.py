"""`--engine local|spark` and `--master URL`, shared by ingest, train and evaluate.

Spark is imported only when asked for (it is an optional extra); the Java check runs before
any Spark work, so a machine without Java gets one line, not a JVM stack trace.
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

Engine = Literal["local", "spark"]

EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where the heavy steps run: local (this process, DuckDB) or spark "
        "(Apache Spark; see docs/spark.md).",
    ),
]
MasterOpt = Annotated[
    str | None,
    typer.Option(
        "--master",
        help="Spark master URL with --engine spark (local[*], spark://HOST:7077, yarn ...); "
        "default: spark-submit's, else local[*].",
    ),
]


def check_engine(engine: str, master: str | None) -> Engine:
    """The engine name, checked; a --master without --engine spark is a mistake worth saying."""
    from recsys.errors import ConfigError

    if engine not in ("local", "spark"):
        raise ConfigError(f"--engine {engine!r}: expected local or spark")
    if master is not None and engine != "spark":
        raise ConfigError("--master is for --engine spark; add --engine spark or drop --master")
    return engine  # type: ignore[return-value]


def start_spark(master: str | None, app_name: str):  # noqa: ANN201 - pyspark is optional
    """A SparkSession for a command (Java and pyspark checked first)."""
    import os

    from recsys.spark.session import spark_session

    # Under spark-submit the gateway is already up and its --master applies.
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:
        master = "local[*]"
    return spark_session(master, app_name=app_name)
