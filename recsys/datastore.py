"""Where contract tables live on disk: one folder of Parquet parts per table.

Layout of a data directory (the same for generated raw data and for ingested data)::

    DATA_DIR/<table>/part-00000.parquet ...   contract tables (readable by pyarrow, DuckDB, Spark)
    DATA_DIR/quarantine/<table>.parquet       rejected rows with their reason (ingested data)
    DATA_DIR/idmap/<entity>.parquet           string id -> dense index (ingested data)
    DATA_DIR/ingest_report.json               read = accepted + quarantined, per table, time_kind
    DATA_DIR/.recsys-output                   marker: which command wrote the folder

Paths are defined here once; nothing else builds them by hand. A command writes a folder through
`claim_output` (may it replace that folder?), a `temp_sibling` and `replace_dir`, then marks it
with `mark_output`, so it never deletes what it did not create.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.contract import TABLES, TableSpec, conform, table_spec
from recsys.errors import ConfigError, ContractError

#: The file in a folder written by a command that says which command wrote it.
OUTPUT_MARKER = ".recsys-output"
#: What an import adapter says about its data set (written by `recsys import`).
DATASET_JSON = "dataset.json"
#: Whether `ts` is a real time, only an order of events, or nothing (ingest_report.json).
TIME_KINDS = ("real", "order", "none")


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

    def time_kind(self) -> str | None:
        """"real", "order" or "none" as ingest recorded it; None for data without a report
        (written by hand, or by an ingest older than the key)."""
        if not self.report_path.is_file():
            return None
        try:
            kind = json.loads(self.report_path.read_text(encoding="utf-8")).get("time_kind")
        except (OSError, ValueError, AttributeError) as exc:
            raise ContractError(
                f"{self.report_path}: not a readable ingest report: {exc}"
            ) from None
        if kind is not None and kind not in TIME_KINDS:
            raise ContractError(
                f"{self.report_path}: time_kind {kind!r} is not one of {', '.join(TIME_KINDS)}"
            )
        return kind

    def latest_event_time(self) -> datetime | None:
        """The newest `ts` of the events table (UTC), None without events: the data's
        watermark, which a bundle records so live events are not counted twice."""
        if not self.has_table("events"):
            return None
        with self.connect() as con:
            (latest,) = con.execute("SELECT max(ts) FROM events").fetchone() or (None,)
        return None if latest is None else latest.astimezone(UTC)

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


def claim_output(
    out: str | Path,
    *,
    command: str,
    inputs: Mapping[str, str | Path | None] | None = None,
    force: bool = False,
    legacy: str | None = None,
) -> Path:
    """Check that `command` may (re)write the folder `out`; return it as an absolute path.

    Never allowed, not even with `force`: `out` equal to, containing or inside one of `inputs`
    (label -> path, e.g. {"source folder": src}), since replacing it would delete that input;
    `out` an existing file. Allowed: a new or empty folder, or an earlier output of the same
    command (its OUTPUT_MARKER, or for folders written before markers its `legacy` file);
    any other folder only with `force`. The temporary folders of killed runs beside `out` are
    removed (see `sweep_temp_siblings`).
    """
    shown = str(out)
    out = Path(os.path.abspath(out))
    if out.is_symlink():  # a link to a folder elsewhere (another disk): write there, keep the link
        out = out.resolve()
    if not out.name:
        raise ConfigError(f"--out {shown}: cannot be replaced (a root folder); expected a folder")
    real = out.resolve()
    for label, path in (inputs or {}).items():
        if path is None:
            continue
        given = Path(path).resolve()
        if real == given:
            problem = f"is the {label} {path}"
        elif given.is_relative_to(real):
            problem = f"contains the {label} {path}; replacing it would delete it"
        elif real.is_relative_to(given):
            problem = f"lies inside the {label} {path}"
        else:
            continue
        raise ConfigError(f"--out {shown}: {problem}; write the output to another folder")
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"--out {shown}: exists and is not a folder; expected a folder")
        owner = _output_of(out)
        if owner is None and legacy is not None and (out / legacy).is_file():
            owner = command
        if owner != command and any(out.iterdir()) and not force:
            what = f"an output of {owner}" if owner else f"not empty (no {OUTPUT_MARKER} marker)"
            raise ConfigError(
                f"--out {shown}: {what}, not an earlier output of {command}; "
                "pass --force to replace it, or choose another folder"
            )
    sweep_temp_siblings(out)
    return out


def _output_of(folder: Path) -> str | None:
    """The command that wrote `folder` according to its marker, if it has one."""
    try:
        return str(json.loads((folder / OUTPUT_MARKER).read_text(encoding="utf-8"))["command"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def mark_output(folder: Path, command: str) -> None:
    """Record in `folder` that `command` wrote it (see `claim_output`)."""
    text = json.dumps({"command": command}) + "\n"
    (Path(folder) / OUTPUT_MARKER).write_text(text, encoding="utf-8")


_TEMP_KINDS = ("tmp", "work", "source")


def temp_sibling(out: Path, kind: str) -> Path:
    """A not yet created temporary folder beside `out` named after this process, so a later
    run can tell a killed run's leftovers from a live run's (`sweep_temp_siblings`)."""
    if kind not in _TEMP_KINDS:
        raise ValueError(f"temporary folder kind {kind!r} not one of {_TEMP_KINDS}")
    return out.parent / f".{out.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def sweep_temp_siblings(out: Path) -> list[Path]:
    """Remove the temporary folders beside `out` whose run is gone; return them.

    A folder named by `temp_sibling` whose process is alive is left alone (a concurrent run);
    one named without a process id (runs before the id was added) is a leftover.
    """
    kinds = "|".join(_TEMP_KINDS)
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(?:{kinds})-(?:(\d+)-)?[0-9a-z_]{{8}}")
    removed = []
    if not out.parent.is_dir():
        return removed
    for path in sorted(out.parent.iterdir()):
        match = pattern.fullmatch(path.name)
        if match is None or not path.is_dir() or path.is_symlink():
            continue
        if match.group(1) is not None and _alive(int(match.group(1))):
            continue
        shutil.rmtree(path)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:
        return False
    return True


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
