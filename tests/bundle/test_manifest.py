"""Data fingerprints are deterministic and content-sensitive; library versions are recorded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recsys.bundle import data_fingerprint, library_versions
from recsys.bundle.manifest import flatten_metrics
from recsys.errors import ContractError


def _data(root: Path) -> Path:
    for table, parts in {"items": [b"i0", b"i1"], "events": [b"e0"], "quarantine": [b"q"]}.items():
        (root / table).mkdir(parents=True)
        for n, content in enumerate(parts):
            (root / table / f"part-{n:05d}.parquet").write_bytes(content * 1000)
    return root


def test_fingerprint_is_stable_across_locations_and_tracks_content(tmp_path) -> None:
    a = _data(tmp_path / "a")
    fp = data_fingerprint(a)
    assert len(fp) == 64 and fp == data_fingerprint(a)
    b = tmp_path / "elsewhere" / "b"
    shutil.copytree(a, b)
    assert data_fingerprint(b) == fp
    # Non-contract folders (quarantine) do not count; contract parts do.
    (b / "quarantine" / "part-00000.parquet").write_bytes(b"changed")
    assert data_fingerprint(b) == fp
    (b / "events" / "part-00000.parquet").write_bytes(b"e0" * 999 + b"e1")
    assert data_fingerprint(b) != fp
    shutil.copytree(a, tmp_path / "c")
    (tmp_path / "c" / "items" / "part-00001.parquet").rename(
        tmp_path / "c" / "items" / "part-00002.parquet"
    )
    assert data_fingerprint(tmp_path / "c") != fp


def test_fingerprint_of_no_data_is_an_error(tmp_path) -> None:
    with pytest.raises(ContractError, match="no contract table"):
        data_fingerprint(tmp_path)


def test_library_versions_and_flat_metrics() -> None:
    versions = library_versions()
    for name in (
        "python",
        "numpy",
        "scipy",
        "implicit",
        "faiss",
        "sklearn",
        "pandas",
        "pyarrow",
        "duckdb",
    ):
        assert versions[name] and versions[name] != "not installed", name
    assert flatten_metrics({"a": {"b": 1, "c": {"d": 0.5}}, "e": True, "f": "x"}) == {
        "a.b": 1.0,
        "a.c.d": 0.5,
    }
