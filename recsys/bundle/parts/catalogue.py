"""The item catalogue part: per-item facts the runtime filters and explains with.

Numbers are `.npy` arrays in item-index order (memory-mapped); strings (title, category, brand,
merchant) are one Arrow IPC table, memory-mapped too, so serving workers share the pages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout, load_array, load_table, save_array, save_table
from recsys.circles import CircleCatalogue
from recsys.contract import ItemStatus
from recsys.datastore import DataDir
from recsys.errors import BundleError
from recsys.idmap import IdMap

logger = logging.getLogger(__name__)

#: Numeric fields stored as arrays, with their dtype.
ARRAYS: dict[str, type] = {
    "listed": np.bool_,
    "circle_idx": np.int32,
    "is_group_buy": np.bool_,
    "price": np.float64,
    "created_ts": np.int64,
}
#: String fields stored in the Arrow table.
TEXT: tuple[str, ...] = ("title", "category", "brand", "merchant_id")


@dataclass(frozen=True)
class ItemCatalogue:
    """Facts about every item of the bundle, row i = item index i.

    Attributes
    ----------
    listed : (n_items,) bool; delisted items are never recommended.
    circle_idx : (n_items,) int32 circle whose categories include the item's; -1 for none.
    is_group_buy : (n_items,) bool.
    price : (n_items,) float64.
    created_ts : (n_items,) int64 epoch microseconds (UTC).
    text : Arrow table with `TEXT` columns (brand may be null), one row per item.
    """

    listed: np.ndarray
    circle_idx: np.ndarray
    is_group_buy: np.ndarray
    price: np.ndarray
    created_ts: np.ndarray
    text: pa.Table

    def __post_init__(self) -> None:
        n = len(self.listed)
        sizes = {name: len(getattr(self, name)) for name in ARRAYS} | {"text": self.text.num_rows}
        if any(size != n for size in sizes.values()):
            raise BundleError(f"item catalogue fields differ in length: {sizes}")

    def __len__(self) -> int:
        return len(self.listed)

    def strings(self, field: str) -> np.ndarray:
        """(n_items,) object array of one text field (None where null)."""
        return self.text.column(field).to_numpy(zero_copy_only=False)

    def value(self, field: str, item: int) -> str | None:
        """One text field of one item, without converting the whole column."""
        return self.text.column(field)[int(item)].as_py()

    def category_codes(self) -> np.ndarray:
        """(n_items,) int32 dense codes of the categories (equal category, equal code)."""
        encoded = pc.dictionary_encode(self.text.column("category")).combine_chunks()
        return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)

    @classmethod
    def from_data(cls, data: DataDir, items: IdMap, circles: CircleCatalogue) -> ItemCatalogue:
        """Read the items table into `items` order; each item's circle from its category."""
        table = data.read_table(
            "items", ["item_id", *TEXT, "price", "is_group_buy", "created_ts", "status"]
        )
        rows = items.to_index(table["item_id"])
        known = rows >= 0
        if not known.all() or known.sum() != len(items):
            raise BundleError(
                f"the items table has {int(known.sum())} of the {len(items)} mapped items and "
                f"{int((~known).sum())} unmapped rows: the data and its id map disagree"
            )
        order = np.empty(len(items), dtype=np.int64)
        order[rows] = np.arange(len(rows))
        table = table.take(pa.array(order))
        circle_of = {cat: circles.index_of(c) for cat, c in circles.category_to_circle().items()}
        category = pd.Series(table["category"].to_numpy(zero_copy_only=False), dtype=object)
        circle_idx = category.map(circle_of).fillna(-1).to_numpy().astype(np.int32)
        unmapped = int((circle_idx < 0).sum())
        if unmapped:
            logger.info("%d of %d items have a category that seeds no circle", unmapped, len(items))
        return cls(
            listed=pc.equal(table["status"], ItemStatus.LISTED.value)
            .to_numpy(zero_copy_only=False)
            .astype(bool),
            circle_idx=circle_idx.astype(np.int32),
            is_group_buy=table["is_group_buy"].to_numpy(zero_copy_only=False).astype(bool),
            price=table["price"].to_numpy(zero_copy_only=False).astype(np.float64),
            created_ts=table["created_ts"].cast(pa.int64()).to_numpy(zero_copy_only=False),
            text=table.select(list(TEXT)),
        )

    def save(self, root: str | Path) -> None:
        paths = BundleLayout(root)
        for name, dtype in ARRAYS.items():
            save_array(paths.npy(layout.CATALOGUE, name), np.asarray(getattr(self, name), dtype))
        save_table(paths.path(layout.CATALOGUE_TEXT), self.text.select(list(TEXT)))

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> ItemCatalogue:
        paths = BundleLayout(root)
        arrays = {name: load_array(paths.npy(layout.CATALOGUE, name), mmap=mmap) for name in ARRAYS}
        return cls(**arrays, text=load_table(paths.path(layout.CATALOGUE_TEXT), mmap=mmap))
