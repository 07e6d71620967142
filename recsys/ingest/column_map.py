"""Column mapping: how someone's own logs are translated to the contract, without code.

A mapping file (`recsys ingest --map mapping.toml`) has one optional section per contract table,
and an optional `time_kind` before the sections::

    time_kind = "order"                          # real | order | none (see ingest/time_kind.py)

    [events]
    file = "behaviour.tsv"                       # source file/folder inside SRC
    delimiter = "\t"                             # CSV field separator (default , or tab for .tsv)
    rename = { uid = "user_id", sku = "item_id", behaviour = "type", time = "ts" }
    defaults = { channel = "app" }               # value for a contract column the source lacks
                                                 # (a list for a list column: categories = [])
    values.type = { pv = "view", buy = "purchase" }  # value maps, applied before validation
    ts_unit = "s"                                # auto | iso | s | ms

Every name is checked against the contract when the file is loaded, so a typo fails loudly,
in one line naming the file, the section and key, and what was expected.
"""

from __future__ import annotations

import tomllib
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from recsys.config import FrozenConfig
from recsys.contract import TABLES_BY_NAME, TableSpec
from recsys.errors import ConfigError

TsUnit = Literal["auto", "iso", "s", "ms"]
TimeKind = Literal["real", "order", "none"]
Scalar = bool | int | float | str


class TableMap(FrozenConfig):
    """How one source table maps to its contract table (every field optional)."""

    file: str | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    rename: dict[str, str] = {}
    defaults: dict[str, Scalar | list[str]] = {}
    values: dict[str, dict[str, str]] = {}
    ts_unit: TsUnit = "auto"

    def default_literal(self, column: str) -> str | None:
        """The default for `column` as the string the validator parses, or None."""
        if column not in self.defaults:
            return None
        value = self.defaults[column]
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return ";".join(value)  # as a list cell of a CSV file is written
        return str(value)

    def check_against(self, spec: TableSpec) -> None:
        """Raise ConfigError when a mapping names a column the contract table does not have."""
        columns = set(spec.schema.names)

        def unknown(kind: str, names: list[str]) -> None:
            bad = sorted(set(names) - columns)
            if bad:
                raise ConfigError(
                    f"column map [{spec.name}] {kind}: {bad} not in the contract; "
                    f"{spec.name} has {spec.schema.names}"
                )

        unknown("rename targets", list(self.rename.values()))
        unknown("defaults", list(self.defaults))
        unknown("values", list(self.values))
        for column, value in self.defaults.items():
            is_list = pa.types.is_list(spec.schema.field(column).type)
            if isinstance(value, list) and not is_list:
                raise ConfigError(
                    f"column map [{spec.name}] defaults.{column}: got the list {value}; "
                    f"expected one value ({column} is not a list column)"
                )
            if isinstance(value, list) and any(";" in v for v in value):
                raise ConfigError(
                    f"column map [{spec.name}] defaults.{column}: got {value}; expected "
                    "values without ';' (it separates the values of a list cell)"
                )
        if self.file is not None and not _inside(self.file):
            raise ConfigError(
                f"column map [{spec.name}] file: {self.file!r}; expected a path relative to "
                "the source folder that stays inside it (no absolute path, no '..')"
            )
        targets = list(self.rename.values())
        clashes = sorted({t for t in targets if targets.count(t) > 1})
        if clashes:
            raise ConfigError(
                f"column map [{spec.name}] rename: several source columns map to {clashes}"
            )


def _inside(file: str) -> bool:
    """Whether `file` names something inside the folder it is relative to."""
    for pure in (PurePosixPath(file), PureWindowsPath(file)):
        if pure.is_absolute() or pure.anchor or ".." in pure.parts:
            return False
    return not file.startswith("~")


class ColumnMap(FrozenConfig):
    """Per-table mappings (a table without a section is read as-is), and what `ts` is."""

    time_kind: TimeKind | None = None
    circles: TableMap = TableMap()
    users: TableMap = TableMap()
    items: TableMap = TableMap()
    posts: TableMap = TableMap()
    group_buys: TableMap = TableMap()
    events: TableMap = TableMap()
    social_edges: TableMap = TableMap()

    @model_validator(mode="after")
    def _check_contract(self) -> ColumnMap:
        for name, spec in TABLES_BY_NAME.items():
            self.for_table(name).check_against(spec)
        return self

    def for_table(self, name: str) -> TableMap:
        return getattr(self, name)

    @classmethod
    def from_toml(cls, path: str | Path) -> ColumnMap:
        """Read a mapping file; anything the contract does not know raises ConfigError in one
        line naming the file, the section and key, and what was expected."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"--map {path}: cannot read the mapping file: {exc.strerror}"
            ) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        try:
            return cls.model_validate(data)
        except PydanticValidationError as exc:
            raise ConfigError(f"{path}: {_one_line(exc)}") from None
        except ConfigError as exc:
            # Contract checks raise from inside validation, before the path is known.
            raise ConfigError(f"{path}: {exc}") from None


def _one_line(exc: PydanticValidationError) -> str:
    """The first error of a mapping file as `[section] key: got ...; expected ...`."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    got: Any = error.get("input")
    if loc[0] not in TABLES_BY_NAME:  # a top-level key
        if error["type"] == "extra_forbidden":
            tables = ", ".join(TABLES_BY_NAME)
            return (
                f"[{loc[0]}]: not a contract table; expected a section of {tables} "
                "(or time_kind)"
            )
        where = loc[0]
    elif error["type"] == "extra_forbidden":
        keys = ", ".join(TableMap.model_fields)
        return f"column map [{loc[0]}] {loc[-1]}: unknown key; expected one of {keys}"
    elif len(loc) >= 3 and loc[1] == "defaults":  # loc[3], if any, names a member of the union
        return (
            f"column map [{loc[0]}] defaults.{loc[2]}: got {got!r}; expected text, a number, "
            "true/false or a list of text"
        )
    else:
        where = f"[{loc[0]}] {'.'.join(loc[1:])}"
    expected = error["msg"].replace("Input should be ", "")
    return f"column map {where}: got {got!r}; expected {expected}"
