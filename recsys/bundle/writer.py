"""Writing a bundle atomically: everything goes into a hidden temp folder, renamed at the end.

A reader therefore sees either no `models/<version>/` or a complete one with its signed
manifest; a failed run leaves nothing behind (the temp folder is removed on error), and the
temp folder of a killed run is removed by the next writer (`staging.py`).

    with BundleWriter(models_dir) as bundle:
        bundle.write_array("items/factors", item_factors)
        index.save(bundle.path("indexes/items"))
        with bundle.step("evaluate"):
            metrics = evaluate(...)
        path = bundle.commit(config=cfg, metrics=metrics, data_fingerprint=fp)
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from recsys.bundle.bundle import Bundle
from recsys.bundle.manifest import (
    FileEntry,
    Manifest,
    check_relpath,
    file_entry,
    inside,
    library_versions,
    write_manifest,
)
from recsys.bundle.signing import BundleKey, resolve_key
from recsys.bundle.staging import WriterClaim, remove_stale_temps, temp_dir
from recsys.errors import BundleError

logger = logging.getLogger(__name__)

_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
RESERVED = {"PROMOTED", "promotions.jsonl"}
#: Identical files at least this big share one inode in a committed bundle (`_link_duplicates`).
LINK_MIN_BYTES = 1 << 20


def new_version(now: datetime | None = None) -> str:
    """A version name that sorts by creation time and is unique: ``20261125T041200Z-1a2b3c``."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}"


