"""DuckDB plumbing shared by the feature builders: spill-safe connections and id-map tables."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import numpy as np
import pyarrow as pa

from recsys.datastore import DataDir
from recsys.idmap import IdMap
from recsys.memory import duckdb_memory_limit

#: Share of the machine's memory DuckDB may hold in a feature query before it spills: the
#: rest is the caller's (the interaction log, matrices and models of a training process).
DUCKDB_MEMORY_SHARE = 0.25


@contextmanager
def connection(data: DataDir) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection over `data` that spills big joins and sorts to a private temp folder.

    Spilling past `DUCKDB_MEMORY_SHARE` of the machine keeps 100M-event joins inside the memory
    of a modest machine beside the caller's own arrays; the folder is private so concurrent
    jobs never share (or leave behind) spill files.
    """
    with tempfile.TemporaryDirectory(prefix="recsys-duckdb-") as spill:
        con = data.connect()
        try:
            con.execute(f"SET temp_directory = '{spill.replace(chr(39), chr(39) * 2)}'")
            con.execute(f"SET memory_limit = '{duckdb_memory_limit(DUCKDB_MEMORY_SHARE)}'")
            # Row order is imposed explicitly where it matters; dropping it saves memory.
            con.execute("SET preserve_insertion_order = false")
            yield con
        finally:
            con.close()


def register_idmap(
    con: duckdb.DuckDBPyConnection, name: str, idmap: IdMap, key: str, index: str
) -> None:
    """Expose `idmap` to SQL as table `name(key VARCHAR, index INTEGER)`."""
    table = pa.table(
        {
            key: idmap.arrow_ids,  # no Python string per id (10M users)
            index: pa.array(np.arange(len(idmap), dtype=np.int32)),
        }
    )
    # A native table joins faster than a scan of the registered Arrow object
    # (~1.5x on a 2M-event join).
    con.register(f"{name}_arrow", table)
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(f"{name}_arrow")


def has_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    # fetchall, not fetchone: DuckDB refuses new work while a result is half read.
    found = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND NOT internal", [name]
    ).fetchall()
    return bool(found[0][0])
