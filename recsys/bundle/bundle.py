"""Reading a bundle safely: a signed manifest of this format, and every file matching it.

A bundle holds only `.npy` arrays (loaded with allow_pickle=False), JSON, Parquet id maps and
faiss index files, so opening one never runs code from it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from recsys.bundle.manifest import MANIFEST_NAME, Manifest, file_entry, inside, parse_manifest
from recsys.bundle.signing import BundleKey
from recsys.errors import BundleError

logger = logging.getLogger(__name__)

# Problems listed in one error message; the rest are counted.
_MAX_LISTED = 10


class Bundle:
    """A complete, verified model bundle (`models/<version>/`)."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest

    def __repr__(self) -> str:
        return f"Bundle({str(self.root)!r})"

    @property
    def version(self) -> str:
        return self.manifest.version

    @classmethod
    def open(cls, path: str | Path, *, verify: bool = True, key: BundleKey | None = None) -> Bundle:
        """Open a bundle; with `verify`, also check every listed file's size and sha256.

        The manifest's format version and signature are always checked (it is one small file).
        Raises BundleError naming the file and the problem: no folder, no manifest (a partial
        bundle), another format version, unsigned or mis-signed manifest, unreadable manifest,
        missing / resized / altered files, files not in the manifest.
        """
        root = Path(path)
        manifest = read_manifest(root, key)
        bundle = cls(root, manifest)
        if verify:
            bundle.verify()
        return bundle

    def verify(self) -> None:
        """Check every file against the manifest (sha256 reads every byte: seconds per GB)."""
        problems = []
        for rel, expected in self.manifest.files.items():
            path = inside(self.root, rel)
            if not path.is_file():
                problems.append(f"{rel}: missing")
                continue
            size = path.stat().st_size
            if size != expected.bytes:
                problems.append(f"{rel}: {size} bytes, manifest says {expected.bytes}")
                continue
            try:
                digest = file_entry(path).sha256
            except OSError as exc:
                problems.append(f"{rel}: unreadable ({exc.strerror})")
                continue
            if digest != expected.sha256:
                problems.append(f"{rel}: sha256 differs from the manifest (corrupt or altered)")
        listed = set(self.manifest.files) | {MANIFEST_NAME}
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            rel = path.relative_to(self.root).as_posix()
            if rel not in listed:
                problems.append(f"{rel}: not listed in the manifest")
        if problems:
            shown = "; ".join(problems[:_MAX_LISTED])
            more = (
                f" (and {len(problems) - _MAX_LISTED} more)" if len(problems) > _MAX_LISTED else ""
            )
            raise BundleError(f"bundle {self.root} is corrupt: {shown}{more}")
        logger.debug("verified bundle %s (%d files)", self.root, len(self.manifest.files))

    # -- content --------------------------------------------------------------------------

    def path(self, name: str) -> Path:
        """Path of a file or folder of the bundle (for faiss indexes, id maps, recommenders)."""
        target = inside(self.root, name.rstrip("/"))
        if not target.exists():
            raise BundleError(f"bundle {self.version} has no {name!r}")
        return target

    def array(self, name: str, *, mmap: bool = True) -> np.ndarray:
        """A stored array; memory-mapped read-only by default (pages load on use, shared)."""
        if not name.endswith(".npy"):
            name += ".npy"
        path = self.path(name)
        try:
            return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except ValueError as exc:
            raise BundleError(f"{path}: not a plain .npy array: {exc}") from None

    def json(self, name: str) -> Any:
        if not name.endswith(".json"):
            name += ".json"
        path = self.path(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BundleError(f"{path}: not valid JSON: {exc}") from None


def read_manifest(root: Path, key: BundleKey | None = None) -> Manifest:
    """The signed manifest of the bundle at `root`, without checking the other files."""
    if not root.is_dir():
        raise BundleError(f"{root}: no such bundle folder")
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise BundleError(f"{root}: no {MANIFEST_NAME}; partial or unfinished bundle")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"{path}: cannot read the manifest: {exc.strerror}") from None
    manifest = parse_manifest(data, str(path), key)
    if manifest.version != root.name:
        raise BundleError(
            f"{path}: records version {manifest.version!r} but lives in folder {root.name!r}"
        )
    return manifest