def check_version(version: str) -> str:
    """Refuse names that could escape the models folder or clash with registry files."""
    if not _VERSION_RE.match(version) or version in RESERVED:
        raise BundleError(
            f"invalid bundle version {version!r}: use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return version


class BundleWriter:
    """Context manager that builds ``models_dir/<version>/`` in ``models_dir/.tmp-<version>``.

    With `parent`, the new bundle starts as a copy of that bundle's files and inherits its
    manifest fields (a catalogue refresh replaces only what changed).
    """

    def __init__(
        self, models_dir: str | Path, version: str | None = None, *, parent: Bundle | None = None
    ) -> None:
        self.models_dir = Path(models_dir)
        self.created_at = datetime.now(UTC)
        self.version = check_version(version or new_version(self.created_at))
        self.parent = parent
        self.final_dir = self.models_dir / self.version
        self.tmp_dir = temp_dir(self.models_dir, self.version)
        self.step_timings: dict[str, float] = {}
        self._committed = False
        self._claim = WriterClaim(self.tmp_dir)
        self._key: BundleKey | None = None

    def __enter__(self) -> Self:
        if self.final_dir.exists():
            raise BundleError(f"{self.final_dir}: bundle version already exists")
        # Before any work: a missing or bad key must not cost a whole training run.
        self._key = resolve_key(create=True)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.models_dir)
        self._claim.acquire()
        try:
            self.tmp_dir.mkdir()
            if self.parent is not None:
                for rel in self.parent.manifest.files:
                    dest = self.tmp_dir / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    # A copy, not a hard link: rewriting a file here must never alter the parent.
                    shutil.copyfile(inside(self.parent.root, rel), dest)
                logger.info("bundle %s starts from %s", self.version, self.parent.version)
        except BaseException:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            self._claim.release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            if exc_type is None:
                logger.warning("bundle %s left without commit(); discarded", self.version)
            else:
                logger.error("bundle %s discarded after %s", self.version, exc_type.__name__)
        self._claim.release()

    # -- content --------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The folder being written (hidden until commit); for code that saves a whole tree."""
        if self._committed or not self.tmp_dir.is_dir():
            raise BundleError(f"bundle {self.version} is not open for writing")
        return self.tmp_dir

    def path(self, relname: str) -> Path:
        """Where to write a file (or folder) of the bundle; parent folders are created."""
        if self._committed or not self.tmp_dir.is_dir():
            raise BundleError(f"bundle {self.version} is not open for writing")
        try:
            check_relpath(relname.rstrip("/"))
        except ValueError:
            raise BundleError(f"invalid bundle file name {relname!r}") from None
        target = self.tmp_dir / relname
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_array(self, name: str, array: np.ndarray) -> Path:
        """Save `array` as ``<name>.npy`` (memory-mappable on load; object arrays refused)."""
        if not name.endswith(".npy"):
            name += ".npy"
        array = np.asarray(array)
        if array.dtype.hasobject:
            raise BundleError(f"{name}: object arrays cannot be stored without pickle")
        target = self.path(name)
        np.save(target, array, allow_pickle=False)
        return target

    def write_json(self, name: str, obj: Any) -> Path:
        if not name.endswith(".json"):
            name += ".json"
        target = self.path(name)
        target.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str), encoding="utf-8")
        return target

    def remove(self, relname: str) -> None:
        """Drop a file or folder (e.g. one inherited from the parent that is now stale)."""
        target = self.path(relname)
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a pipeline step into the manifest's `step_timings` (seconds)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.step_timings[name] = round(time.perf_counter() - t0, 3)
            logger.info("step %s took %.1fs", name, self.step_timings[name])

    # -- commit ---------------------------------------------------------------------------

    def commit(
        self,
        *,
        config: dict[str, Any] | None = None,
        data_fingerprint: str | None = None,
        data_watermark: datetime | None = None,
        row_counts: dict[str, int] | None = None,
        step_timings: dict[str, float] | None = None,
        metrics: dict[str, Any] | None = None,
        engine: dict[str, Any] | None = None,
    ) -> Path:
        """Checksum every file, write the signed manifest.json last, rename into place.

        Returns the bundle's final path. Fields left None are inherited from the parent bundle
        when there is one.
        """
        if self._committed:
            raise BundleError(f"bundle {self.version} is already committed")
        inherited = self.parent.manifest if self.parent is not None else None
        files = {
            path.relative_to(self.tmp_dir).as_posix(): file_entry(path)
            for path in sorted(p for p in self.tmp_dir.rglob("*") if p.is_file())
        }
        linked = _link_duplicates(self.tmp_dir, files)
        for rel in files:
            _fsync(self.tmp_dir / rel)
        timings = dict(inherited.step_timings) if inherited and step_timings is None else {}
        timings.update(step_timings or {})
        timings.update(self.step_timings)
        manifest = Manifest(
            version=self.version,
            created_at=self.created_at,
            parent_version=self.parent.version if self.parent is not None else None,
            data_fingerprint=_pick(data_fingerprint, inherited, "data_fingerprint"),
            data_watermark=_pick(data_watermark, inherited, "data_watermark"),
            config=_pick(config, inherited, "config") or {},
            library_versions=library_versions(),
            row_counts=_pick(row_counts, inherited, "row_counts") or {},
            step_timings=timings,
            metrics=_pick(metrics, inherited, "metrics") or {},
            engine=_pick(engine, inherited, "engine") or {},
            files=files,
        )
        write_manifest(self.tmp_dir, manifest, self._key)
        _fsync(self.tmp_dir)
        if self.final_dir.exists():
            raise BundleError(f"{self.final_dir}: bundle version already exists")
        os.rename(self.tmp_dir, self.final_dir)
        _fsync(self.models_dir)
        self._committed = True
        total = sum(f.bytes for f in files.values())
        logger.info("wrote bundle %s: %d files, %.1f MB (%.1f MB of it hard links to identical "
                    "files)", self.final_dir, len(files), total / 1e6, linked / 1e6)
        return self.final_dir


def _link_duplicates(root: Path, files: dict[str, FileEntry]) -> int:
    """Hard-link byte-identical files of at least `LINK_MIN_BYTES` to one copy; returns the
    bytes saved.

    The ranked recommender's ALS source adopts the shipped scorer's fit (`metrics.ranked.
    adopted`): without links its factors (gigabytes at 10M users) sit on disk twice and, as
    each part memory-maps its own file, twice in the page cache. A committed bundle is never
    written again and a child bundle starts from copies (`__enter__`), so no write reaches
    through a link. A file system without hard links keeps the copies.
    """
    first: dict[tuple[str, int], Path] = {}
    saved = 0
    for rel, entry in files.items():
        if entry.bytes < LINK_MIN_BYTES:
            continue
        path, key = root / rel, (entry.sha256, entry.bytes)
        if key not in first:
            first[key] = path
            continue
        staged = path.with_name(path.name + ".link")
        try:
            os.link(first[key], staged)
        except OSError as exc:
            logger.info("identical files stay copies (no hard links here: %s)", exc)
            return saved
        os.replace(staged, path)
        saved += entry.bytes
    return saved


def _pick(value: Any, inherited: Manifest | None, field: str) -> Any:
    if value is not None or inherited is None:
        return value
    return getattr(inherited, field)


def _fsync(path: Path) -> None:
    """Flush a file or folder to disk, so a crash after the rename never exposes empty files."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
