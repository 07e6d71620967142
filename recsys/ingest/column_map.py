"""Column mapping: how someone's own logs are translated to the contract, without code.

A mapping file (`recsys ingest --map mapping.toml`) has one optional section per contract table::

    [events]
    file = "behaviour.tsv"                       # source file/folder, relative to SRC
    delimiter = "\t"                             # CSV field separator (default , or tab for .tsv)
    rename = { uid = "user_id", sku = "item_id", behaviour = "type", time = "ts" }
    defaults = { channel = "app" }               # value for a contract column the source lacks
    values.type = { pv = "view", buy = "purchase" }  # value maps, applied before validation
    ts_unit = "s"                                # auto | iso | s | ms

Every name is checked against the contract when the file is loaded, so a typo fails loudly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from recsys.config import FrozenConfig, load_config
from recsys.contract import TABLES_BY_NAME, TableSpec
from recsys.errors import ConfigError

TsUnit = Literal["auto", "iso", "s", "ms"]
Scalar = bool | int | float | str


class TableMap(FrozenConfig):
    """How one source table maps to its contract table (every field optional)."""

    file: str | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    rename: dict[str, str] = {}
    defaults: dict[str, Scalar] = {}
    values: dict[str, dict[str, str]] = {}
    ts_unit: TsUnit = "auto"

    def default_literal(self, column: str) -> str | None:
        """The default for `column` as the string the validator parses, or None."""
        if column not in self.defaults:
            return None
        value = self.defaults[column]
        if isinstance(value, bool):
            return "true" if value else "false"
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
        targets = list(self.rename.values())
        clashes = sorted({t for t in targets if targets.count(t) > 1})
        if clashes:
            raise ConfigError(
                f"column map [{spec.name}] rename: several source columns map to {clashes}"
            )


class ColumnMap(FrozenConfig):
    """Per-table mappings; a table without a section is read as-is."""

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
        """Read a mapping file; unknown tables, keys or columns raise ConfigError."""
        try:
            return load_config(cls, path)
        except ConfigError as exc:
            # Contract checks raise from inside validation, before the path is known.
            if str(path) in str(exc):
                raise
            raise ConfigError(f"{path}: {exc}") from None
