"""`recsys models`: list, show, verify, promote (guarded, --force), rollback, via the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from recsys.bundle import BundleWriter

runner = CliRunner()


def _bundle(models: Path, version: str, ndcg: float) -> None:
    with BundleWriter(models, version) as writer:
        writer.write_array("item_vectors", np.ones((4, 2), np.float32))
        writer.commit(metrics={"holdout": {"ndcg@10": ndcg}, "placement": {"model": {}}})


@pytest.fixture
def models(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    _bundle(models, "20260101T000000Z-aaaaaa", 0.30)
    _bundle(models, "20260102T000000Z-bbbbbb", 0.20)
    return models


def run(*args: str) -> object:
    return runner.invoke(app, ["models", *args])


def test_list_marks_promoted_and_shows_guarded_metrics(models: Path) -> None:
    assert run("promote", "20260101T000000Z-aaaaaa", "--models-dir", str(models)).exit_code == 0
    result = run("list", "--models-dir", str(models))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "holdout.ndcg@10" in lines[0]
    assert (
        lines[1].startswith("*") and "20260101T000000Z-aaaaaa" in lines[1] and "0.3000" in lines[1]
    )
    assert not lines[2].startswith("*") and "0.2000" in lines[2]


def test_show_prints_the_manifest(models: Path) -> None:
    result = run("show", "20260102T000000Z-bbbbbb", "--models-dir", str(models))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["version"] == "20260102T000000Z-bbbbbb" and "item_vectors.npy" in data["files"]
    flat = run("show", "20260102T000000Z-bbbbbb", "--flat", "--models-dir", str(models))
    assert flat.output.strip() == "holdout.ndcg@10\t0.2"
    missing = run("show", "nope", "--models-dir", str(models))
    assert missing.exit_code == 1 and "no such bundle" in missing.output


def test_promote_refuses_regression_unless_forced_then_rolls_back(models: Path) -> None:
    d = ["--models-dir", str(models)]
    assert run("promote", "20260101T000000Z-aaaaaa", *d).exit_code == 0
    refused = run("promote", "20260102T000000Z-bbbbbb", *d)
    assert refused.exit_code == 1
    assert "refused" in refused.output and "holdout.ndcg@10: 0.2000 vs 0.3000" in refused.output
    assert (models / "PROMOTED").read_text().strip() == "20260101T000000Z-aaaaaa"
    assert run("promote", "20260102T000000Z-bbbbbb", "--tolerance", "0.2", *d).exit_code == 0
    assert run("rollback", *d).output.startswith("rolled back to 20260101T000000Z-aaaaaa")
    forced = run("promote", "20260102T000000Z-bbbbbb", "--force", *d)
    assert forced.exit_code == 0 and "was 20260101T000000Z-aaaaaa" in forced.output
    # Guarding another metric, which the promoted bundle lacks, lets it through.
    run("rollback", *d)
    assert run("promote", "20260102T000000Z-bbbbbb", "--metric", "x.y", *d).exit_code == 0


def test_verify_and_rollback_errors(models: Path) -> None:
    d = ["--models-dir", str(models)]
    assert "files verified" in run("verify", "20260101T000000Z-aaaaaa", *d).output
    (models / "20260101T000000Z-aaaaaa" / "item_vectors.npy").write_bytes(b"broken")
    bad = run("verify", "20260101T000000Z-aaaaaa", *d)
    assert bad.exit_code == 1 and "item_vectors.npy" in bad.output
    none = run("rollback", *d)
    assert none.exit_code == 1 and "no earlier promoted version" in none.output
    assert "no bundles" in run("list", "--models-dir", str(models / "empty")).output
