"""The user activity part: when each user last did anything, for "active in the last N days".

Times come from the interaction log training used; "now" for a filter is the newest event of
that log (`end_ts`), never the wall clock, so one bundle answers the same filter the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout, load_array, save_array
from recsys.errors import BundleError

#: `last_active_ts` of a user without any event.
NEVER = np.iinfo(np.int64).min


@dataclass(frozen=True)
class UserActivity:
    """Attributes
    ----------
    last_active_ts : (n_users,) int64 epoch microseconds of the user's newest event; `NEVER`
        for users without events.
    start_ts, end_ts : the oldest and newest event of the log (epoch microseconds).
    """

    last_active_ts: np.ndarray
    start_ts: int
    end_ts: int

    def __len__(self) -> int:
        return len(self.last_active_ts)

    @classmethod
    def from_log(cls, log: pd.DataFrame, n_users: int) -> UserActivity:
        """From an interaction log (`recsys.features.interactions`): newest ts per user."""
        users = log["user_idx"].to_numpy(np.int64)
        ts = log["ts"].to_numpy(np.int64)
        last = np.full(n_users, NEVER, dtype=np.int64)
        np.maximum.at(last, users, ts)
        start, end = (int(ts.min()), int(ts.max())) if len(ts) else (0, 0)
        return cls(last_active_ts=last, start_ts=start, end_ts=end)

    def active_since(self, days: float) -> np.ndarray:
        """(n_users,) bool: an event within `days` days before the log's newest event."""
        since = self.end_ts - int(round(days * 86_400 * 1_000_000))
        return np.asarray(self.last_active_ts) >= since

    def save(self, root: str | Path) -> None:
        paths = BundleLayout(root)
        save_array(paths.path(layout.ACTIVITY_LAST_ACTIVE), self.last_active_ts.astype(np.int64))
        save_array(
            paths.path(layout.ACTIVITY_SPAN), np.asarray([self.start_ts, self.end_ts], np.int64)
        )

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> UserActivity:
        paths = BundleLayout(root)
        span = load_array(paths.path(layout.ACTIVITY_SPAN), mmap=False)
        if span.shape != (2,):
            raise BundleError(f"{paths.path(layout.ACTIVITY_SPAN)}: expected 2 values")
        return cls(
            last_active_ts=load_array(paths.path(layout.ACTIVITY_LAST_ACTIVE), mmap=mmap),
            start_ts=int(span[0]),
            end_ts=int(span[1]),
        )
