"""Checks every adapter's output must pass: exact schemas, keys, enums, references."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from recsys.adapters import AdapterInfo
from recsys.contract import TABLES
from recsys.datastore import DataDir


def check_source(out: Path, info: AdapterInfo) -> dict[str, object]:
    """Assert `out` is a valid contract source; return its tables as pandas frames."""
    data = DataDir(out)
    frames = {}
    for spec in TABLES:
        if not data.has_table(spec.name):
            continue
        (part,) = data.parts(spec.name)
        assert pq.read_schema(part).remove_metadata().equals(spec.schema), spec.name
        frame = data.read_table(spec.name).to_pandas()
        assert not frame.duplicated(list(spec.key)).any(), f"{spec.name}: duplicate key"
        for column, enum in spec.enums:
            assert set(frame[column]) <= {e.value for e in enum}, f"{spec.name}.{column}"
        frames[spec.name] = frame
        assert info.counts[spec.name] == len(frame)
    for spec in TABLES:
        if spec.name not in frames:
            continue
        for fk in spec.foreign_keys:
            values = frames[spec.name][fk.column].dropna()
            if len(values):
                target = frames[fk.table][TABLES_KEY[fk.table]]
                assert values.isin(target).all(), f"{spec.name}.{fk.column} -> {fk.table}"
    categories = {c for cats in frames["circles"]["categories"] for c in cats}
    assert set(frames["items"]["category"]) <= categories, "item category in no circle"
    assert frames["events"]["item_id"].isin(frames["items"]["item_id"]).all()
    assert AdapterInfo.read(out) == info
    return frames


TABLES_KEY = {spec.name: spec.key[0] for spec in TABLES}
