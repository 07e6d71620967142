"""Popularity and cold-start candidate lists: what a feed falls back on and where long tail enters.

Computed once per training run from the interaction log and stored in the bundle as flat arrays:
item popularity, the head/tail split, three ranked lists per circle (popular, trending,
group-buy candidates) and the whole catalogue's popular and trending orders (the global chain
of `recsys.runtime.policy`). Per-circle lists are ragged: `offsets[c]:offsets[c + 1]` slices
`items`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout, load_array, save_array
from recsys.errors import BundleError
from recsys.item_stats import head_mask, users_per_item_of_pairs

_DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True)
class RaggedLists:
    """One ranked list of item indices per circle, stored flat (offsets + items + scores)."""

    offsets: np.ndarray  # (n_circles + 1,) int64
    items: np.ndarray  # (total,) int64
    scores: np.ndarray  # (total,) float32

    def get(self, circle: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.offsets[circle], self.offsets[circle + 1]
        return self.items[lo:hi], self.scores[lo:hi]

    @property
    def n_circles(self) -> int:
        return len(self.offsets) - 1


@dataclass(frozen=True)
class CandidateLists:
    item_popularity: np.ndarray  # (n_items,) float32, summed confidence weight
    item_users: np.ndarray  # (n_items,) int32, distinct users who interacted
    is_head: np.ndarray  # (n_items,) bool, the items making `head_share` of all interactions
    popular: RaggedLists
    trending: RaggedLists
    group_buy: RaggedLists
    #: (n_listed,) int64 every listed item, most popular first (ties: lower index first).
    popular_all: np.ndarray
    #: (n_listed,) int64 every listed item by the trending score of the per-circle lists.
    trending_all: np.ndarray

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "item_popularity": self.item_popularity,
            "item_users": self.item_users,
            "is_head": self.is_head,
            "popular_all": self.popular_all,
            "trending_all": self.trending_all,
        }
        for name in ("popular", "trending", "group_buy"):
            lists: RaggedLists = getattr(self, name)
            arrays[f"{name}_offsets"] = lists.offsets
            arrays[f"{name}_items"] = lists.items
            arrays[f"{name}_scores"] = lists.scores
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> CandidateLists:
        def ragged(name: str) -> RaggedLists:
            return RaggedLists(
                arrays[f"{name}_offsets"], arrays[f"{name}_items"], arrays[f"{name}_scores"]
            )

        return cls(
            item_popularity=arrays["item_popularity"],
            item_users=arrays["item_users"],
            is_head=arrays["is_head"],
            popular=ragged("popular"),
            trending=ragged("trending"),
            group_buy=ragged("group_buy"),
            popular_all=arrays["popular_all"],
            trending_all=arrays["trending_all"],
        )

    def save(self, root: str | Path) -> None:
        """One `.npy` per array under the bundle's lists folder."""
        paths = BundleLayout(root)
        for key, array in self.to_arrays().items():
            save_array(paths.npy(layout.LISTS, key), array)

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> CandidateLists:
        paths = BundleLayout(root)
        keys = ["item_popularity", "item_users", "is_head", "popular_all", "trending_all"]
        keys += [f"{n}_{p}" for n in ("popular", "trending", "group_buy")
                 for p in ("offsets", "items", "scores")]
        try:
            return cls.from_arrays({k: load_array(paths.npy(layout.LISTS, k), mmap=mmap)
                                    for k in keys})
        except KeyError as exc:
            raise BundleError(f"{paths.path(layout.LISTS)}: lacks list {exc}") from None


def rank_all(scores: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Eligible item indices by score, best first (ties: lower item index first)."""
    items = np.flatnonzero(eligible)
    return items[np.lexsort((items, -scores[items]))].astype(np.int64)


def rank_per_circle(
    item_circle: np.ndarray,
    scores: np.ndarray,
    eligible: np.ndarray,
    per_circle: int,
    n_circles: int,
) -> RaggedLists:
    """Top `per_circle` eligible items of each circle by score (ties: lower item index first)."""
    items = np.flatnonzero(eligible & (item_circle >= 0))
    circles = item_circle[items]
    order = np.lexsort((items, -scores[items], circles))
    items, circles = items[order], circles[order]
    counts = np.bincount(circles, minlength=n_circles)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_in_circle = np.arange(len(items)) - starts[circles]
    keep = rank_in_circle < per_circle
    items, circles = items[keep], circles[keep]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(circles, minlength=n_circles))])
    return RaggedLists(
        offsets.astype(np.int64), items.astype(np.int64), scores[items].astype(np.float32)
    )


def build_candidate_lists(
    log: pd.DataFrame,
    *,
    n_items: int,
    item_circle: np.ndarray,
    is_group_buy: np.ndarray,
    is_listed: np.ndarray,
    n_circles: int,
    head_share: float = 0.8,
    per_circle: int = 100,
    trending_days: float = 7.0,
    now_ts: int | None = None,
) -> CandidateLists:
    """Build the lists from the event-level interaction log.

    Parameters
    ----------
    log : DataFrame with user_idx, item_idx, ts (epoch us), weight, one row per event.
    item_circle : (n_items,) circle index of each item, -1 when it maps to none.
    is_group_buy, is_listed : (n_items,) bool.
    now_ts : the reference time for trending (default: the log's latest event).

    Trending compares an item's weight in the last `trending_days` with its expected share from
    the whole log (+1 smoothing), so that a small item that suddenly moves outranks a steady head
    item. Group-buy candidates rank listed group-buy items by that trending score too: they are
    mostly long tail, and recency is what makes a group buy worth joining.
    """
    item_idx = log["item_idx"].to_numpy()
    weight = log["weight"].to_numpy(dtype=np.float64)
    ts = log["ts"].to_numpy()
    popularity = np.bincount(item_idx, weights=weight, minlength=n_items)
    item_users = users_per_item_of_pairs(log["user_idx"].to_numpy(), item_idx, n_items)

    if len(ts):
        now = int(ts.max()) if now_ts is None else int(now_ts)
        start = int(ts.min())
        window = trending_days * _DAY_US
        recent = ts > now - window
        recent_weight = np.bincount(item_idx[recent], weights=weight[recent], minlength=n_items)
        span_share = min(1.0, window / max(now - start, 1))
        expected = popularity * span_share
        trending = (recent_weight + 1.0) / (expected + 1.0)
    else:
        trending = np.zeros(n_items)

    is_listed = np.asarray(is_listed, dtype=bool)
    trending_score = trending * np.log1p(popularity + 1.0)
    return CandidateLists(
        item_popularity=popularity.astype(np.float32),
        item_users=item_users.astype(np.int32),
        is_head=head_mask(popularity, head_share),
        popular=rank_per_circle(item_circle, popularity, is_listed, per_circle, n_circles),
        trending=rank_per_circle(item_circle, trending_score, is_listed, per_circle, n_circles),
        group_buy=rank_per_circle(
            item_circle, trending, is_listed & np.asarray(is_group_buy, bool), per_circle, n_circles
        ),
        popular_all=rank_all(popularity, is_listed),
        trending_all=rank_all(trending_score, is_listed),
    )
