"""Which bundles exist and which one serving reads: promote (guarded by metrics) and roll back.

The promoted version is one line in ``models_dir/PROMOTED``, replaced atomically (temp file +
os.replace), so a reader sees the old or the new version, never a torn write. Every switch is
appended to ``models_dir/promotions.jsonl``; rollback replays that history.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from recsys.bundle.bundle import Bundle, read_manifest
from recsys.bundle.manifest import MANIFEST_NAME, Manifest
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
        """Manifests of the complete bundles, oldest first (temp and partial folders skipped)."""
        if not self.models_dir.is_dir():
            return []
        manifests = []
        for folder in self.models_dir.iterdir():
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            if not (folder / MANIFEST_NAME).is_file():
                logger.warning("%s: no manifest, not a complete bundle; skipped", folder)
                continue
            try:
                manifests.append(read_manifest(folder))
            except BundleError as exc:
                logger.warning("skipped: %s", exc)
        return sorted(manifests, key=lambda m: (m.created_at, m.version))

    def manifest(self, version: str) -> Manifest:
        return read_manifest(self._folder(version))

    def bundle(self, version: str, *, verify: bool = True) -> Bundle:
        return Bundle.open(self._folder(version), verify=verify)

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
        reference: Manifest,
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        guarded_metrics: Sequence[str] = DEFAULT_GUARDED_METRICS,
    ) -> list[str]:
        """Why `candidate` is worse than `reference` on the guarded metrics ([] when it is not).

        A metric the reference lacks cannot regress; one the candidate lacks while the
        reference has it counts as a regression (its quality is unproven), except placement
        scores: they exist only against planted truth, so a bundle of real data (no truth)
        has none, and comparing them across data sets would not compare like with like.
        """
        problems = []
        for key in guarded_metrics:
            before = reference.metric(key)
            if before is None:
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
                    f"{key}: not recorded (promoted {reference.version} has {before:.4f})"
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

        Raises PromotionRefusedError naming each regressed metric (unless `force`), and
        BundleError when the bundle is missing, partial or corrupt (even with `force`).
        """
        with self._lock():
            candidate = self.bundle(version, verify=True).manifest
            current = self.promoted()
            if current == version:
                logger.info("%s is already promoted", version)
                return
            if current is not None and not force:
                try:
                    reference = self.manifest(current)
                except BundleError as exc:
                    logger.warning("promoted bundle unreadable, metrics not compared: %s", exc)
                else:
                    problems = self.regressions(
                        candidate, reference, tolerance=tolerance, guarded_metrics=guarded_metrics
                    )
                    if problems:
                        raise PromotionRefusedError(
                            f"promotion of {version} refused, metrics regress: "
                            + "; ".join(problems)
                            + " (use force to promote anyway)"
                        )
            self._switch(version, previous=current, action="promote", forced=force)

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
        """Promoted versions as a stack: promote pushes, rollback pops."""
        stack: list[str] = []
        for entry in self.history():
            version = str(entry["version"])
            if entry.get("action") == "rollback":
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
        entry = {
            "at": datetime.now(UTC).isoformat(),
            "action": action,
            "version": version,
            "previous": previous,
            "forced": forced,
        }
        with (self.models_dir / HISTORY).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
        logger.info("%s: %s -> %s", action, previous or "(none)", version)

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
