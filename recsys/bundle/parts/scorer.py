"""The scorer part: the shipped recommender, saved with its own `save` / `load`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout
from recsys.recommenders.shipped import ShippedRecommender


@dataclass(frozen=True)
class Scorer:
    """The one scorer a bundle serves (`recsys.recommenders.shipped`)."""

    model: ShippedRecommender

    def save(self, root: str | Path) -> None:
        self.model.save(BundleLayout(root).path(layout.SCORER))

    def save_item_side(self, root: str | Path) -> None:
        """Rewrite only the item arrays (a refresh: the user factors did not change)."""
        self.model.save(
            BundleLayout(root).path(layout.SCORER), only=("item_vectors_", "cold_items_")
        )

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> Scorer:
        return cls(ShippedRecommender.load(BundleLayout(root).path(layout.SCORER), mmap=mmap))
