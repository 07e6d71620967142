"""`recsys --help` and friends: what a user reads before running anything."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from pipelines.cli import app, package_version

runner = CliRunner()
README = Path(__file__).resolve().parents[2] / "README.md"


def _command_paths() -> list[list[str]]:
    """Every command and sub-command of the app, as argument lists."""
    paths: list[list[str]] = [[]]

    def walk(command: click.Command, prefix: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(get_command(app), [])
    return paths


COMMANDS = _command_paths()


def test_every_command_is_walked() -> None:
    names = {" ".join(p) for p in COMMANDS}
    assert {"train", "evaluate", "refresh", "models verify", "models promote"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "recsys")
def test_help_shows_no_value_placeholder_for_flags(path: list[str]) -> None:
    """Flags (--force, --help, --promote/--no-promote) take no value; help must not show one."""
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help" in result.output


def test_bracketed_words_survive_in_help() -> None:
    result = runner.invoke(app, ["models", "promote", "--help"])
    assert result.exit_code == 0, result.output
    assert "[bundle] section" in " ".join(result.output.split())


def test_version_prints_the_package_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"recsys {package_version()}"
    assert package_version()[0].isdigit()


def test_readme_lists_every_models_subcommand() -> None:
    text = README.read_text(encoding="utf-8")
    for path in COMMANDS:
        if len(path) == 2 and path[0] == "models":
            assert path[1] in text.split("recsys models", 1)[1].split("\n", 1)[0], path
