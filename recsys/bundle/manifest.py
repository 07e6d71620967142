"""What a model bundle records about itself: provenance, sizes, timings, metrics, checksums.

`manifest.json` is written last into a bundle, so its presence marks a complete bundle, and its
per-file sha256 lets a reader prove that nothing was truncated or altered since. The manifest is
signed (`signing.py`), so those checksums cannot be recomputed by whoever edits the bundle;
`write_manifest` and `parse_manifest` are the only places that write and read its bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from recsys.bundle.signing import SIGNATURE_FIELD, BundleKey, check_signature, resolve_key
from recsys.contract import TABLES
from recsys.datastore import DataDir
from recsys.errors import BundleError, BundleFormatError, ContractError

MANIFEST_NAME = "manifest.json"
#: 7: the circle feed's posts part (each post's circle, author, time, engagement; who saw what;
#: author affinity; the circle ranker);
#: 6: the share-targeting part (`share/`: ranker, completion model, counts, affinities);
#: 5: user activity and the back-test part (audience segments); 4: a groups part (post and
#: group id maps, each group's facts) and the data watermark;
#: 3: the runtime model's typed parts, named by `recsys.bundle.layout`; 2: the manifest is
#: signed (HMAC-SHA256). Other versions are not read (retrain).
FORMAT_VERSION = 7

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
    #: The newest event time of the training data (UTC): events at or before it are already
    #: in the model, so fold-in (`recsys.runtime`) counts only later ones. A refresh keeps
    #: its parent's (the user side is not refitted).
    data_watermark: datetime | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    library_versions: dict[str, str] = Field(default_factory=dict)
    row_counts: dict[str, int] = Field(default_factory=dict)
    step_timings: dict[str, float] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    #: Where training ran: {"name": "local"} or, for Spark, which parts ran on the cluster and
    #: which on the driver (and on what sample); empty in bundles written before the field.
    engine: dict[str, Any] = Field(default_factory=dict)
    files: dict[str, FileEntry] = Field(default_factory=dict)

    @field_validator("format_version")
    @classmethod
    def _known_format(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise ValueError(f"format version {value}, expected {FORMAT_VERSION}")
        return value

    @field_validator("files")
    @classmethod
    def _relative_paths(cls, files: dict[str, FileEntry]) -> dict[str, FileEntry]:
        for name in files:
            check_relpath(name)
        return files

    def metric(self, key: str) -> float | None:
        """A recorded metric by dotted key ("holdout.ndcg@10"); None if absent or not a number."""
        value = _lookup(self.metrics, key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    def has_metric(self, key: str) -> bool:
        """Whether `key` is recorded at all (a NaN is written as null: recorded, not a number)."""
        return _lookup(self.metrics, key) is not _MISSING


_MISSING = object()


def check_relpath(name: str) -> str:
    """Refuse a bundle file name that could point outside the bundle folder.

    A name is a relative POSIX path of plain parts: no leading '/', no '.', '..' or empty
    part, no backslash or NUL, and never the manifest itself. Raises ValueError (pydantic turns
    it into a validation error; callers outside a model wrap it in BundleError).
    """
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\0" in name
        or any(part in ("", ".", "..") for part in parts)
        or name == MANIFEST_NAME
    ):
        raise ValueError(
            f"bundle file name {name!r} is not a plain relative path inside the bundle folder"
        )
    return name


def inside(root: Path, name: str) -> Path:
    """`root / name`, refused when the name or a symlink on the way leads outside `root`."""
    try:
        check_relpath(name)
    except ValueError as exc:
        raise BundleError(f"{root}: {exc}") from None
    target = root / name
    if not target.resolve().is_relative_to(root.resolve()):
        raise BundleError(f"{root}: {name!r} resolves outside the bundle folder (a symlink)")
    return target


def write_manifest(root: Path, manifest: Manifest, key: BundleKey | None = None) -> Path:
    """Sign `manifest` and write it as ``root/manifest.json`` atomically (temp + replace).

    The one place a manifest is written: the writer's commit and evaluation's
    `record_in_bundle` both come here, so every manifest on disk is signed the same way.
    """
    key = key or resolve_key(create=True)
    # Sign what a reader will parse: the JSON text pydantic writes (NaN becomes null there).
    body = json.loads(manifest.model_dump_json())
    signed = {**body, SIGNATURE_FIELD: key.sign(body)}
    path = root / MANIFEST_NAME
    tmp = root / f".{MANIFEST_NAME}.tmp-{os.getpid()}"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(signed, indent=2, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def parse_manifest(data: bytes, where: str, key: BundleKey | None = None) -> Manifest:
    """Check a manifest's format version and signature, then validate its fields.

    The format version is checked first, so a bundle of another format is named as such rather
    than as unsigned or invalid. Every error is one line naming `where`.
    """
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{where}: manifest is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise BundleError(f"{where}: manifest is not a JSON object")
    found = raw.get("format_version")
    if found != FORMAT_VERSION:
        raise BundleFormatError(
            f"{where}: bundle format version {found}, this recsys reads format version "
            f"{FORMAT_VERSION} only (retrain the bundle)"
        )
    check_signature(raw, where, key)
    body = {k: v for k, v in raw.items() if k != SIGNATURE_FIELD}
    try:
        return Manifest.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'manifest'}: {_reason(err)}"
            for err in exc.errors()
        )
        raise BundleError(f"{where}: invalid manifest: {problems}") from None


def _reason(error: Any) -> str:
    """A validation error's message, without pydantic's "Value error, " prefix on our own."""
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    return str(error["msg"])


def _lookup(node: Any, key: str) -> Any:
    """Follow a dotted key; a name that itself contains dots ("recall@0.5") is tried whole first.

    Returns `_MISSING` when nothing is recorded under the key (a recorded null is None).
    """
    if not isinstance(node, dict):
        return _MISSING
    if key in node:
        return node[key]
    for i, char in enumerate(key):
        if char == "." and key[:i] in node:
            found = _lookup(node[key[:i]], key[i + 1 :])
            if found is not _MISSING:
                return found
    return _MISSING


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
