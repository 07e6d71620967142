"""The id maps of a bundle: dense user and item indices <-> external ids."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout
from recsys.errors import BundleError
from recsys.idmap import IdMap


@dataclass(frozen=True)
class IdMaps:
    """Users and items the bundle knows; row i of every user (item) array is index i."""

    users: IdMap
    items: IdMap

    def save(self, root: str | Path) -> None:
        paths = BundleLayout(root)
        paths.path(layout.USERS).parent.mkdir(parents=True, exist_ok=True)
        self.users.save(paths.path(layout.USERS))
        self.items.save(paths.path(layout.ITEMS))

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> IdMaps:  # noqa: ARG003 - uniform
        paths = BundleLayout(root)
        return cls(users=_load(paths, layout.USERS), items=_load(paths, layout.ITEMS))

    @staticmethod
    def save_items(items: IdMap, root: str | Path) -> None:
        """Rewrite the item map alone (a refresh appends items; users stay the parent's)."""
        items.save(BundleLayout(root).path(layout.ITEMS))

    @staticmethod
    def load_items(root: str | Path) -> IdMap:
        """The item map alone (a refresh never needs the users')."""
        return _load(BundleLayout(root), layout.ITEMS)

    @staticmethod
    def user_ids(root: str | Path) -> pa.Array:
        """The user ids as one Arrow array, without building a 10M-entry index."""
        path = BundleLayout(root).path(layout.USERS)
        try:
            return pq.read_table(path).column(0).combine_chunks()
        except FileNotFoundError:
            raise BundleError(f"{path}: missing from the bundle") from None


def _load(paths: BundleLayout, name: str) -> IdMap:
    try:
        return IdMap.load(paths.path(name))
    except FileNotFoundError:
        raise BundleError(f"{paths.path(name)}: missing from the bundle") from None
