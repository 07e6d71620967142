"""`--engine` / `--master` on ingest, train and evaluate: wrong use and a machine without Java
end in one error line before any Spark work (no SparkSession is started here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.errors import EngineError
from recsys.spark.session import MIN_JAVA, check_java
from tests.pipelines.test_cli_errors import fails_in_one_line


@pytest.fixture
def no_java(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java-here"))


@pytest.mark.parametrize("command", [
    ["ingest", "SRC", "--out", "OUT"],
    ["train", "--data", "SRC"],
    ["evaluate", "--data", "SRC"],
])
def test_master_needs_the_spark_engine(command: list[str], tmp_path: Path) -> None:
    args = [str(tmp_path / a) if a in ("SRC", "OUT") else a for a in command]
    fails_in_one_line([*args, "--master", "local[2]"], "--master is for --engine spark")


def test_unknown_engine(tmp_path: Path) -> None:
    fails_in_one_line(["train", "--data", tmp_path, "--engine", "flink"],
                      "--engine 'flink': expected local or spark")


def test_no_java_is_one_line(no_java: None, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    fails_in_one_line(["ingest", src, "--out", tmp_path / "out", "--engine", "spark"],
                      "--engine spark needs Java", "openjdk-17-jre-headless")


def test_java_version_is_read(no_java: None) -> None:
    with pytest.raises(EngineError, match="needs Java"):
        check_java()


def test_this_machines_java_is_recent_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    """make test installs what Spark needs: a Java runtime of at least MIN_JAVA."""
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert check_java() >= MIN_JAVA
