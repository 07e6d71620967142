"""Write a checked table: accepted rows as contract Parquet parts, the quarantine, the id map.

Rows stream out of DuckDB in batches (never a whole table in memory), in file order (source
file, then row), so the same input always gives byte-identical files.
"""

from __future__ import annotations

import logging

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from recsys.contract import TableSpec, conform
from recsys.datastore import DataDir
from recsys.idmap import IdMap
from recsys.ingest.sql import ident

logger = logging.getLogger(__name__)

BATCH_ROWS = 1_000_000
PART_ROWS = 10_000_000


def write_accepted(con: duckdb.DuckDBPyConnection, spec: TableSpec, out: DataDir) -> int:
    """Accepted rows in file order as `<table>/part-*.parquet` with exactly the contract schema."""
    total = con.execute(f"SELECT count(*) FROM acc_{spec.name}").fetchall()[0][0]
    folder = out.table_dir(spec.name)
    folder.mkdir()
    columns = ", ".join(ident(f.name) for f in spec.schema)
    reader = _stream(con, f"SELECT {columns} FROM acc_{spec.name} ORDER BY _src, _row")
    written, part, writer = 0, 0, None
    with tqdm(total=total, desc=f"write {spec.name}", unit="row", leave=False) as bar:
        for batch in reader:
            if writer is None or written >= (part + 1) * PART_ROWS:
                if writer is not None:
                    writer.close()
                    part += 1
                writer = pq.ParquetWriter(folder / f"part-{part:05d}.parquet", spec.schema)
            table = conform(pa.Table.from_batches([batch]), spec)
            writer.write_table(table)
            written += table.num_rows
            bar.update(table.num_rows)
    if writer is None:  # no accepted rows: an empty part still carries the schema
        writer = pq.ParquetWriter(folder / "part-00000.parquet", spec.schema)
        writer.write_table(spec.schema.empty_table())
    writer.close()
    return written


def quarantine_schema(spec: TableSpec) -> pa.Schema:
    fields = [pa.field(f.name, pa.string()) for f in spec.schema]
    fields += [
        pa.field("_file", pa.string(), nullable=False),
        pa.field("_row", pa.int64(), nullable=False),
        pa.field("_field", pa.string(), nullable=False),
        pa.field("_reason", pa.string(), nullable=False),
    ]
    return pa.schema(fields)


def write_quarantine(con: duckdb.DuckDBPyConnection, spec: TableSpec, out: DataDir) -> int:
    """Rejected rows with their original values as text, file, row, field and reason."""
    out.quarantine_dir.mkdir(exist_ok=True)
    schema = quarantine_schema(spec)
    originals = ", ".join(
        f"CAST(s.{ident(f.name)} AS VARCHAR) AS {ident(f.name)}" for f in spec.schema
    )
    reader = _stream(
        con,
        f"""
        SELECT {originals}, f._file, s._row, r._field,
            r._reason || COALESCE('; ' || s._detail, '') AS _reason
        FROM (SELECT _src, _row, _rule FROM checked_{spec.name} WHERE _rule IS NOT NULL) c
        JOIN stage_{spec.name} s ON s._src = c._src AND s._row = c._row
        JOIN files_{spec.name} f ON f._src = c._src
        JOIN rules_{spec.name} r ON r._rule = c._rule
        ORDER BY c._src, c._row
        """,
    )
    written = 0
    with pq.ParquetWriter(out.quarantine_path(spec.name), schema) as writer:
        for batch in reader:
            table = pa.Table.from_batches([batch]).cast(schema)
            writer.write_table(table)
            written += table.num_rows
    if written:
        logger.warning(
            "%s: %d rows quarantined to %s", spec.name, written, out.quarantine_path(spec.name).name
        )
    return written


def write_idmap(con: duckdb.DuckDBPyConnection, spec: TableSpec, out: DataDir) -> None:
    """Dense indices in accepted-row order, so the same input always gives the same indices."""
    key = spec.key[0]
    ids = _stream(con, f"SELECT {ident(key)} FROM acc_{spec.name} ORDER BY _src, _row").read_all()
    out.idmap_dir.mkdir(exist_ok=True)
    column = ids.column(0).to_numpy(zero_copy_only=False) if ids.num_rows else []
    IdMap(column).save(out.idmap_path(spec.name), column=key)


def _stream(con: duckdb.DuckDBPyConnection, sql: str) -> pa.RecordBatchReader:
    """Stream a query as Arrow batches without materialising it (API name varies by version)."""
    relation = con.sql(sql)
    if hasattr(relation, "to_arrow_reader"):
        return relation.to_arrow_reader(BATCH_ROWS)
    return relation.fetch_arrow_reader(BATCH_ROWS)
