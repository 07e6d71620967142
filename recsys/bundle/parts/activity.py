"""The user activity part: when each user last did anything ("active in the last N days"),
and how much they did lately (segments weigh it: who is active now buys soon).

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
US_PER_DAY = 86_400 * 1_000_000


def recent_events(
    users: np.ndarray, ts: np.ndarray, n_users: int, until_ts: int, days: float
) -> np.ndarray:
    """(n_users,) float32 events per user in the `days` days up to `until_ts` (inclusive)."""
    users, ts = np.asarray(users, np.int64), np.asarray(ts, np.int64)
    inside = (ts <= until_ts) & (ts > until_ts - int(round(days * US_PER_DAY)))
    return np.bincount(users[inside], minlength=n_users).astype(np.float32)


@dataclass(frozen=True)
class UserActivity:
    """Attributes
    ----------
    last_active_ts : (n_users,) int64 epoch microseconds of the user's newest event; `NEVER`
        for users without events.
    start_ts, end_ts : the oldest and newest event of the log (epoch microseconds).
    recent_events : (n_users,) float32 events in the last `recent_days` days up to `end_ts`.
    recent_days : that window.
    """

    last_active_ts: np.ndarray
    start_ts: int
    end_ts: int
    recent_events: np.ndarray
    recent_days: float

    def __len__(self) -> int:
        return len(self.last_active_ts)

    @classmethod
    def from_log(cls, log: pd.DataFrame, n_users: int, recent_days: float = 30.0) -> UserActivity:
        """From an interaction log (`recsys.features.interactions`): newest ts per user and
        events in the last `recent_days` days."""
        users = log["user_idx"].to_numpy(np.int64)
        ts = log["ts"].to_numpy(np.int64)
        last = np.full(n_users, NEVER, dtype=np.int64)
        np.maximum.at(last, users, ts)
        start, end = (int(ts.min()), int(ts.max())) if len(ts) else (0, 0)
        recent = recent_events(users, ts, n_users, end, recent_days)
        return cls(last, start, end, recent, float(recent_days))

    def active_since(self, days: float) -> np.ndarray:
        """(n_users,) bool: an event within `days` days before the log's newest event."""
        since = self.end_ts - int(round(days * US_PER_DAY))
        return np.asarray(self.last_active_ts) >= since

    def save(self, root: str | Path) -> None:
        paths = BundleLayout(root)
        save_array(paths.path(layout.ACTIVITY_LAST_ACTIVE), self.last_active_ts.astype(np.int64))
        save_array(paths.path(layout.ACTIVITY_RECENT), self.recent_events.astype(np.float32))
        span = [self.start_ts, self.end_ts, int(round(self.recent_days * US_PER_DAY))]
        save_array(paths.path(layout.ACTIVITY_SPAN), np.asarray(span, np.int64))

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> UserActivity:
        paths = BundleLayout(root)
        span = load_array(paths.path(layout.ACTIVITY_SPAN), mmap=False)
        if span.shape != (3,):
            raise BundleError(f"{paths.path(layout.ACTIVITY_SPAN)}: expected 3 values")
        return cls(
            last_active_ts=load_array(paths.path(layout.ACTIVITY_LAST_ACTIVE), mmap=mmap),
            start_ts=int(span[0]),
            end_ts=int(span[1]),
            recent_events=load_array(paths.path(layout.ACTIVITY_RECENT), mmap=mmap),
            recent_days=float(span[2]) / US_PER_DAY,
        )
