"""Every `recsys` command meets bad input with one error line and a non-zero exit, never a
traceback: missing or wrong paths, bad configs, bad seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("someone else's file\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    typo = tmp_path / "typo.toml"
    typo.write_text("[cff]\nfactors = 8\n")
    bad_value = tmp_path / "bad_value.toml"
    bad_value.write_text('[cf]\nfactors = "many"\n')
    not_toml = tmp_path / "not.toml"
    not_toml.write_text("factors = [[[\n")
    return {"file": a_file, "empty": empty, "missing": tmp_path / "missing", "typo": typo,
            "bad_value": bad_value, "not_toml": not_toml, "root": tmp_path}


def fails_in_one_line(args: list[str], *expected: str) -> str:
    """Run; assert a non-zero exit, no uncaught exception, and exactly one error line that
    contains every `expected` string. Returns that line."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {type(result.exception).__name__}: {result.exception}")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def usage_error(args: list[str], option: str) -> None:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"Invalid value for '{option}'" in result.output


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_data_folder_that_is_missing_a_file_or_not_ingested(command: str, paths) -> None:
    fails_in_one_line([command, "--data", paths["missing"]], "no such data directory")
    fails_in_one_line([command, "--data", paths["file"]], "is a file, not a data directory")
    fails_in_one_line([command, "--data", paths["empty"]], "not an ingested data directory",
                      "recsys ingest")


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_bad_config_files(command: str, paths) -> None:
    data = ["--data", paths["empty"]]
    fails_in_one_line([command, *data, "--config", paths["missing"]], "config file not found")
    fails_in_one_line([command, *data, "--config", paths["not_toml"]], "not valid TOML")
    line = fails_in_one_line([command, *data, "--config", paths["typo"]], "unknown key 'cff'")
    assert "expected one of: backtest, bundle, cf, circle_feed, content" in line
    fails_in_one_line([command, *data, "--config", paths["bad_value"]], "'cf.factors'", "many")


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_bad_seed_is_a_usage_error(command: str, paths) -> None:
    usage_error([command, "--data", paths["empty"], "--seed", "abc"], "--seed")
    usage_error([command, "--data", paths["empty"], "--seed", "-1"], "--seed")


def test_refresh_with_a_bad_data_or_delta_folder(paths) -> None:
    delta = paths["root"] / "delta"
    delta.mkdir()
    (delta / "items.csv").write_text("item_id,title\nnew,fresh tea\n")
    fails_in_one_line(["refresh", "--data", paths["missing"], "--new", delta],
                      "no such data directory")
    fails_in_one_line(["refresh", "--data", paths["file"], "--new", delta], "is a file")
    assert not list(paths["root"].glob(".*refresh*"))  # no work folder left behind


def test_ingest_import_and_synth_never_replace_a_file(paths) -> None:
    src = paths["root"] / "src"
    fails_in_one_line(["ingest", paths["missing"], "--out", src], "source folder not found")
    fails_in_one_line(["ingest", paths["empty"], "--out", src, "--map", paths["typo"]],
                      "[cff]: not a contract table")
    fails_in_one_line(["synth", "--out", paths["file"], "--users", "20", "--no-progress"],
                      "exists and is not a folder; expected a folder")
    assert paths["file"].read_text() == "someone else's file\n"
    assert [p.name for p in paths["root"].iterdir() if p.name.startswith(".")] == []
    fails_in_one_line(["synth", "--out", src, "--config", paths["typo"]], "unknown key 'cff'")
    fails_in_one_line(["synth", "--out", src, "--users", "-5"], "'n_users'",
                      "greater than or equal to 1")
    fails_in_one_line(["import", "movielens-1m", paths["missing"], "--out", src],
                      "file not found")
    fails_in_one_line(["import", "no-such-format", paths["empty"], "--out", src],
                      "unknown import format")


def test_models_commands_with_bad_folders_and_configs(paths) -> None:
    fails_in_one_line(["models", "list", "--models-dir", paths["file"]], str(paths["file"]))
    fails_in_one_line(["models", "list", "--config", paths["typo"]], "unknown key 'cff'")
    for args in (["show", "v1"], ["verify", "v1"], ["promote", "v1"]):
        fails_in_one_line(["models", *args, "--models-dir", paths["empty"]], "no such bundle")


def test_demo_with_a_file_for_its_work_folder(paths) -> None:
    # --models-dir too: the demo records what it creates there, never in the project's models/.
    fails_in_one_line(["demo", "--workdir", paths["file"], "--models-dir", paths["root"] / "m",
                       "--users", "20", "--items", "10"], str(paths["file"]))
    assert paths["file"].read_text() == "someone else's file\n"
