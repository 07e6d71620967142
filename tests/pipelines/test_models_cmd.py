"""`recsys models`: list, show, verify, promote (guarded, --force), rollback, remove-created."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from recsys.bundle import BundleWriter
from recsys.bundle.manifest import FORMAT_VERSION
from tests.bundle.conftest import read_raw, write_raw

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
    ok = run("verify", "20260101T000000Z-aaaaaa", *d)
    assert ok.exit_code == 0 and ok.output.startswith(
        f"20260101T000000Z-aaaaaa: format version {FORMAT_VERSION}, signature valid (key "
    )
    assert ok.output.rstrip().endswith("from RECSYS_BUNDLE_KEY), 1 files verified")
    (models / "20260101T000000Z-aaaaaa" / "item_vectors.npy").write_bytes(b"broken")
    bad = run("verify", "20260101T000000Z-aaaaaa", *d)
    assert bad.exit_code == 1 and "item_vectors.npy" in bad.output
    none = run("rollback", *d)
    assert none.exit_code == 1 and "no earlier promoted version" in none.output
    assert "no bundles" in run("list", "--models-dir", str(models / "empty")).output


A = "20260101T000000Z-aaaaaa"


def _unsigned(bundle: Path) -> None:
    data = read_raw(bundle)
    del data["signature"]
    write_raw(bundle, data)


def _edited(bundle: Path) -> None:
    data = read_raw(bundle)
    data["metrics"]["holdout"]["ndcg@10"] = 0.99
    write_raw(bundle, data)


def _format_1(bundle: Path) -> None:
    data = read_raw(bundle)
    data["format_version"] = 1
    write_raw(bundle, data, sign=True)


def _escaping(bundle: Path) -> None:
    data = read_raw(bundle)
    data["files"]["../../x"] = data["files"].pop("item_vectors.npy")
    write_raw(bundle, data, sign=True)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_unsigned, "manifest is not signed; refusing an unsigned bundle"),
        (_edited, "manifest signature does not match its content: the manifest was altered"),
        (_format_1,
         f"bundle format version 1, this recsys reads format version {FORMAT_VERSION} only"),
        (_escaping, "bundle file name '../../x' is not a plain relative path inside the bundle"),
    ],
)
def test_verify_and_promote_refuse_a_spoiled_bundle_in_one_line(models, spoil, message) -> None:
    spoil(models / A)
    for command in (["verify", A], ["promote", A, "--force"], ["show", A]):
        result = run(*command, "--models-dir", str(models))
        assert result.exit_code == 1, result.output
        assert result.output.startswith("error: ") and message in result.output
        assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not (models / "PROMOTED").exists()


def test_another_key_or_no_key_is_one_line_too(models, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("RECSYS_BUNDLE_KEY", "the-key-of-another-machine")
    other = run("verify", A, "--models-dir", str(models))
    assert other.exit_code == 1 and other.output.count("\n") == 1
    assert "manifest is signed with another key (key id " in other.output
    monkeypatch.delenv("RECSYS_BUNDLE_KEY")
    monkeypatch.setenv("RECSYS_BUNDLE_KEY_FILE", str(tmp_path / "absent.key"))
    none = run("verify", A, "--models-dir", str(models))
    assert none.exit_code == 1 and none.output.startswith("error: no bundle signing key: ")


def test_promote_names_a_nan_guarded_metric(models) -> None:
    _bundle(models, "20260103T000000Z-cccccc", math.nan)
    refused = run("promote", "20260103T000000Z-cccccc", "--models-dir", str(models))
    assert refused.exit_code == 1 and refused.output.count("\n") == 1
    assert (
        "error: promotion of 20260103T000000Z-cccccc refused: holdout.ndcg@10: null or not a "
        "number in 20260103T000000Z-cccccc (a guarded metric must be a finite number)"
    ) in refused.output


def test_remove_created_without_a_record_touches_nothing(models) -> None:
    result = run("remove-created", "--models-dir", str(models))
    assert result.exit_code == 0 and result.output.startswith("nothing to remove")
    assert len(list(models.iterdir())) == 2


def test_make_clean_removes_what_the_demo_wrote_and_only_that(tmp_path) -> None:
    """`make demo` then `make clean` in a project that also holds a user's data and bundles."""
    project = tmp_path / "project"
    mine = project / "models" / "20250101T000000Z-111111"
    _bundle(project / "models", mine.name, 0.5)
    (project / "data" / "raw" / "mine").mkdir(parents=True)
    (project / "reports" / "mine").mkdir(parents=True)
    assert run("promote", mine.name, "--models-dir", str(project / "models")).exit_code == 0
    demo = CliRunner().invoke(
        app,
        [
            "demo",
            "--workdir",
            str(project / "data"),
            "--models-dir",
            str(project / "models"),
            "--users",
            "300",
            "--items",
            "200",
            "--trials",
            "1",
            "--show-users",
            "1",
        ],
    )
    assert demo.exit_code == 0, demo.output
    (demo_bundle,) = [p for p in (project / "models").glob("2*") if p.name != mine.name]
    assert (project / "models" / "PROMOTED").read_text().strip() == demo_bundle.name
    assert (project / "data" / "reports" / "sample").is_dir()
    (project / "venv").mkdir()  # stands for the Makefile's own .venv, which clean removes

    bin_dir = Path(sys.executable).parent
    clean = subprocess.run(
        [
            "make",
            "-s",
            "-f",
            str(Path(__file__).parents[2] / "Makefile"),
            "-C",
            str(project),
            "clean",
            "VENV=venv",
            f"BIN={bin_dir}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert clean.returncode == 0, clean.stderr
    assert f"removed bundle {demo_bundle.name}" in clean.stdout
    assert {p.name for p in (project / "models").iterdir()} == {
        ".lock",
        "PROMOTED",
        mine.name,
        "promotions.jsonl",
    }
    assert (project / "models" / "PROMOTED").read_text().strip() == mine.name
    assert sorted(p.relative_to(project).as_posix() for p in (project / "data").rglob("*")) == [
        "data/raw",
        "data/raw/mine",
    ]
    assert (project / "reports" / "mine").is_dir() and not (project / "venv").exists()
    shutil.rmtree(project)
