"""String ids at the boundary, dense integer indices inside.

An IdMap is an ordered array of unique string ids; an id's position is its index. It is saved
next to the data (and in every model bundle) as a one-column Parquet file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.errors import ContractError


class IdMap:
    """Bidirectional map between string ids and dense indices 0..n-1."""

    def __init__(self, ids: np.ndarray | list[str] | pd.Index) -> None:
        index = pd.Index(np.asarray(ids, dtype=object))
        if not index.is_unique:
            dup = index[index.duplicated()][:5].tolist()
            raise ContractError(f"IdMap ids must be unique; duplicates include {dup}")
        self._index = index

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, external_id: object) -> bool:
        return external_id in self._index

    @property
    def ids(self) -> np.ndarray:
        """The external ids, position = dense index."""
        return self._index.to_numpy()

    def to_index(self, external_ids: np.ndarray | list[str] | pd.Series) -> np.ndarray:
        """Dense indices of `external_ids`; -1 where an id is unknown."""
        return self._index.get_indexer(np.asarray(external_ids, dtype=object)).astype(np.int64)

    def to_ids(self, indices: np.ndarray) -> np.ndarray:
        """External ids for dense `indices` (which must be valid)."""
        # Take from the index's own array: pandas 3 keeps the ids as Arrow strings, and
        # `to_numpy()` of the whole index costs ~0.1 s per call at a million ids.
        return np.asarray(self._index.array[np.asarray(indices, dtype=np.int64)], dtype=object)

    def save(self, path: str | Path, column: str = "id") -> None:
        pq.write_table(pa.table({column: pa.array(self.ids, type=pa.string())}), path)

    @classmethod
    def load(cls, path: str | Path) -> IdMap:
        table = pq.read_table(path)
        return cls(table.column(0).to_numpy(zero_copy_only=False))
