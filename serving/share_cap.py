"""Past suggestions of friends to a user, for the share-target frequency cap.

The impression log (`recsys.events.impressions`) is written by a background thread, so an
answer given a moment ago may not be in it yet; a cap read from the log alone could let the
next request show the same friend again. This worker therefore remembers its own answers for
`pending_s` seconds and counts them beside the log's rows, each shown friend once (an answer
is identified by its request id, friend and time, so one already written is not counted
twice). Other workers' answers count once written (milliseconds).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict

from recsys.events.impressions import EntityKind, ImpressionLog, Shown, shown_since


class SuggestionCounts:
    """Friends suggested to each viewer within a window: the log plus this worker's answers."""

    def __init__(self, log: ImpressionLog, *, pending_s: float = 300.0) -> None:
        self.log = log
        self.pending_us = int(pending_s * 1_000_000)
        self._pending: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._recorded = 0

    def record(self, shown: Shown) -> None:
        """Log an answer (`shown.ts_us` set by the caller) and remember it until written."""
        self.log.record(shown)
        rows = [(shown.request_id, str(e), shown.ts_us) for e in shown.entity_ids]
        with self._lock:
            self._pending[shown.viewer_id].extend(rows)
            self._recorded += 1
            if self._recorded % 1000 == 0:  # viewers who never ask again are swept too
                horizon = time.time_ns() // 1000 - self.pending_us
                for viewer in list(self._pending):
                    self._pending[viewer] = [r for r in self._pending[viewer] if r[2] > horizon]
                    if not self._pending[viewer]:
                        del self._pending[viewer]

    def counts(self, viewer_id: str, since_us: int) -> dict[str, int]:
        """Friend id -> times suggested to `viewer_id` after `since_us`."""
        seen = set(shown_since(self.log.path, viewer_id, EntityKind.FRIEND, since_us))
        horizon = time.time_ns() // 1000 - self.pending_us
        with self._lock:
            kept = [r for r in self._pending.get(viewer_id, []) if r[2] > horizon]
            if kept:
                self._pending[viewer_id] = kept
            else:
                self._pending.pop(viewer_id, None)
        seen |= {r for r in kept if r[2] > since_us}
        return dict(Counter(entity for _, entity, _ in seen))
