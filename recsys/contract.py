"""The data contract: the tables every pipeline reads, defined once as pyarrow schemas.

Parquet files written with these schemas are readable by pyarrow, DuckDB and Spark alike.
Timestamps are UTC microseconds (`timestamp[us, tz=UTC]`), the widest type Spark reads natively.
Ids are strings at the boundary; dense integer indices are assigned at ingestion (see `IdMap`).
`docs/data-contract.md` documents every column; `tests/test_contract.py` keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa

from recsys.errors import ContractError

TIMESTAMP = pa.timestamp("us", tz="UTC")


class EventType(StrEnum):
    """User actions, roughly ordered by how much intent they show."""

    VIEW = "view"
    LIKE = "like"
    COMMENT = "comment"
    SHARE = "share"
    PURCHASE = "purchase"
    GROUP_BUY_START = "group_buy_start"
    GROUP_BUY_JOIN = "group_buy_join"


class ItemStatus(StrEnum):
    LISTED = "listed"
    DELISTED = "delisted"


class GroupBuyStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    FAILED = "failed"


class EdgeKind(StrEnum):
    FRIEND = "friend"
    SHARED_TO = "shared_to"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class ForeignKey:
    """`column` must name an existing row of `table` (null allowed when the column is nullable)."""

    column: str
    table: str


@dataclass(frozen=True)
class TableSpec:
    """One contract table: its schema, primary key, references and allowed values."""

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    enums: tuple[tuple[str, type[StrEnum]], ...] = ()
    description: str = ""

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.schema if not f.nullable)


def _schema(*fields: pa.Field) -> pa.Schema:
    return pa.schema(list(fields))


CIRCLES = TableSpec(
    name="circles",
    schema=_schema(
        pa.field("circle_id", pa.string(), nullable=False),
        pa.field("name_zh", pa.string(), nullable=False),
        pa.field("name_en", pa.string(), nullable=False),
        pa.field("categories", pa.list_(pa.string()), nullable=False),
    ),
    key=("circle_id",),
    description="Interest circles and the item categories that seed each.",
)

USERS = TableSpec(
    name="users",
    schema=_schema(
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("signup_ts", TIMESTAMP, nullable=False),
        pa.field("gender", pa.string()),
        pa.field("age_band", pa.string()),
        pa.field("city", pa.string()),
        pa.field("share_opt_out", pa.bool_(), nullable=False),
    ),
    key=("user_id",),
    description="Users; share_opt_out=true means never suggest this user as a share target.",
)

ITEMS = TableSpec(
    name="items",
    schema=_schema(
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("brand", pa.string()),
        pa.field("merchant_id", pa.string(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),
        pa.field("is_group_buy", pa.bool_(), nullable=False),
        pa.field("created_ts", TIMESTAMP, nullable=False),
        pa.field("status", pa.string(), nullable=False),
    ),
    key=("item_id",),
    enums=(("status", ItemStatus),),
    description="Catalogue items, group-buy items flagged.",
)

POSTS = TableSpec(
    name="posts",
    schema=_schema(
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("author_id", pa.string(), nullable=False),
        pa.field("circle_id", pa.string(), nullable=False),
        pa.field("item_id", pa.string()),
        pa.field("created_ts", TIMESTAMP, nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("deleted", pa.bool_(), nullable=False),
    ),
    key=("post_id",),
    foreign_keys=(
        ForeignKey("author_id", "users"),
        ForeignKey("circle_id", "circles"),
        ForeignKey("item_id", "items"),
    ),
    description="UGC posts (order show-offs, reviews) written in a circle.",
)

GROUP_BUYS = TableSpec(
    name="group_buys",
    schema=_schema(
        pa.field("group_id", pa.string(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("initiator_id", pa.string(), nullable=False),
        pa.field("created_ts", TIMESTAMP, nullable=False),
        pa.field("deadline_ts", TIMESTAMP, nullable=False),
        pa.field("target_size", pa.int32(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
    ),
    key=("group_id",),
    foreign_keys=(ForeignKey("item_id", "items"), ForeignKey("initiator_id", "users")),
    enums=(("status", GroupBuyStatus),),
    description="Group buys; failed groups are kept (they are signal too).",
)

EVENTS = TableSpec(
    name="events",
    schema=_schema(
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("item_id", pa.string()),
        pa.field("post_id", pa.string()),
        pa.field("type", pa.string(), nullable=False),
        pa.field("group_id", pa.string()),
        pa.field("channel", pa.string()),
        pa.field("ts", TIMESTAMP, nullable=False),
    ),
    key=("event_id",),
    foreign_keys=(
        ForeignKey("user_id", "users"),
        ForeignKey("item_id", "items"),
        ForeignKey("post_id", "posts"),
        ForeignKey("group_id", "group_buys"),
    ),
    enums=(("type", EventType),),
    description="User actions on items and posts; at least one of item_id / post_id is set.",
)

SOCIAL_EDGES = TableSpec(
    name="social_edges",
    schema=_schema(
        pa.field("src", pa.string(), nullable=False),
        pa.field("dst", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("ts", TIMESTAMP, nullable=False),
    ),
    key=("src", "dst", "kind"),
    foreign_keys=(ForeignKey("src", "users"), ForeignKey("dst", "users")),
    enums=(("kind", EdgeKind),),
    description="Directed social edges; a friendship is stored once per direction.",
)

# Dependency order: a table's foreign keys only point to tables before it.
TABLES: tuple[TableSpec, ...] = (CIRCLES, USERS, ITEMS, POSTS, GROUP_BUYS, EVENTS, SOCIAL_EDGES)
TABLES_BY_NAME: dict[str, TableSpec] = {t.name: t for t in TABLES}


def table_spec(name: str) -> TableSpec:
    """The contract table called `name`; raises ContractError naming the known tables."""
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        known = ", ".join(TABLES_BY_NAME)
        raise ContractError(f"unknown table {name!r}; the contract has: {known}") from None


def conform(table: pa.Table, spec: TableSpec) -> pa.Table:
    """Select and cast `table`'s columns to the contract schema (column order included).

    Raises ContractError naming a missing column; cast errors propagate from pyarrow with the
    column named, because a bad cell should have been quarantined before this point.
    """
    missing = [name for name in spec.schema.names if name not in table.column_names]
    if missing:
        raise ContractError(f"table {spec.name!r} lacks column(s) {missing}")
    columns = []
    for field in spec.schema:
        try:
            columns.append(table.column(field.name).cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ContractError(
                f"{spec.name}.{field.name}: cannot cast to {field.type}: {exc}"
            ) from exc
    return pa.Table.from_arrays(columns, schema=spec.schema)
