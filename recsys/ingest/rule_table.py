"""The validation rules of every contract table, defined once for every engine.

A rule is a field, a reason and a condition. The condition is built for an SQL `Dialect` (DuckDB
for the local engine, Spark SQL for `--engine spark`), so the two engines run the same rules in
the same order with the same reasons: a rule's id is its position in the table's `RuleBook`,
and a row is quarantined for the first rule it breaks.

Order: a CSV line that did not parse; per column (required, type, range, allowed values); row
rules (price >= 0, src != dst ...); references to accepted rows of earlier tables and
consistency with the referenced group buy; the duplicate key (the first valid occurrence in file
order is kept); then the rules over the remaining rows (one start per group buy, one circle per
category), which each engine runs as its own query under the id and reason given here.

Conditions see each contract column twice: `<name>__s`, the normalised source text (trimmed,
empty = NULL), and `<name>`, the value parsed to the contract type (NULL when it did not parse).
Reference conditions see the checked row as `v` and the referenced row as `fk<n>`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import pyarrow as pa

from recsys.contract import EventType, TableSpec, table_spec
from recsys.ingest.column_map import TableMap
from recsys.ingest.csv_reader import MALFORMED, MALFORMED_OTHER

# Clocks of the services that log group buys and events drift; tolerate this much disorder.
CLOCK_SKEW_MINUTES = 5
# Epoch 0 is a common "unknown" sentinel and years past 2100 mean milliseconds read as seconds.
TS_MIN, TS_MAX = "1970-01-01 00:00:00+00", "2100-01-01 00:00:00+00"
TS_LOW = "timestamp outside 1970-01-01..2100-01-01: epoch 0 is a placeholder for unknown"
TS_HIGH = "timestamp outside 1970-01-01..2100-01-01 (milliseconds read as seconds?)"
TS_INFINITE = "not a finite timestamp"
TS_FORMS = {
    "auto": "expected ISO-8601 (2024-05-01T12:00:00Z) or epoch seconds",
    "iso": "expected ISO-8601 (ts_unit = iso)",
    "s": "expected epoch seconds (ts_unit = s)",
    "ms": "expected epoch milliseconds (ts_unit = ms)",
}
GROUP_EVENTS = (EventType.GROUP_BUY_START.value, EventType.GROUP_BUY_JOIN.value)
START, JOIN = EventType.GROUP_BUY_START.value, EventType.GROUP_BUY_JOIN.value
# The `_field` of a CSV line that did not parse: no cell of it can be trusted.
LINE = "(line)"
GROUP_STARTS = "group_starts"
#: Field and reason of a group buy start after the group's first (`GROUP_STARTS`); the events
#: API gives the same reason when the first start came in an earlier batch.
ALREADY_STARTED = ("group_id", "the group buy already started: an earlier start was kept")
CATEGORY_OWNERS = "category_owners"


@dataclass(frozen=True)
class Dialect:
    """What differs between the engines' SQL in the rule conditions."""

    name: str
    quote: str
    timestamp_type: str
    #: Whether a parsed timestamp can be +-infinity (DuckDB's can; Spark's cannot).
    infinite_timestamps: bool

    def ident(self, name: str) -> str:
        return self.quote + name.replace(self.quote, self.quote * 2) + self.quote

    def lit(self, value: str) -> str:
        if "\\" in value:
            raise ValueError(f"rule literal {value!r} holds a backslash")
        return "'" + value.replace("'", "''") + "'"

    def timestamp(self, text: str) -> str:
        return f"{self.timestamp_type} {self.lit(text)}"

    def skew(self) -> str:
        return f"INTERVAL {CLOCK_SKEW_MINUTES} MINUTES"

    def is_in(self, expr: str, values: tuple[str, ...] | list[str]) -> str:
        return f"{expr} IN ({', '.join(map(self.lit, values))})"


DUCKDB = Dialect("duckdb", '"', "TIMESTAMPTZ", infinite_timestamps=True)
SPARK = Dialect("spark", "`", "TIMESTAMP", infinite_timestamps=False)

Condition = Callable[[Dialect], str]


@dataclass
class RuleBook:
    """Ordered rules of one table; a rule's id is its position + 1.

    `checks` are the per-row conditions, `references` the conditions over the row joined with
    the rows it references (`joins`: alias, referenced table, column, referenced key); both are
    (condition, rule id) in order. `duplicate` is the duplicate-key rule (a row it rejects is
    valid, only already present); `post` names the rules each engine runs as its own query.
    """

    rules: list[tuple[str, str]] = field(default_factory=list)
    checks: list[tuple[str, int]] = field(default_factory=list)
    joins: list[tuple[str, str, str, str]] = field(default_factory=list)
    references: list[tuple[str, int]] = field(default_factory=list)
    duplicate: int = 0
    post: dict[str, int] = field(default_factory=dict)

    def add(self, column: str, reason: str) -> int:
        self.rules.append((column, reason))
        return len(self.rules)

    def label(self, rule_id: int) -> str:
        column, reason = self.rules[rule_id - 1]
        return f"{column}: {reason}"


