"""The vector index part: faiss indexes over item vectors and user factors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout
from recsys.index.vector_index import VectorIndex


@dataclass(frozen=True)
class Indexes:
    """Item index (user -> items, item -> items) and user index (item -> audience)."""

    items: VectorIndex
    users: VectorIndex

    def save(self, root: str | Path) -> None:
        paths = BundleLayout(root)
        self.items.save(paths.path(layout.ITEM_INDEX))
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
        return cls(
            items=VectorIndex.load(paths.path(layout.ITEM_INDEX), mmap=mmap),
            users=VectorIndex.load(paths.path(layout.USER_INDEX), mmap=mmap),
        )
