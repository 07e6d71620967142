"""The back-test part: a fit of the shipped scorer on the events before a time cut, and who
bought what on each side of the cut.

Audience segments rank users with the served vectors; their back-tested reach ranks the same
way with these vectors, which never saw the period after the cut, and counts who then bought
the target. Data without event times (or without events on both sides of the cut) has no
back-test part; the segment answer then says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout, load_array, load_csr, save_array, save_csr
from recsys.errors import BundleError

_ARRAYS = ("user_vectors", "item_vectors", "item_users", "user_events", "recent_events")


@dataclass(frozen=True)
class Backtest:
    """The time-cut fit (over the bundle's users and the items known at training time).

    Attributes
    ----------
    cut_ts, end_ts : epoch microseconds; events with ``ts <= cut_ts`` were fitted, the period
        ``(cut_ts, end_ts]`` is held out.
    user_vectors : (n_users, f) float32 user factors of the pre-cut fit.
    item_vectors : (n_items, f) float32 item vectors of the pre-cut fit (content-mapped where
        under-observed, as the shipped scorer places them).
    item_users : (n_items,) int64 distinct pre-cut users per item.
    user_events : (n_users,) float32 pre-cut events per user (the most-active baseline).
    recent_events : (n_users,) float32 events in the `recent_days` before the cut (what the
        served side's `UserActivity.recent_events` is at its end).
    bought_before, bought_after : (n_users, n_items) 0/1 CSR of purchases on each side.
    """

    cut_ts: int
    end_ts: int
    user_vectors: np.ndarray
    item_vectors: np.ndarray
    item_users: np.ndarray
    user_events: np.ndarray
    recent_events: np.ndarray
    bought_before: sp.csr_matrix
    bought_after: sp.csr_matrix

    def __post_init__(self) -> None:
        n_users, n_items = len(self.user_vectors), len(self.item_vectors)
        shapes = {
            "item_users": (len(self.item_users), n_items),
            "user_events": (len(self.user_events), n_users),
            "recent_events": (len(self.recent_events), n_users),
            "bought_before": (self.bought_before.shape, (n_users, n_items)),
            "bought_after": (self.bought_after.shape, (n_users, n_items)),
        }
        wrong = {k: got for k, (got, want) in shapes.items() if got != want}
        if wrong:
            raise BundleError(
                f"back-test arrays disagree with its {n_users} users and {n_items} items: {wrong}"
            )

    @property
    def n_users(self) -> int:
        return int(len(self.user_vectors))

    @property
    def n_items(self) -> int:
        return int(len(self.item_vectors))

    @property
    def days(self) -> float:
        """Length of the held-out period."""
        return (self.end_ts - self.cut_ts) / (86_400 * 1_000_000)

    def save(self, root: str | Path) -> None:
        paths = BundleLayout(root)
        for name in _ARRAYS:
            save_array(paths.npy(layout.BACKTEST, name), np.asarray(getattr(self, name)))
        save_array(
            paths.npy(layout.BACKTEST, "span"), np.asarray([self.cut_ts, self.end_ts], np.int64)
        )
        save_csr(paths.path(layout.BACKTEST_BOUGHT_BEFORE), self.bought_before)
        save_csr(paths.path(layout.BACKTEST_BOUGHT_AFTER), self.bought_after)

    @classmethod
    def load_optional(cls, root: str | Path, *, mmap: bool = True) -> Backtest | None:
        """The part, or None for a bundle trained without one (data without times)."""
        paths = BundleLayout(root)
        if not paths.path(layout.BACKTEST).is_dir():
            return None
        span = load_array(paths.npy(layout.BACKTEST, "span"), mmap=False)
        arrays = {name: load_array(paths.npy(layout.BACKTEST, name), mmap=mmap) for name in _ARRAYS}
        return cls(
            cut_ts=int(span[0]),
            end_ts=int(span[1]),
            **arrays,
            bought_before=load_csr(paths.path(layout.BACKTEST_BOUGHT_BEFORE), mmap=mmap),
            bought_after=load_csr(paths.path(layout.BACKTEST_BOUGHT_AFTER), mmap=mmap),
        )
