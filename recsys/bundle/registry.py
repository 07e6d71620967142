"""Which bundles exist and which one serving reads: promote (guarded by metrics) and roll back.

The promoted version is one line in ``models_dir/PROMOTED``, replaced atomically (temp file +
os.replace), so a reader sees the old or the new version, never a torn write. Every switch is
appended to ``models_dir/promotions.jsonl``; rollback replays that history. Removing a bundle
(`remove`) is recorded there too, and moves the pointer off it, so neither the pointer nor a
rollback ever names a deleted bundle.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from recsys.bundle.bundle import Bundle, read_manifest
from recsys.bundle.manifest import MANIFEST_NAME, Manifest
from recsys.bundle.signing import BundleKey, resolve_key
from recsys.bundle.writer import check_version
from recsys.errors import BundleError, PromotionRefusedError

logger = logging.getLogger(__name__)

POINTER = "PROMOTED"
HISTORY = "promotions.jsonl"
#: Metrics (dotted keys into the manifest metrics, higher is better) a promotion must not lose.
DEFAULT_GUARDED_METRICS: tuple[str, ...] = (
    "placement.model.subsets.all.macro_f1",
    "holdout.ndcg@10",
)
#: Metrics measured against a synthetic data set's planted truth (absent on real data).
_TRUTH_SCORED = "placement."
#: Largest allowed drop of a guarded metric, in the metric's own units (absolute).
DEFAULT_TOLERANCE = 0.02


class ModelRegistry:
    """The bundles in a models folder and the pointer serving follows."""

    def __init__(self, models_dir: str | Path) -> None:
        self.models_dir = Path(models_dir)

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.models_dir)!r})"

    # -- reading --------------------------------------------------------------------------

    def versions(self) -> list[Manifest]:
        """Manifests of the complete, signed bundles, oldest first.

        Temp folders (hidden, being written or left by a killed run) are never listed; partial,
        unsigned, mis-signed or other-format bundles are skipped with a warning.
        """
        if not self.models_dir.is_dir():
            return []
        folders = [
            f for f in self.models_dir.iterdir() if not f.name.startswith(".") and f.is_dir()
        ]
        key = resolve_key() if folders else None  # once, not once per bundle
        manifests = []
        for folder in folders:
            if not (folder / MANIFEST_NAME).is_file():
                logger.warning("%s: no manifest, not a complete bundle; skipped", folder)
                continue
            try:
                manifests.append(read_manifest(folder, key))
            except BundleError as exc:
                logger.warning("skipped: %s", exc)
        return sorted(manifests, key=lambda m: (m.created_at, m.version))

    def manifest(self, version: str) -> Manifest:
        return read_manifest(self._folder(version))

    def bundle(self, version: str, *, verify: bool = True, key: BundleKey | None = None) -> Bundle:
        return Bundle.open(self._folder(version), verify=verify, key=key)

    def promoted(self) -> str | None:
        """The version serving reads, or None when nothing was promoted yet."""
        try:
            version = (self.models_dir / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return version or None

    def current_bundle(self, *, verify: bool = True) -> Bundle:
        """The promoted bundle, opened (and by default verified) for serving."""
        version = self.promoted()
        if version is None:
            raise BundleError(f"{self.models_dir}: no bundle has been promoted")
        return self.bundle(version, verify=verify)

    def history(self) -> list[dict[str, object]]:
        """Every promotion and rollback, oldest first."""
        path = self.models_dir / HISTORY
        if not path.is_file():
            return []
        entries = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                raise BundleError(f"{path}, line {n}: not valid JSON") from None
        return entries

    # -- switching ------------------------------------------------------------------------

    def regressions(
        self,
        candidate: Manifest,
        reference: Manifest | None,
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        guarded_metrics: Sequence[str] = DEFAULT_GUARDED_METRICS,
    ) -> list[str]:
        """Why `candidate` may not replace `reference` on the guarded metrics ([] when it may).

        A guarded metric the candidate records as null, NaN, infinite or not a number is always
        a problem (NaN compares false to any threshold, so it would pass every check). One the
        candidate lacks while the reference has it is a problem too (its quality is unproven).
        A metric the reference lacks, or holds as no number, has nothing to be compared with.
        Placement scores exist only against planted truth: a bundle of real data has none, and
        they are compared only between bundles of the same data (like with like).
        """
        problems = []
        for key in guarded_metrics:
            why = _not_a_number(candidate, key)
            if why is not None and why != "not recorded":
                problems.append(
                    f"{key}: {why} in {candidate.version} (a guarded metric must be a finite "
                    "number)"
                )
                continue
            before = None if reference is None else reference.metric(key)
            if reference is None or before is None or not math.isfinite(before):
                if why is not None:
                    against = "" if reference is None else f" nor by promoted {reference.version}"
                    logger.warning(
                        "guarded metric %s is not recorded by %s%s: nothing guards it "
                        "(check the metric name)",
                        key,
                        candidate.version,
                        against,
                    )
                continue
            after = candidate.metric(key)
            if key.startswith(_TRUTH_SCORED) and (
                after is None or candidate.data_fingerprint != reference.data_fingerprint
            ):
                logger.info("%s not compared: placement is scored against planted truth only "
                            "and only on the same data", key)  # fmt: skip
                continue
            if after is None:
                problems.append(
                    f"{key}: not recorded in {candidate.version} (promoted {reference.version} "
                    f"has {before:.4f})"
                )
            elif before - after > tolerance:
                problems.append(
                    f"{key}: {after:.4f} vs {before:.4f} in {reference.version} "
                    f"(-{before - after:.4f}, tolerance {tolerance:g})"
                )
        return problems

    def promote(
        self,
        version: str,
        *,
        force: bool = False,
        tolerance: float = DEFAULT_TOLERANCE,
        guarded_metrics: Sequence[str] = DEFAULT_GUARDED_METRICS,
    ) -> None:
        """Point serving at `version` after verifying its files and guarding its metrics.

        Raises PromotionRefusedError naming each regressed, missing or non-finite guarded metric
        (unless `force`), and BundleError when the bundle is missing, partial, unsigned,
        mis-signed or corrupt (even with `force`). Comparing bundles trained on different data
        logs a warning: their metrics were measured on different sets.
        """
        with self._lock():
            candidate = self.bundle(version, verify=True).manifest
            current = self.promoted()
            if current == version:
                logger.info("%s is already promoted", version)
                return
            if not force:
                reference = None
                if current is not None:
                    try:
                        reference = self.manifest(current)
                    except BundleError as exc:
                        logger.warning("promoted bundle unreadable, metrics not compared: %s", exc)
                if reference is not None:
                    _warn_other_data(candidate, reference)
                problems = self.regressions(
                    candidate, reference, tolerance=tolerance, guarded_metrics=guarded_metrics
                )
                if problems:
                    raise PromotionRefusedError(
                        f"promotion of {version} refused: "
                        + "; ".join(problems)
                        + " (use --force, or force=True, to promote anyway)"
                    )
            self._switch(version, previous=current, action="promote", forced=force)

    def remove(self, version: str) -> str | None:
        """Delete bundle `version` and repair the pointer; returns the promoted version after.

        The removal is appended to the history first, so rollback never returns to it. When
        it was the promoted one, serving moves back to the latest earlier promoted bundle that
        still opens, or the pointer is removed when there is none.
        """
        with self._lock():
            folder = self._folder(version)
            if not folder.is_dir():
                raise BundleError(f"{folder}: no such bundle folder")
            current = self.promoted()
            self._append({"action": "remove", "version": version, "previous": current})
            shutil.rmtree(folder)
            logger.info("removed bundle %s", folder)
            if current != version:
                return current
            for target in reversed(self._stack()):
                try:
                    self.bundle(target, verify=True)
                except BundleError as exc:
                    logger.warning("not returning to %s: %s", target, exc)
                    continue
                self._switch(target, previous=current, action="rollback", forced=False)
                return target
            (self.models_dir / POINTER).unlink(missing_ok=True)
            logger.info("%s: nothing is promoted any more", self.models_dir)
            return None

    def rollback(self) -> str:
        """Re-point serving to the version promoted before the current one; returns it."""
        with self._lock():
            current = self.promoted()
            stack = self._stack()
            if current is not None and (not stack or stack[-1] != current):
                stack.append(current)
            if len(stack) < 2:
                raise BundleError(f"{self.models_dir}: no earlier promoted version to roll back to")
            target = stack[-2]
            self.bundle(target, verify=True)
            self._switch(target, previous=current, action="rollback", forced=False)
            return target

    def _stack(self) -> list[str]:
        """Promoted versions as a stack: promote pushes, rollback pops, remove deletes."""
        stack: list[str] = []
        for entry in self.history():
            version = str(entry["version"])
            if entry.get("action") == "remove":
                stack = [v for v in stack if v != version]
            elif entry.get("action") == "rollback":
                while stack and stack[-1] != version:
                    stack.pop()
                if not stack:
                    stack.append(version)
            elif not stack or stack[-1] != version:
                stack.append(version)
        return stack

    def _switch(self, version: str, *, previous: str | None, action: str, forced: bool) -> None:
        tmp = self.models_dir / f".{POINTER}.tmp-{os.getpid()}"
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(version + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.models_dir / POINTER)
        self._append({"action": action, "version": version, "previous": previous, "forced": forced})
        logger.info("%s: %s -> %s", action, previous or "(none)", version)

    def _append(self, entry: dict[str, object]) -> None:
        with (self.models_dir / HISTORY).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"at": datetime.now(UTC).isoformat(), **entry}) + "\n")

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """One switch at a time across processes (two concurrent promotes would race)."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        with (self.models_dir / ".lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _folder(self, version: str) -> Path:
        return self.models_dir / check_version(version)


def _not_a_number(manifest: Manifest, key: str) -> str | None:
    """Why the recorded `key` is not a finite number, or None when it is one."""
    value = manifest.metric(key)
    if value is None:
        return "null or not a number" if manifest.has_metric(key) else "not recorded"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return f"{value:g}"
    return None


def _warn_other_data(candidate: Manifest, reference: Manifest) -> None:
    """Metrics of bundles trained on different data are not comparable: say so.

    A refreshed child of the reference is exempt: it carries its parent's metrics unchanged.
    """
    a, b = candidate.data_fingerprint, reference.data_fingerprint
    if candidate.parent_version == reference.version:
        return
    if a is not None and b is not None and a != b:
        logger.warning(
            "%s was trained on other data than promoted %s (data_fingerprint %s... vs %s...): "
            "their metrics were measured on different data and are not comparable",
            candidate.version,
            reference.version,
            a[:12],
            b[:12],
        )
