"""The vector index part: faiss indexes over item vectors and user factors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout
from recsys.index.vector_index import VectorIndex


@dataclass(frozen=True)
class Indexes:
    """Item index (user -> items, item -> items); optional user index (item -> audience).

    Training no longer builds the user index: nothing at runtime searches user vectors through
    it (segments score all users in one exact pass), and a deterministic HNSW over 1M users cost
    285 s, 5x the ALS fit (bench/results/train_cost.md). Bundles that hold one still load.
    """

    items: VectorIndex
    users: VectorIndex | None = None

    def save(self, root: str | Path) -> None:
        paths = BundleLayout(root)
        self.items.save(paths.path(layout.ITEM_INDEX))
        if self.users is not None:
            self.users.save(paths.path(layout.USER_INDEX))

    @staticmethod
    def save_items(index: VectorIndex, root: str | Path) -> None:
        """Write the item index alone (a refresh adds items; users stay the parent's)."""
        index.save(BundleLayout(root).path(layout.ITEM_INDEX))

    @staticmethod
    def load_items(root: str | Path, *, mmap: bool = False) -> VectorIndex:
        return VectorIndex.load(BundleLayout(root).path(layout.ITEM_INDEX), mmap=mmap)

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> Indexes:
        paths = BundleLayout(root)
        users = paths.path(layout.USER_INDEX)
        return cls(
            items=VectorIndex.load(paths.path(layout.ITEM_INDEX), mmap=mmap),
            users=VectorIndex.load(users, mmap=mmap) if users.exists() else None,
        )
