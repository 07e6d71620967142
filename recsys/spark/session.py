"""Starting Spark: a Java check first (one clear line instead of a JVM stack trace), then a
session configured as every Spark step here expects (UTC, microsecond Parquet timestamps)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from recsys.errors import EngineError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MIN_JAVA = 17
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')

#: Settings every session gets: times are UTC end to end, and Parquet timestamps are written
#: as the contract's microseconds (Spark's default INT96 is deprecated and not the contract).
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.ui.showConsoleProgress": "false",
    # No _SUCCESS file among the Parquet parts of a table.
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
}


def java_command() -> str:
    """The java executable Spark will start: $JAVA_HOME/bin/java, else java on the PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        return os.path.join(home, "bin", "java")
    return shutil.which("java") or "java"


def check_java() -> int:
    """The major version of the Java runtime Spark would use; EngineError in one line when
    there is none or it is older than `MIN_JAVA`."""
    java = java_command()
    hint = (
        f"install a Java {MIN_JAVA} runtime (Debian: apt-get install openjdk-17-jre-headless) "
        "or set JAVA_HOME, or use --engine local"
    )
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        raise EngineError(f"--engine spark needs Java, and {java} cannot run; {hint}") from None
    match = _VERSION.search(out.stderr + out.stdout)
    if out.returncode != 0 or match is None:
        raise EngineError(f"--engine spark needs Java, and `{java} -version` failed; {hint}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0" is Java 8
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise EngineError(f"--engine spark needs Java {MIN_JAVA}+, found Java {major}; {hint}")
    return major


def spark_session(
    master: str | None = None, *, app_name: str = "recsys", conf: Mapping[str, str] | None = None
) -> SparkSession:
    """A SparkSession on `master` (None: spark-submit's or the default), configured for recsys.

    Raises EngineError when pyspark is not installed or Java is missing.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(
            "--engine spark needs pyspark: pip install 'recsys[spark]' (make test installs it)"
        ) from None
    check_java()
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    if (master or "").startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        # Local executors run this interpreter (its packages: recsys, numpy ...), not
        # whatever python3 is first on the PATH; a cluster sets PYSPARK_PYTHON itself.
        # (Spark 4 reads the variable, not `spark.pyspark.python`, when it starts workers.)
        os.environ["PYSPARK_PYTHON"] = sys.executable
    for key, value in {**BASE_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # one line per gateway call otherwise
    return session
