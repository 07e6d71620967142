from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from recsys.errors import ContractError
from recsys.idmap import IdMap


def test_round_trip_and_lookup(tmp_path) -> None:
    ids = IdMap(["u3", "u1", "u2"])
    assert ids.to_index(["u1", "zz", "u3"]).tolist() == [1, -1, 0]
    assert ids.to_ids(np.array([2, 0])).tolist() == ["u2", "u3"]
    ids.save(tmp_path / "u.parquet")
    back = IdMap.load(tmp_path / "u.parquet")
    assert back.ids.tolist() == ["u3", "u1", "u2"]
    assert "u1" in back and "nope" not in back


def test_duplicates_are_refused() -> None:
    with pytest.raises(ContractError, match="duplicates"):
        IdMap(["a", "b", "a"])


def test_to_ids_takes_only_the_asked_rows() -> None:
    """Lookups return plain object arrays of str, in the asked order, empty included."""
    m = IdMap([f"u{i}" for i in range(1000)])
    out = m.to_ids(np.array([999, 0, 5]))
    assert out.dtype == object and out.tolist() == ["u999", "u0", "u5"]
    assert m.to_ids(np.array([], dtype=np.int64)).tolist() == []


def test_arrow_ids_are_looked_up_in_arrow_as_the_same_indices() -> None:
    """Arrow columns (chunked, nulls, unknown ids) get the indices a list of strings gets."""
    ids = IdMap(["a", "b", "c", "d"])
    column = pa.chunked_array([["d", "zz", None], ["a", "c"]])
    as_list = ["d", "zz", "", "a", "c"]
    assert ids.to_index(column).tolist() == ids.to_index(as_list).tolist() == [3, -1, -1, 0, 2]
    assert ids.to_index(pa.array(["b"], type=pa.large_string())).tolist() == [1]
    assert ids.to_index(pa.array([], type=pa.string())).dtype == np.int64


def test_an_arrow_column_makes_the_same_map_without_a_hash_table() -> None:
    """Built from Arrow (as `load` reads it), the same ids and lookups; neither way builds
    pandas' hash table of Python ids (~110 bytes an id) until a Python id is looked up."""
    column = pa.chunked_array([["u3", "u1"], ["u2"]])
    for ids in (IdMap(column), IdMap(["u3", "u1", "u2"])):
        assert "_engine" not in ids._index._cache
        assert ids.to_index(pa.array(["u2", "x"])).tolist() == [2, -1]
        assert "_engine" not in ids._index._cache
        assert ids.to_index(["u1"]).tolist() == [1]
        assert ids.ids.tolist() == ["u3", "u1", "u2"]
        assert ids.arrow_ids.to_pylist() == ["u3", "u1", "u2"]
    with pytest.raises(ContractError, match="duplicates include \\['a'\\]"):
        IdMap(pa.array(["a", "b", "a"]))
