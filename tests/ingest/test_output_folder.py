"""`--out` never deletes what ingest did not write: not the source, not an unrelated folder.

The output must not equal, contain or lie inside the source (not even with force); an existing
folder is replaced only when it is empty or an earlier ingest output (its marker), unless
force; a killed run's temporary folders are removed by the next run and never promoted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from recsys.datastore import OUTPUT_MARKER, DataDir
from recsys.errors import ConfigError
from recsys.ingest import ingest
from tests.ingest.conftest import cli_error, copy_valid


def _file_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _dead_pid() -> int:
    """The id of a process that has exited (a killed run's)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


@pytest.mark.parametrize("where", ["same", "parent", "inside"])
@pytest.mark.parametrize("force", [False, True])
def test_out_equal_to_containing_or_inside_the_source_is_refused(tmp_path, where, force):
    src = copy_valid(tmp_path / "data" / "src")
    out = {"same": src, "parent": src.parent, "inside": src / "out"}[where]
    before = _file_bytes(tmp_path)
    with pytest.raises(ConfigError, match="source") as err:
        ingest(src, out, force=force)
    assert "\n" not in str(err.value)
    assert _file_bytes(tmp_path) == before
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["src"]


def test_cli_out_parent_of_the_source_exits_non_zero_and_keeps_the_source(tmp_path):
    """The reported case: `recsys ingest SRC --out PARENT_OF_SRC` deleted SRC and exited 0."""
    src = copy_valid(tmp_path / "src")
    before = _file_bytes(src)
    result = CliRunner().invoke(app, ["ingest", str(src), "--out", str(tmp_path), "--force"])
    assert "contains the source" in cli_error(result)
    assert _file_bytes(src) == before


def test_cli_out_dot_is_a_one_line_error(tmp_path, monkeypatch):
    copy_valid(tmp_path / "src")
    before = _file_bytes(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["ingest", "src", "--out", "."])
    assert "--out" in cli_error(result)
    assert _file_bytes(tmp_path) == before


def test_an_unrelated_folder_is_replaced_only_with_force(tmp_path):
    src = copy_valid(tmp_path / "src")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work", encoding="utf-8")
    with pytest.raises(ConfigError, match="--force") as err:
        ingest(src, mine)
    assert "\n" not in str(err.value) and "mine" in str(err.value)
    assert (mine / "thesis.tex").read_text(encoding="utf-8") == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "src"]
    ingest(src, mine, force=True)
    assert not (mine / "thesis.tex").exists()
    assert (mine / OUTPUT_MARKER).is_file() and DataDir(mine).has_table("events")


def test_another_commands_output_is_not_an_ingest_output(tmp_path):
    src = copy_valid(tmp_path / "src")
    other = tmp_path / "raw"
    other.mkdir()
    (other / OUTPUT_MARKER).write_text('{"command": "synth"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="not an earlier output of ingest"):
        ingest(src, other)


def test_an_empty_folder_and_an_earlier_output_are_used_without_force(tmp_path):
    src = copy_valid(tmp_path / "src")
    empty = tmp_path / "empty"
    empty.mkdir()
    ingest(src, empty)
    assert DataDir(empty).has_table("events")
    ingest(src, empty)  # its own earlier output
    assert DataDir(empty).has_table("events")


def test_an_existing_file_is_never_replaced(tmp_path):
    src = copy_valid(tmp_path / "src")
    target = tmp_path / "notes.txt"
    target.write_text("keep", encoding="utf-8")
    for force in (False, True):
        with pytest.raises(ConfigError, match="not a folder"):
            ingest(src, target, force=force)
    assert target.read_text(encoding="utf-8") == "keep"


def test_a_killed_runs_temporary_folders_are_removed_and_never_promoted(tmp_path):
    src = copy_valid(tmp_path / "src")
    pid = _dead_pid()
    stale = [
        tmp_path / f".out.tmp-{pid}-0badc0de",
        tmp_path / f".out.work-{pid}-0badc0de",
        tmp_path / ".out.tmp-1234abcd",  # named as before runs carried their process id
    ]
    for folder in stale:
        (folder / "events").mkdir(parents=True)
        (folder / "events" / "part-00000.parquet").write_bytes(b"half written")
    unrelated = tmp_path / ".out.tmp-notes"  # not a name a run gives: left alone
    unrelated.mkdir()
    ingest(src, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.tmp-notes", "out", "src"]
    assert DataDir(tmp_path / "out").read_table("events").num_rows == 8


def test_a_live_runs_temporary_folder_is_left_alone(tmp_path):
    src = copy_valid(tmp_path / "src")
    live = tmp_path / f".out.tmp-{os.getpid()}-0badc0de"  # this very process
    live.mkdir()
    ingest(src, tmp_path / "out")
    assert live.is_dir()


def test_temporary_folders_in_the_source_are_not_listed(tmp_path):
    src = copy_valid(tmp_path / "src")
    (src / f".users.tmp-{_dead_pid()}-0badc0de").mkdir()
    report = ingest(src, tmp_path / "out")
    assert report.ignored == ()


def test_cli_never_replaces_a_folder_holding_the_mapping_file(tmp_path):
    src = copy_valid(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    mapping = out / "map.toml"
    mapping.write_text('[events]\ndefaults = { channel = "app" }\n', encoding="utf-8")
    result = CliRunner().invoke(
        app, ["ingest", str(src), "--out", str(out), "--map", str(mapping), "--force"]
    )
    assert "--map file" in cli_error(result)
    assert mapping.is_file()


def test_a_linked_output_folder_is_written_where_the_link_points(tmp_path):
    src = copy_valid(tmp_path / "src")
    (tmp_path / "disk").mkdir()
    target = tmp_path / "disk" / "processed"
    target.mkdir()
    link = tmp_path / "processed"
    link.symlink_to(target, target_is_directory=True)
    ingest(src, link)
    ingest(src, link)  # again: the link's target is an earlier output
    assert link.is_symlink() and DataDir(target).has_table("events")
    assert sorted(p.name for p in (tmp_path / "disk").iterdir()) == ["processed"]
