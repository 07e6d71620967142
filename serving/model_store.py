"""The model a worker serves, and the watcher that swaps it when PROMOTED changes.

One attribute holds the current `RuntimeModel`; a request reads it once at its start and keeps
that object, so a swap (one reference assignment) never changes a request half way: in-flight
requests finish on the old model and later ones get the new one. Loading and verifying a new
bundle happens in a background thread, off the request path. A bundle that fails to load
(corrupt, unsigned, incompatible, missing) is logged and counted, and the old model keeps serving.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from pathlib import Path

from recsys.bundle.registry import POINTER, ModelRegistry
from recsys.bundle.writer import check_version
from recsys.errors import BundleError
from recsys.runtime import RuntimeModel, RuntimePolicy
from serving.metrics import ServingMetrics

logger = logging.getLogger(__name__)

#: What identifies one state of the PROMOTED file without reading it.
_Stamp = tuple[int, int, int] | None


#: Polls after a swap before the old model's leftovers are collected again (requests still
#: answering on it at the swap are done by then).
_SETTLE_POLLS = 20


def _freeze_long_lived() -> None:
    """Move what the worker holds for good (imports, the model just loaded) out of the
    collector's sight, after collecting what the last swap left behind.

    A full collection walks every tracked object: in a loaded worker that takes 100-200 ms on
    this project's box, a pause that lands on whichever request triggers it (the feed's p99 at
    one connection). Frozen objects are never walked again (reference counting still frees
    them); each swap unfreezes, collects what the old model left in cycles (a request still
    answering on it keeps it until the next swap) and freezes the new state.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class ModelStore:
    """Holds the served model of one worker and follows `models_dir/PROMOTED`."""

    def __init__(
        self,
        models_dir: str | Path,
        *,
        policy: RuntimePolicy,
        metrics: ServingMetrics,
        poll_interval: float = 1.0,
    ) -> None:
        self.registry = ModelRegistry(models_dir)
        self.policy = policy
        self.metrics = metrics
        self.poll_interval = poll_interval
        self._current: RuntimeModel | None = None
        self._problem = "no bundle loaded yet"
        self._seen: _Stamp | object = object()  # matches no stamp: the first check reads
        self._load_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refreeze_at: float | None = None

    @property
    def current(self) -> RuntimeModel | None:
        """The model to answer with (None until a verified bundle is loaded)."""
        return self._current

    @property
    def problem(self) -> str:
        """Why no model is loaded (meaningful while `current` is None)."""
        return self._problem

    # -- following PROMOTED ------------------------------------------------------------------

    def refresh(self) -> bool:
        """Look at PROMOTED once; load, verify and swap in a newly named bundle.

        Returns True when a new model now serves. Cheap when nothing changed (one stat).
        """
        with self._load_lock:
            stamp = self._stamp()
            if stamp == self._seen:
                return False
            self._seen = stamp
            version = self.registry.promoted()
            current = self._current
            if version is None:
                if current is None:
                    self._problem = f"{self.registry.models_dir}: no bundle has been promoted"
                else:
                    logger.warning("%s is gone; still serving %s", POINTER, current.version)
                return False
            if current is not None and current.version == version:
                return False
            swapped, replaced = self._load(version, current), current is not None
            del current  # the old model's cycles are collected before the new state freezes
            if swapped:
                _freeze_long_lived()
                if replaced:
                    # Requests that were answering on the old model held it through that
                    # collection; once they are done, one more frees what it left in cycles
                    # (a full collection's pause, so only after a swap, never a first load).
                    self._refreeze_at = time.monotonic() + _SETTLE_POLLS * self.poll_interval
            return swapped

    def _load(self, version: str, current: RuntimeModel | None) -> bool:
        try:
            folder = self.registry.models_dir / check_version(version)
            model = RuntimeModel.load(folder, policy=self.policy)
        except Exception as exc:  # any failure to load is a refusal, never a crash
            if not isinstance(exc, BundleError):
                logger.exception("unexpected error loading bundle %s", version)
            self.metrics.swaps.labels(outcome="refused").inc()
            if current is None:
                self._problem = f"promoted bundle {version} refused: {exc}"
                logger.error("%s; not ready", self._problem)
            else:
                logger.error(
                    "promoted bundle %s refused, still serving %s: %s",
                    version,
                    current.version,
                    exc,
                )
            return False
        self._current = model  # the swap: one reference, read once per request
        self.metrics.swaps.labels(outcome="loaded").inc()
        self.metrics.serving(model.version, current.version if current else None)
        logger.info("serving %s (was %s)", model.version, current.version if current else "none")
        return True

    def _stamp(self) -> _Stamp:
        try:
            st = os.stat(self.registry.models_dir / POINTER)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    # -- the watcher thread ------------------------------------------------------------------

    def start(self) -> None:
        """Start polling PROMOTED every `poll_interval` seconds in a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._watch, name="recsys-model-watcher", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.refresh()
                self._settle()
            except Exception:  # the watcher must outlive any one bad look
                logger.exception("model watcher: check of %s failed", POINTER)

    def _settle(self) -> None:
        """The second collection after a swap, once in-flight requests are done."""
        with self._load_lock:
            if self._refreeze_at is not None and time.monotonic() >= self._refreeze_at:
                self._refreeze_at = None
                _freeze_long_lived()
