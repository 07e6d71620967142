"""`recsys import --out` follows ingest's rules, checked before the adapter runs: never the raw
data set's folder or a folder around it, an unrelated folder only with --force."""

from __future__ import annotations

import pytest

from pipelines.import_job import run_import
from recsys.errors import ConfigError


def test_an_unrelated_out_folder_is_refused_before_the_adapter_runs(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()  # no data set files: the adapter would fail if it ran
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match="--force"):
        run_import("movielens-100k", raw, mine)
    assert (mine / "notes.md").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "raw"]


@pytest.mark.parametrize("where", ["raw", "parent", "inside"])
def test_out_never_equals_contains_or_lies_in_the_raw_folder(tmp_path, where):
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    (raw / "u.data").write_text("1\t1\t5\t881250949\n", encoding="utf-8")
    out = {"raw": raw, "parent": raw.parent, "inside": raw / "out"}[where]
    with pytest.raises(ConfigError, match="raw data set folder"):
        run_import("movielens-100k", raw, out, force=True)
    assert (raw / "u.data").read_text(encoding="utf-8") == "1\t1\t5\t881250949\n"
