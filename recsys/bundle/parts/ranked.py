"""The ranked part: the recommender the runtime serves to known users with history
(`recsys.recommenders.ranked`: candidate sources -> learned ranker), saved with its own
`save` / `load`.

Optional: a bundle trained with ``[ranked] enabled = false`` (or before this part existed in
its format) has none, and the shipped scorer serves those users (`recsys.runtime.policy`).
A catalogue refresh keeps the parent's copy, which knows only the items it was fitted on;
items a refresh appends come after them, so the runtime scores the prefix it knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout
from recsys.recommenders.ranked import RankedRecommender


@dataclass(frozen=True)
class RankedModel:
    """The fitted `RankedRecommender` a bundle serves to known users with history."""

    model: RankedRecommender

    @property
    def n_items(self) -> int:
        return int(self.model.n_items_)

    def save(self, root: str | Path) -> None:
        self.model.save(BundleLayout(root).path(layout.RANKED))

    @classmethod
    def load_optional(cls, root: str | Path, *, mmap: bool = True) -> RankedModel | None:
        """The part, or None for a bundle trained without one; `mmap` memory-maps its model
        sources' arrays read-only."""
        path = BundleLayout(root).path(layout.RANKED)
        if not path.is_dir():
            return None
        return cls(RankedRecommender.load(path, mmap=mmap))
