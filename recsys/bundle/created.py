"""What a job created, recorded as it runs, so cleaning removes exactly that and nothing else.

`recsys demo` writes sample data, reports and a promoted bundle next to whatever the user has
in the same folders. It records here the folders that did not exist before it ran (the
topmost missing one of each path it writes) and the bundles it committed; `remove_created`
deletes those and removes its bundles through the registry (so the promoted pointer and the
rollback history never name a deleted bundle).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from recsys.bundle.registry import HISTORY, POINTER, ModelRegistry
from recsys.errors import BundleError

logger = logging.getLogger(__name__)


class CreatedRecord(BaseModel):
    """Absolute paths a job created and the bundle versions it wrote into `models_dir`."""

    model_config = ConfigDict(extra="forbid")

    models_dir: str
    paths: list[str] = []
    bundles: list[str] = []


def _topmost_missing(path: Path, keep: Path) -> Path | None:
    """The highest missing ancestor of `path` (or itself): what writing it creates.

    Never an ancestor of `keep` (the record file), so removing it cannot remove the record's
    own folder.
    """
    path = path.resolve()
    if path.exists():
        return None
    keep = keep.resolve()
    top = path
    while not top.parent.exists() and top.parent not in keep.parents:
        top = top.parent
    return top if top not in keep.parents else None


class CreationLog:
    """The record of one job's outputs, saved after every change (a crash keeps what it knew)."""

    def __init__(self, record_file: Path, record: CreatedRecord) -> None:
        self.record_file = record_file
        self.record = record

    @classmethod
    def begin(cls, record_file: Path, models_dir: Path, paths: Sequence[Path]) -> CreationLog:
        """Start (or continue) a record; `paths` are what the job is about to write.

        Only paths missing now are recorded: a folder that exists before the job belongs to
        someone else (or to an earlier run, already in the record).
        """
        record = _load(record_file) or CreatedRecord(models_dir=str(models_dir.resolve()))
        if Path(record.models_dir) != models_dir.resolve():
            raise BundleError(
                f"{record_file}: records bundles of {record.models_dir}, not {models_dir.resolve()}"
            )
        for path in paths:
            top = _topmost_missing(path, record_file)
            if top is not None and str(top) not in record.paths:
                record.paths.append(str(top))
        log = cls(record_file, record)
        log.save()
        return log

    def bundle(self, version: str) -> None:
        """Record a bundle the job committed."""
        if version not in self.record.bundles:
            self.record.bundles.append(version)
            self.save()

    def save(self) -> None:
        self.record_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.record_file.with_name(self.record_file.name + ".tmp")
        tmp.write_text(self.record.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(self.record_file)


def _load(record_file: Path) -> CreatedRecord | None:
    if not record_file.is_file():
        return None
    try:
        return CreatedRecord.model_validate_json(record_file.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BundleError(
            f"{record_file}: not a record of created files ({first['loc']}: {first['msg']})"
        ) from None


def remove_created(record_file: Path) -> list[str]:
    """Remove what `record_file` lists and repair the registry; says what went.

    A recorded path that holds the record itself or the working directory is refused (a
    record edited by hand must not delete a project). The record goes last.
    """
    record = _load(record_file)
    if record is None:
        return []
    done = []
    registry = ModelRegistry(record.models_dir)
    for version in record.bundles:
        if (registry.models_dir / version).is_dir():
            registry.remove(version)
            done.append(f"bundle {version}")
    protected = {record_file.resolve(), Path.cwd().resolve()}
    for name in record.paths:
        path = Path(name)
        if not path.is_absolute() or any(p == path or path in p.parents for p in protected):
            raise BundleError(f"{record_file}: refusing to remove {name}: it holds the project")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            done.append(str(path))
        elif path.exists() or path.is_symlink():
            path.unlink()
            done.append(str(path))
    if _only_names(registry, set(record.bundles)):
        for name in (HISTORY, ".lock"):
            (registry.models_dir / name).unlink(missing_ok=True)
        done.append(f"{HISTORY} (it named only the removed bundles)")
    record_file.unlink()
    logger.info("removed %s", ", ".join(done) or "nothing")
    return done


def _only_names(registry: ModelRegistry, versions: set[str]) -> bool:
    """Whether the promotion history exists and concerns `versions` only (and none is live)."""
    path = registry.models_dir / HISTORY
    if not path.is_file() or (registry.models_dir / POINTER).exists():
        return False
    try:
        named = {str(e.get("version")) for e in registry.history()}
        named |= {str(e["previous"]) for e in registry.history() if e.get("previous")}
    except (BundleError, AttributeError, json.JSONDecodeError):
        return False
    return named <= versions
