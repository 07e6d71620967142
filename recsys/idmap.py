"""String ids at the boundary, dense integer indices inside.

An IdMap is an ordered array of unique string ids; an id's position is its index. It is saved
next to the data (and in every model bundle) as a one-column Parquet file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys.errors import ContractError


class IdMap:
    """Bidirectional map between string ids and dense indices 0..n-1."""

    def __init__(self, ids: np.ndarray | list[str] | pd.Index | pa.Array | pa.ChunkedArray
                 ) -> None:  # fmt: skip
        if isinstance(ids, pa.Array | pa.ChunkedArray):  # kept in Arrow: no Python strings
            index = pd.Index(pd.array(ids, dtype="str"))
        else:
            index = pd.Index(np.asarray(ids, dtype=object))
        self._index = index
        self._arrow: pa.Array | None = None
        if not self._unique():
            dup = index[index.duplicated()][:5].tolist()
            raise ContractError(f"IdMap ids must be unique; duplicates include {dup}")

    def _unique(self) -> bool:
        """Whether the ids are unique, counted in Arrow where pandas keeps them there.

        `pd.Index.is_unique` builds the index's hash table: a Python string and a slot per id,
        ~110 bytes an id against ~11 in Arrow. Lookups of Python ids need that table (the
        runtime builds it at load), but a training looks up in Arrow or SQL, and at 10M users
        and 10M posts the two tables were ~2.2 GB held through every step."""
        if isinstance(self._index.array, pd.arrays.ArrowStringArray):
            return pc.count_distinct(self._arrow_ids(), mode="all").as_py() == len(self)
        return bool(self._index.is_unique)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, external_id: object) -> bool:
        return external_id in self._index

    @property
    def ids(self) -> np.ndarray:
        """The external ids, position = dense index."""
        return self._index.to_numpy()

    @property
    def arrow_ids(self) -> pa.Array:
        """The external ids as one Arrow string array, without a Python string per id."""
        return self._arrow_ids()

    def to_index(
        self, external_ids: np.ndarray | list[str] | pd.Series | pa.Array | pa.ChunkedArray
    ) -> np.ndarray:
        """Dense indices of `external_ids`; -1 where an id is unknown.

        An Arrow column is looked up in Arrow (`pyarrow.compute.index_in`), with no Python
        string per id: the friend edges of 10M users (tens of millions of ids) took minutes and
        gigabytes as Python objects, and take seconds this way."""
        if isinstance(external_ids, pa.Array | pa.ChunkedArray):
            ids = self._arrow_ids()
            found = pc.index_in(external_ids.cast(ids.type), value_set=ids).fill_null(-1)
            return np.asarray(found.to_numpy(), dtype=np.int64)
        return self._index.get_indexer(np.asarray(external_ids, dtype=object)).astype(np.int64)

    def _arrow_ids(self) -> pa.Array:
        """The ids as one Arrow string array (pandas 3 keeps them in Arrow: no copy)."""
        if self._arrow is None:
            ids = pa.array(self._index.array)
            ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
            self._arrow = ids if pa.types.is_large_string(ids.type) else ids.cast(pa.string())
        return self._arrow

    def to_ids(self, indices: np.ndarray) -> np.ndarray:
        """External ids for dense `indices` (which must be valid)."""
        # Take from the index's own array: pandas 3 keeps the ids as Arrow strings, and
        # `to_numpy()` of the whole index costs ~0.1 s per call at a million ids.
        return np.asarray(self._index.array[np.asarray(indices, dtype=np.int64)], dtype=object)

    def save(self, path: str | Path, column: str = "id") -> None:
        pq.write_table(pa.table({column: self.arrow_ids.cast(pa.string())}), path)

    @classmethod
    def load(cls, path: str | Path) -> IdMap:
        return cls(pq.read_table(path).column(0))
