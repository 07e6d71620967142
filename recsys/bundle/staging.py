"""Temporary bundle folders: who is writing one, and removing those whose writer is gone.

A bundle is built in ``models/.tmp-<version>/``. Beside it the writer holds
``models/.tmp-<version>.writer`` open with an exclusive lock (and its pid, host and start time
inside, for messages). The kernel drops the lock when the process ends however it ends, so a
temp folder whose claim can be locked by someone else, or that has no claim, belongs to a
killed run: the next writer removes it. A live writer's folder is never touched.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from recsys.errors import BundleError

logger = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"
CLAIM_SUFFIX = ".writer"


def temp_dir(models_dir: Path, version: str) -> Path:
    return models_dir / f"{TEMP_PREFIX}{version}"


def _claim_path(tmp: Path) -> Path:
    return tmp.with_name(tmp.name + CLAIM_SUFFIX)


class WriterClaim:
    """The locked claim file of one temp folder, held from before its creation to its end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.path = _claim_path(tmp)
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        """Publish a locked claim; BundleError when another writer claims the same folder.

        The claim is written and locked under a private name, then hard-linked into place
        (which fails if the name exists), so no one ever sees an unlocked claim.
        """
        private = self.path.with_name(f"{self.path.name}.{os.getpid()}")
        fh = private.open("w", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": datetime.now(UTC).isoformat(),
            }
            fh.write(json.dumps(info) + "\n")
            fh.flush()
            try:
                os.link(private, self.path)
            except FileExistsError:
                raise BundleError(
                    f"{self.tmp}: another writer is building this version ({_describe(self.path)})"
                ) from None
        except BaseException:
            fh.close()
            raise
        finally:
            private.unlink(missing_ok=True)
        self._fh = fh

    def release(self) -> None:
        """Drop the claim (after the temp folder was renamed or removed)."""
        if self._fh is None:
            return
        self.path.unlink(missing_ok=True)
        self._fh.close()
        self._fh = None


def remove_stale_temps(models_dir: Path) -> list[Path]:
    """Remove the temp bundle folders of writers that are gone; returns what was removed.

    Also drops leftover claim files without a folder (a writer killed between claiming and
    creating it). Anything still locked by a live writer is left alone.
    """
    if not models_dir.is_dir():
        return []
    removed = []
    for entry in sorted(models_dir.glob(f"{TEMP_PREFIX}*")):
        if entry.is_symlink():
            continue
        if entry.is_dir():
            claim = _claim_path(entry)
            if not claim.exists():
                # A folder from before claims existed, or its writer died mid-release.
                _remove(entry, claim, "no writer claim")
                removed.append(entry)
            elif _unlocked(claim):
                _remove(entry, claim, f"writer gone: {_describe(claim)}")
                removed.append(entry)
        elif CLAIM_SUFFIX in entry.name:
            folder = models_dir / entry.name.split(CLAIM_SUFFIX)[0]
            if not folder.is_dir() and _unlocked(entry):
                entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


def _unlocked(claim: Path) -> bool:
    """True when no live process holds `claim`'s lock (its writer is gone)."""
    try:
        with claim.open("r", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
    except BlockingIOError:
        return False
    except FileNotFoundError:
        return False  # released meanwhile: its writer just finished


def _remove(tmp: Path, claim: Path, why: str) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
    claim.unlink(missing_ok=True)
    logger.warning("removed stale temporary bundle folder %s (%s)", tmp, why)


def _describe(claim: Path) -> str:
    """ "pid 123 on host h since t" from a claim file, for messages."""
    try:
        info = json.loads(claim.read_text(encoding="utf-8"))
        return f"pid {info['pid']} on host {info['host']} since {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "writer unknown"
