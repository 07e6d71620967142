"""Where contract tables live on disk: one folder of Parquet parts per table.

Layout of a data directory (the same for generated raw data and for ingested data)::

    DATA_DIR/<table>/part-00000.parquet ...   contract tables (readable by pyarrow, DuckDB, Spark)
    DATA_DIR/quarantine/<table>.parquet       rejected rows with their reason (ingested data)
    DATA_DIR/idmap/<entity>.parquet           string id -> dense index (ingested data)
    DATA_DIR/ingest_report.json               read = accepted + quarantined, per table

Paths are defined here once; nothing else builds them by hand.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.contract import TABLES, TableSpec, conform, table_spec
from recsys.errors import ContractError


class DataDir:
    """A data directory in the contract layout."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"DataDir({str(self.root)!r})"

    def check_ingested(self) -> DataDir:
        """Raise ContractError unless this is a folder `recsys ingest` wrote (it has id maps).

        Training and evaluation read ingested data only; saying so up front beats a missing
        file deep inside a step. Returns self, for chaining.
        """
        if not self.root.exists():
            raise ContractError(f"{self.root}: no such data directory")
        if not self.root.is_dir():
            raise ContractError(f"{self.root}: is a file, not a data directory")
        for entity in ("users", "items"):
            if not self.idmap_path(entity).is_file():
                raise ContractError(
                    f"{self.root}: not an ingested data directory (no idmap/{entity}.parquet); "
                    "run `recsys ingest SRC --out DATA_DIR` (or `recsys import`) first"
                )
        return self

    def table_dir(self, name: str) -> Path:
        table_spec(name)
        return self.root / name

    def has_table(self, name: str) -> bool:
        d = self.table_dir(name)
        return d.is_dir() and any(d.glob("*.parquet"))

    def parts(self, name: str) -> list[Path]:
        return sorted(self.table_dir(name).glob("*.parquet"))

    def glob(self, name: str) -> str:
        """A glob DuckDB and Spark understand for all parts of a table."""
        return str(self.table_dir(name) / "*.parquet")

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    def quarantine_path(self, name: str) -> Path:
        return self.quarantine_dir / f"{name}.parquet"

    @property
    def idmap_dir(self) -> Path:
        return self.root / "idmap"

    def idmap_path(self, entity: str) -> Path:
        return self.idmap_dir / f"{entity}.parquet"

    @property
    def report_path(self) -> Path:
        return self.root / "ingest_report.json"

    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """Read every part of a table, cast to the contract schema."""
        spec = table_spec(name)
        parts = self.parts(name)
        if not parts:
            raise ContractError(f"{self.table_dir(name)}: no Parquet parts for table {name!r}")
        table = pq.ParquetDataset([str(p) for p in parts]).read()
        table = conform(table, spec)
        return table.select(columns) if columns else table

    def write_table(self, name: str, table: pa.Table) -> Path:
        """Replace a table with one part, atomically (write to a temp folder, then rename)."""
        spec = table_spec(name)
        table = conform(table, spec)
        final = self.table_dir(name)
        tmp = final.with_name(f".{name}.tmp-{uuid.uuid4().hex[:8]}")
        tmp.mkdir(parents=True)
        pq.write_table(table, tmp / "part-00000.parquet")
        replace_dir(tmp, final)
        return final

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per table present."""
        con = duckdb.connect()
        for spec in TABLES:
            if self.has_table(spec.name):
                # DuckDB does not take parameters in DDL, so the path is quoted here.
                path = _sql_str(self.glob(spec.name))
                con.execute(f"CREATE VIEW {spec.name} AS SELECT * FROM read_parquet('{path}')")
        return con

    def present(self) -> list[TableSpec]:
        return [s for s in TABLES if self.has_table(s.name)]


def replace_dir(new: Path, final: Path) -> None:
    """Swap `new` into place at `final`; the old folder is removed only after the swap."""
    old = None
    if final.exists() and not final.is_dir():
        # Only folders this code wrote are ever replaced: a file there is someone else's.
        raise ContractError(f"{final}: is a file, not a folder; refusing to replace it")
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        final.rename(old)
    new.rename(final)
    if old is not None:
        shutil.rmtree(old)


def _sql_str(value: str) -> str:
    return value.replace("'", "''")
