"""What a model bundle records about itself: provenance, sizes, timings, metrics, checksums.

`manifest.json` is written last into a bundle, so its presence marks a complete bundle, and its
per-file sha256 lets a reader prove that nothing was truncated or altered since.
"""

from __future__ import annotations

import hashlib
import platform
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from recsys.contract import TABLES
from recsys.datastore import DataDir
from recsys.errors import ContractError

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1

# Distribution names of the libraries whose versions change what a bundle holds.
_LIBRARIES = {
    "numpy": "numpy",
    "scipy": "scipy",
    "implicit": "implicit",
    "faiss": "faiss-cpu",
    "sklearn": "scikit-learn",
    "pandas": "pandas",
    "pyarrow": "pyarrow",
    "duckdb": "duckdb",
    "recsys": "recsys",
}
_CHUNK = 1 << 20


class FileEntry(BaseModel):
    """Size and content hash of one file in a bundle."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)


class Manifest(BaseModel):
    """Everything a bundle says about itself; `files` maps relative paths to checksums."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: int = FORMAT_VERSION
    version: str
    created_at: datetime
    parent_version: str | None = None
    data_fingerprint: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    library_versions: dict[str, str] = Field(default_factory=dict)
    row_counts: dict[str, int] = Field(default_factory=dict)
    step_timings: dict[str, float] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    files: dict[str, FileEntry] = Field(default_factory=dict)

    def metric(self, key: str) -> float | None:
        """A recorded metric by dotted key ("holdout.ndcg@10"); None if absent or not a number."""
        value = _lookup(self.metrics, key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)


def _lookup(node: Any, key: str) -> Any:
    """Follow a dotted key; a name that itself contains dots ("recall@0.5") is tried whole first."""
    if not isinstance(node, dict):
        return None
    if key in node:
        return node[key]
    for i, char in enumerate(key):
        if char == "." and key[:i] in node:
            found = _lookup(node[key[:i]], key[i + 1 :])
            if found is not None:
                return found
    return None


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested metrics dict under dotted keys."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def library_versions() -> dict[str, str]:
    """Versions of Python and of every library that shapes a bundle's content."""
    versions = {"python": platform.python_version()}
    for name, dist in _LIBRARIES.items():
        try:
            versions[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def file_entry(path: Path) -> FileEntry:
    """sha256 and size of a file, read in chunks (bundles hold arrays of gigabytes)."""
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return FileEntry(sha256=digest, bytes=path.stat().st_size)


def data_fingerprint(data_dir: str | Path) -> str:
    """sha256 over every contract table's Parquet parts: relative path, size and content.

    Tables in contract order, parts in sorted order, so the same data always gives the same
    fingerprint wherever the data directory lives.
    """
    data = DataDir(data_dir)
    digest = hashlib.sha256()
    n_parts = 0
    for spec in TABLES:
        for part in data.parts(spec.name):
            rel = part.relative_to(data.root).as_posix()
            digest.update(f"{rel}\0{part.stat().st_size}\0".encode())
            with part.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
            n_parts += 1
    if n_parts == 0:
        raise ContractError(f"{data.root}: no contract table found; nothing to fingerprint")
    return digest.hexdigest()