def rule_book(
    spec: TableSpec, table_map: TableMap, d: Dialect, *, accept_new: Collection[str] = ()
) -> RuleBook:
    """Every rule of `spec`'s table with its condition in dialect `d` (see the module doc).

    `accept_new`: referenced tables whose unknown ids are new rows, not errors (the events API:
    a user the bundle has not seen): no reference rule for them.
    """
    book = RuleBook()
    bad = d.ident("_bad")
    for kind, reason in MALFORMED.items():
        book.checks.append((f"{bad} = {d.lit(kind)}", book.add(LINE, reason)))
    book.checks.append((f"{bad} IS NOT NULL", book.add(LINE, MALFORMED_OTHER)))
    enums = {column: [e.value for e in enum] for column, enum in spec.enums}
    for f in spec.schema:
        col, s = d.ident(f.name), d.ident(f.name + "__s")
        if not f.nullable:
            book.checks.append((f"{s} IS NULL", book.add(f.name, "required field is empty")))
        book.checks.append(
            (f"{s} IS NOT NULL AND {col} IS NULL", book.add(f.name, bad_type(f, table_map)))
        )
        if isinstance(f.type, pa.TimestampType):
            infinite = f"NOT isfinite({col})" if d.infinite_timestamps else "false"
            book.checks.append((infinite, book.add(f.name, TS_INFINITE)))
            book.checks.append((f"{col} <= {d.timestamp(TS_MIN)}", book.add(f.name, TS_LOW)))
            book.checks.append((f"{col} >= {d.timestamp(TS_MAX)}", book.add(f.name, TS_HIGH)))
        if f.name in enums:
            reason = "not one of " + ", ".join(enums[f.name])
            book.checks.append((f"NOT {d.is_in(col, enums[f.name])}", book.add(f.name, reason)))
    for column, reason, condition in ROW_RULES.get(spec.name, ()):
        book.checks.append((condition(d), book.add(column, reason)))

    for n, fk in enumerate(spec.foreign_keys):
        if fk.table in accept_new:
            continue
        alias, ref_key = f"fk{n}", table_spec(fk.table).key[0]
        book.joins.append((alias, fk.table, fk.column, ref_key))
        cond = f"v.{d.ident(fk.column)} IS NOT NULL AND {alias}.{d.ident(ref_key)} IS NULL"
        reason = f"unknown {fk.column}: no accepted row in {fk.table}"
        book.references.append((cond, book.add(fk.column, reason)))
        if spec.name == "events" and fk.table == "group_buys":
            for column, reason, condition in _group_rules(alias, d):
                book.references.append((condition, book.add(column, reason)))

    key = ",".join(spec.key)
    book.duplicate = book.add(key, "duplicate key: an earlier row with the same key was kept")
    if spec.name == "circles":
        book.post[CATEGORY_OWNERS] = book.add(
            "categories", "a category already seeds an earlier circle"
        )
    if spec.name == "events":
        book.post[GROUP_STARTS] = book.add(*ALREADY_STARTED)
    return book


def bad_type(f: pa.Field, table_map: TableMap) -> str:
    """The reason given for a cell that does not parse as the contract type of `f`."""
    if isinstance(f.type, pa.TimestampType):
        return "not a timestamp: " + TS_FORMS[table_map.ts_unit]
    if f.type == pa.bool_():
        return "not a boolean: expected true/false, t/f, 1/0, yes/no or y/n"
    if f.type == pa.int32():
        return "not a 32-bit integer"
    if f.type == pa.float64():
        return "not a finite number"
    return f"not a {f.type}"


def _c(d: Dialect, name: str) -> str:
    return d.ident(name)


#: Per-row rules beyond the column checks: table -> (field, reason, condition).
ROW_RULES: dict[str, tuple[tuple[str, str, Condition], ...]] = {
    "items": (("price", "price is negative", lambda d: f"{_c(d, 'price')} < 0"),),
    "group_buys": (
        (
            "target_size",
            "target_size below 2: a group needs two buyers",
            lambda d: f"{_c(d, 'target_size')} < 2",
        ),
        (
            "deadline_ts",
            "deadline_ts before created_ts",
            lambda d: f"{_c(d, 'deadline_ts')} < {_c(d, 'created_ts')}",
        ),
    ),
    "events": (
        (
            "item_id",
            "event has neither item_id nor post_id",
            lambda d: f"{_c(d, 'item_id')} IS NULL AND {_c(d, 'post_id')} IS NULL",
        ),
        (
            "group_id",
            "group buy event without group_id",
            lambda d: f"{d.is_in(_c(d, 'type'), GROUP_EVENTS)} AND {_c(d, 'group_id')} IS NULL",
        ),
        (
            "item_id",
            "group buy event without item_id",
            lambda d: f"{d.is_in(_c(d, 'type'), GROUP_EVENTS)} AND {_c(d, 'item_id')} IS NULL",
        ),
    ),
    "social_edges": (
        ("dst", "self-edge: dst equals src", lambda d: f"{_c(d, 'src')} = {_c(d, 'dst')}"),
    ),
}


def _group_rules(alias: str, d: Dialect) -> list[tuple[str, str, str]]:
    """Group buy start/join events must match their group's item and initiator (only the
    initiator starts, never joins) and fall in its lifetime."""
    v = {name: f"v.{d.ident(name)}" for name in ("type", "item_id", "user_id", "ts")}
    g = {name: f"{alias}.{d.ident(name)}"
         for name in ("group_id", "item_id", "initiator_id", "created_ts", "deadline_ts")}
    group = f"{d.is_in(v['type'], GROUP_EVENTS)} AND {g['group_id']} IS NOT NULL"
    initiator = f"{v['user_id']} = {g['initiator_id']}"
    return [
        ("item_id", "item_id differs from the group buy's item_id",
         f"{group} AND {v['item_id']} <> {g['item_id']}"),
        ("user_id", "group_buy_start by another user than the initiator_id",
         f"{group} AND {v['type']} = {d.lit(START)} AND NOT {initiator}"),
        ("user_id", "the group's initiator joins their own group",
         f"{group} AND {v['type']} = {d.lit(JOIN)} AND {initiator}"),
        ("ts", "group buy event before the group was created",
         f"{group} AND {v['ts']} < {g['created_ts']} - {d.skew()}"),
        ("ts", "group buy event after the group's deadline",
         f"{group} AND {v['ts']} > {g['deadline_ts']} + {d.skew()}"),
    ]  # fmt: skip
