"""`recsys synth --out` replaces only its own earlier output (or an empty folder), unless --force,
and never a folder holding its own input files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from recsys.datastore import OUTPUT_MARKER
from recsys.errors import ConfigError
from recsys.synth import MANIFEST, SynthConfig, generate
from tests.ingest.conftest import cli_error

TINY = SynthConfig(n_users=60, seed=3, progress=False)
CLI_TINY = ["--users", "60", "--seed", "3", "--no-progress"]


def test_an_unrelated_folder_is_replaced_only_with_force(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match="--force") as err:
        generate(TINY, mine)
    assert "\n" not in str(err.value)
    assert (mine / "notes.md").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
    generate(TINY, mine, force=True)
    assert not (mine / "notes.md").exists() and (mine / MANIFEST).is_file()
    assert json.loads((mine / OUTPUT_MARKER).read_text(encoding="utf-8"))["command"] == "synth"


def test_its_own_output_and_an_empty_folder_are_used_without_force(tmp_path):
    out = tmp_path / "raw"
    out.mkdir()
    generate(TINY, out)
    first = (out / "events" / "part-00000.parquet").read_bytes()
    generate(TINY, out)
    assert (out / "events" / "part-00000.parquet").read_bytes() == first


def test_cli_refuses_an_unrelated_folder_in_one_line(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(app, ["synth", "--out", str(mine), *CLI_TINY])
    assert "--force" in cli_error(result)
    assert (mine / "notes.md").is_file()


def test_cli_never_replaces_a_folder_holding_its_config_even_with_force(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    config = work / "synth.toml"
    config.write_text("n_users = 60\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["synth", "--out", str(work), "--config", str(config), "--force", "--no-progress"]
    )
    assert "synth.toml" in cli_error(result)
    assert config.read_text(encoding="utf-8") == "n_users = 60\n"


def test_a_killed_runs_temporary_folder_is_removed(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f".raw.tmp-{int(done.stdout)}-0badc0de"
    (stale / "events").mkdir(parents=True)
    generate(TINY, tmp_path / "raw")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]
