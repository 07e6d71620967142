"""Validation rules as DuckDB SQL: each staged row gets the id of the first rule it breaks.

Rules run in a fixed order: a CSV line that did not parse, then per column (required, type,
range, allowed values), then row rules (price >= 0, src != dst ...), then references to already
accepted rows of earlier tables and consistency with the referenced group buy (its item, its
initiator, its lifetime), then duplicate keys (the first valid occurrence in file order is kept),
then rules over the remaining rows (one start per group buy, one circle per category).
The result is the table `checked_<table>`: contract columns in contract types, `_src`, `_row` and
`_rule` (NULL = accepted). `rules_<table>` maps a rule id to the `_field` and `_reason` reported.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from recsys.contract import EventType, TableSpec, table_spec
from recsys.ingest.column_map import TableMap
from recsys.ingest.csv_reader import MALFORMED, MALFORMED_OTHER
from recsys.ingest.event_ids import derived_id_sql, event_key_sql
from recsys.ingest.sql import ident, lit

# Clocks of the services that log group buys and events drift; tolerate this much disorder.
CLOCK_SKEW = "INTERVAL 5 MINUTE"
# Epoch 0 is a common "unknown" sentinel and years past 2100 mean milliseconds read as seconds.
TS_MIN, TS_MAX = "1970-01-01 00:00:00+00", "2100-01-01 00:00:00+00"
TS_LOW = "timestamp outside 1970-01-01..2100-01-01: epoch 0 is a placeholder for unknown"
TS_HIGH = "timestamp outside 1970-01-01..2100-01-01 (milliseconds read as seconds?)"
TS_INFINITE = "not a finite timestamp"
# ISO-8601 text starts with a four-digit year (DuckDB alone also reads 'infinity' and 'epoch'),
# and a UTC offset is at most 14 hours (DuckDB alone reads +25:00 and +99:99).
ISO_START = "^[0-9]{4}-"
ISO_OFFSET = "[0-9]:[0-9]{2}(?::[0-9]{2})?(?:[.][0-9]+)?\\s*[+-]([0-9]{1,2})(?::?([0-9]{2}))?$"
MAX_OFFSET_MINUTES = 14 * 60

TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")
GROUP_EVENTS = (EventType.GROUP_BUY_START.value, EventType.GROUP_BUY_JOIN.value)
START, JOIN = EventType.GROUP_BUY_START.value, EventType.GROUP_BUY_JOIN.value
# The `_field` of a CSV line that did not parse: no cell of it can be trusted.
LINE = "(line)"
#: Field and reason of a group buy start after the group's first (`_check_group_starts`);
#: the events API gives the same reason when the first start came in an earlier batch.
ALREADY_STARTED = ("group_id", "the group buy already started: an earlier start was kept")

DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
    pa.list_(pa.string()): "VARCHAR[]",
}

TS_FORMS = {
    "auto": "expected ISO-8601 (2024-05-01T12:00:00Z) or epoch seconds",
    "iso": "expected ISO-8601 (ts_unit = iso)",
    "s": "expected epoch seconds (ts_unit = s)",
    "ms": "expected epoch milliseconds (ts_unit = ms)",
}


@dataclass
class RuleBook:
    """Ordered rules of one table; a rule's id is its position + 1.

    `duplicate` is the duplicate-key rule: a row it rejects is valid, only already present.
    """

    rules: list[tuple[str, str]] = field(default_factory=list)
    duplicate: int = 0

    def add(self, column: str, reason: str) -> int:
        self.rules.append((column, reason))
        return len(self.rules)

    def label(self, rule_id: int) -> str:
        column, reason = self.rules[rule_id - 1]
        return f"{column}: {reason}"


def _case(checks: list[tuple[str, int]]) -> str:
    if not checks:
        return "NULL::SMALLINT"
    whens = " ".join(f"WHEN {cond} THEN {rule}" for cond, rule in checks)
    return f"CASE {whens} END::SMALLINT"


def _is_text(source_type: str) -> bool:
    return source_type == "VARCHAR"


def normalise_expr(
    column: str, source_type: str, table_map: TableMap, *, enum: bool = False, is_list: bool = False
) -> str:
    """Text cells trimmed, empty -> NULL, value map applied, enums lower-cased.

    An empty text cell of a list column is the empty list, not a missing value: text cannot
    tell the two apart, and the contract allows an empty list (a circle seeded by no category).
    """
    col = ident(column)
    values = table_map.values.get(column)
    if not (_is_text(source_type) or values or enum):
        return col
    if is_list:
        expr = f"COALESCE(trim(CAST({col} AS VARCHAR)), '')"
    else:
        expr = f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"
    if values:
        whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in sorted(values.items()))
        expr = f"(CASE {expr} {whens} ELSE {expr} END)"
    return f"lower({expr})" if enum else expr


def parse_expr(s: str, source_type: str, target: pa.DataType, unit: str) -> str:
    """Expression giving `s` in the contract type, NULL when it does not parse."""
    text = _is_text(source_type)
    if target == pa.string():
        return s if text else f"CAST({s} AS VARCHAR)"
    if target == pa.bool_():
        if source_type == "BOOLEAN":
            return s
        low = f"lower(CAST({s} AS VARCHAR))"
        t = ", ".join(map(lit, TRUE_WORDS))
        f = ", ".join(map(lit, FALSE_WORDS))
        return f"(CASE WHEN {low} IN ({t}) THEN true WHEN {low} IN ({f}) THEN false END)"
    if target == pa.int32():
        d = f"TRY_CAST({s} AS DOUBLE)"
        return f"(CASE WHEN {d} = floor({d}) THEN TRY_CAST({d} AS INTEGER) END)"
    if target == pa.float64():
        d = f"TRY_CAST({s} AS DOUBLE)"
        return f"(CASE WHEN isfinite({d}) THEN {d} END)"
    if target == pa.list_(pa.string()):
        if source_type.endswith("[]"):
            return f"CAST({s} AS VARCHAR[])"
        parts = f"string_split(CAST({s} AS VARCHAR), ';')"
        return f"list_filter(list_transform({parts}, lambda x: trim(x)), lambda x: x <> '')"
    if isinstance(target, pa.TimestampType):
        if source_type.startswith(("TIMESTAMP", "DATE")):
            return f"TRY_CAST({s} AS TIMESTAMPTZ)"
        seconds = f"TRY(to_timestamp(TRY_CAST({s} AS DOUBLE)))"
        millis = f"TRY(to_timestamp(TRY_CAST({s} AS DOUBLE) / 1000.0))"
        iso = _iso(s) if text else "NULL::TIMESTAMPTZ"
        if unit == "s":
            return seconds
        if unit == "ms":
            return millis
        if unit == "iso":
            return iso
        if not text:
            return seconds
        number = f"regexp_full_match({s}, '[+-]?[0-9]+(\\.[0-9]+)?')"
        return f"(CASE WHEN {number} THEN {seconds} ELSE {iso} END)"
    raise TypeError(f"no parser for contract type {target}")


def _iso(s: str) -> str:
    """ISO-8601 text as TIMESTAMPTZ; NULL for DuckDB's words and for offsets past 14 hours."""
    hours = f"TRY_CAST(regexp_extract({s}, {lit(ISO_OFFSET)}, 1) AS INTEGER)"
    minutes = f"COALESCE(TRY_CAST(regexp_extract({s}, {lit(ISO_OFFSET)}, 2) AS INTEGER), 0)"
    too_far = f"{hours} * 60 + {minutes} > {MAX_OFFSET_MINUTES}"
    bad_offset = f"COALESCE({too_far} OR {minutes} >= 60, false)"
    return (
        f"(CASE WHEN regexp_matches({s}, {lit(ISO_START)}) AND NOT {bad_offset} "
        f"THEN TRY_CAST({s} AS TIMESTAMPTZ) END)"
    )


def create_empty(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> None:
    """An empty `checked_<table>` for an absent optional table, so references to it fail."""
    cols = ", ".join(f"{ident(f.name)} {DUCKDB_TYPES[f.type]}" for f in spec.schema)
    con.execute(
        f"CREATE TABLE checked_{spec.name} ({cols}, _src INTEGER, _row BIGINT, _rule SMALLINT)"
    )
    con.execute(f"CREATE VIEW acc_{spec.name} AS SELECT * FROM checked_{spec.name} LIMIT 0")


def check(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    types: dict[str, str],
    table_map: TableMap,
    *,
    derive_ids: bool = False,
    accept_new: Collection[str] = (),
) -> RuleBook:
    """Create `checked_<table>` from `stage_<table>`; referenced tables must be checked first.

    `derive_ids`: rows without an event_id (all of them, when the source has no such column)
    get the id `event_ids` derives from their parsed values, before any rule runs.
    `accept_new`: referenced tables whose unknown ids are accepted as new rows rather than
    rejected (the events API names `users`: a user the bundle has not seen is a new user);
    no `acc_<table>` is needed for them.
    """
    book = RuleBook()
    enums = {column: [e.value for e in enum] for column, enum in spec.enums}
    norm, parsed = [], []
    checks = [(f"_bad = {lit(kind)}", book.add(LINE, reason)) for kind, reason in MALFORMED.items()]
    checks.append(("_bad IS NOT NULL", book.add(LINE, MALFORMED_OTHER)))
    for f in spec.schema:
        col, s = ident(f.name), ident(f.name + "__s")
        normalised = normalise_expr(
            f.name, types[f.name], table_map,
            enum=f.name in enums, is_list=pa.types.is_list(f.type),
        )
        norm.append(f"{normalised} AS {s}")
        parsed.append(f"{s}, {parse_expr(s, types[f.name], f.type, table_map.ts_unit)} AS {col}")
        if not f.nullable:
            checks.append((f"{s} IS NULL", book.add(f.name, "required field is empty")))
        checks.append(
            (f"{s} IS NOT NULL AND {col} IS NULL", book.add(f.name, _bad_type(f, table_map)))
        )
        if isinstance(f.type, pa.TimestampType):
            checks.append((f"NOT isfinite({col})", book.add(f.name, TS_INFINITE)))
            checks.append((f"{col} <= TIMESTAMPTZ {lit(TS_MIN)}", book.add(f.name, TS_LOW)))
            checks.append((f"{col} >= TIMESTAMPTZ {lit(TS_MAX)}", book.add(f.name, TS_HIGH)))
        if f.name in enums:
            allowed = ", ".join(map(lit, enums[f.name]))
            reason = "not one of " + ", ".join(enums[f.name])
            checks.append((f"{col} NOT IN ({allowed})", book.add(f.name, reason)))
    checks += _row_rules(spec.name, book)

    joins, references = [], []
    for n, fk in enumerate(spec.foreign_keys):
        if fk.table in accept_new:
            continue
        alias, ref_key = f"fk{n}", table_spec(fk.table).key[0]
        joins.append(
            f"LEFT JOIN acc_{fk.table} {alias} ON v.{ident(fk.column)} = {alias}.{ident(ref_key)}"
        )
        cond = f"v.{ident(fk.column)} IS NOT NULL AND {alias}.{ident(ref_key)} IS NULL"
        references.append(
            (cond, book.add(fk.column, f"unknown {fk.column}: no accepted row in {fk.table}"))
        )
        if spec.name == "events" and fk.table == "group_buys":
            references += _group_rules(alias, book)

    key = ", ".join(ident(k) for k in spec.key)
    dup = book.add(",".join(spec.key), "duplicate key: an earlier row with the same key was kept")
    book.duplicate = dup
    first = f"row_number() OVER (PARTITION BY {key}, _r2 IS NULL ORDER BY _src, _row)"
    columns = ", ".join(ident(f.name) for f in spec.schema)
    v_columns = ", ".join(f"v.{ident(f.name)}" for f in spec.schema)
    con.execute(
        f"""
        CREATE TABLE checked_{spec.name} AS
        WITH n AS (SELECT _src, _row, _bad, {", ".join(norm)} FROM stage_{spec.name}),
        p AS (SELECT _src, _row, _bad, {", ".join(parsed)} FROM n),
        d AS ({_with_derived_ids("p") if derive_ids else "SELECT * FROM p"}),
        v AS (SELECT *, {_case(checks)} AS _r1 FROM d),
        j AS (
            SELECT {v_columns}, v._src, v._row, COALESCE(v._r1, {_case(references)}) AS _r2
            FROM v {" ".join(joins)}
        )
        SELECT {columns}, _src, _row,
            COALESCE(_r2, CASE WHEN {first} > 1 THEN {dup} END)::SMALLINT AS _rule
        FROM j
        """
    )
    if spec.name == "circles":
        _check_categories(con, book)
    if spec.name == "events":
        _check_group_starts(con, book)
    con.execute(
        f"CREATE VIEW acc_{spec.name} AS SELECT * FROM checked_{spec.name} WHERE _rule IS NULL"
    )
    rows = ", ".join(f"({i + 1}, {lit(c)}, {lit(r)})" for i, (c, r) in enumerate(book.rules))
    con.execute(
        f"CREATE TABLE rules_{spec.name} AS SELECT * FROM (VALUES {rows}) t(_rule, _field, _reason)"
    )
    return book


def _with_derived_ids(relation: str) -> str:
    """`relation` with a missing event_id (and its text) replaced by the id derived from the
    row; a row that has an id keeps it."""
    derived = derived_id_sql("_key", partition="_src", order="_row")
    return (
        'SELECT * EXCLUDE (_key, _id) REPLACE (COALESCE("event_id", _id) AS "event_id", '
        'COALESCE("event_id__s", _id) AS "event_id__s") '
        f"FROM (SELECT *, {derived} AS _id FROM (SELECT *, {event_key_sql()} AS _key "
        f"FROM {relation}))"
    )


def _bad_type(f: pa.Field, table_map: TableMap) -> str:
    if isinstance(f.type, pa.TimestampType):
        return "not a timestamp: " + TS_FORMS[table_map.ts_unit]
    if f.type == pa.bool_():
        return "not a boolean: expected true/false, t/f, 1/0, yes/no or y/n"
    if f.type == pa.int32():
        return "not a 32-bit integer"
    if f.type == pa.float64():
        return "not a finite number"
    return f"not a {f.type}"


def _row_rules(table: str, book: RuleBook) -> list[tuple[str, int]]:
    if table == "items":
        return [('"price" < 0', book.add("price", "price is negative"))]
    if table == "group_buys":
        return [
            (
                '"target_size" < 2',
                book.add("target_size", "target_size below 2: a group needs two buyers"),
            ),
            (
                '"deadline_ts" < "created_ts"',
                book.add("deadline_ts", "deadline_ts before created_ts"),
            ),
        ]
    if table == "events":
        group_types = ", ".join(map(lit, GROUP_EVENTS))
        return [
            (
                '"item_id" IS NULL AND "post_id" IS NULL',
                book.add("item_id", "event has neither item_id nor post_id"),
            ),
            (
                f'"type" IN ({group_types}) AND "group_id" IS NULL',
                book.add("group_id", "group buy event without group_id"),
            ),
            (
                f'"type" IN ({group_types}) AND "item_id" IS NULL',
                book.add("item_id", "group buy event without item_id"),
            ),
        ]
    if table == "social_edges":
        return [('"src" = "dst"', book.add("dst", "self-edge: dst equals src"))]
    return []


def _group_rules(alias: str, book: RuleBook) -> list[tuple[str, int]]:
    """Group buy start/join events must match their group's item and initiator (only the
    initiator starts, never joins) and fall in its lifetime."""
    group = f'v."type" IN ({", ".join(map(lit, GROUP_EVENTS))}) AND {alias}."group_id" IS NOT NULL'
    item = f'{group} AND v."item_id" <> {alias}."item_id"'
    initiator = f'v."user_id" = {alias}."initiator_id"'
    stranger = f'{group} AND v."type" = {lit(START)} AND NOT {initiator}'
    own = f'{group} AND v."type" = {lit(JOIN)} AND {initiator}'
    early = f'{group} AND v."ts" < {alias}."created_ts" - {CLOCK_SKEW}'
    late = f'{group} AND v."ts" > {alias}."deadline_ts" + {CLOCK_SKEW}'
    return [
        (item, book.add("item_id", "item_id differs from the group buy's item_id")),
        (stranger, book.add("user_id", "group_buy_start by another user than the initiator_id")),
        (own, book.add("user_id", "the group's initiator joins their own group")),
        (early, book.add("ts", "group buy event before the group was created")),
        (late, book.add("ts", "group buy event after the group's deadline")),
    ]


def _quarantine_rows(
    con: duckdb.DuckDBPyConnection, table: str, rule: int, rows_sql: str
) -> None:
    """Give `rule` to the rows of `checked_<table>` that `rows_sql` selects (by _src, _row):
    for rules that compare accepted rows with each other, after the per-row checks."""
    con.execute(
        f"""
        UPDATE checked_{table} SET _rule = {rule}
        FROM ({rows_sql}) bad
        WHERE checked_{table}._src = bad._src AND checked_{table}._row = bad._row
        """
    )


def _check_group_starts(con: duckdb.DuckDBPyConnection, book: RuleBook) -> None:
    """A group buy starts once: of its valid starts the first by time, then file order, stays."""
    rule = book.add(*ALREADY_STARTED)
    later_starts = f"""
        SELECT _src, _row FROM (
            SELECT _src, _row,
                row_number() OVER (PARTITION BY group_id ORDER BY ts, _src, _row) AS n
            FROM checked_events WHERE _rule IS NULL AND "type" = {lit(START)}
        ) WHERE n > 1
    """
    _quarantine_rows(con, "events", rule, later_starts)


def _check_categories(con: duckdb.DuckDBPyConnection, book: RuleBook) -> None:
    """A category seeds one circle only: later circles claiming it are quarantined."""
    rule = book.add("categories", "a category already seeds an earlier circle")
    claimants = """
        WITH c AS (
            SELECT _src, _row, circle_id, unnest(categories) AS cat
            FROM checked_circles WHERE _rule IS NULL
        ),
        owner AS (SELECT cat, arg_min(circle_id, (_src, _row)) AS owner FROM c GROUP BY cat)
        SELECT DISTINCT c._src, c._row FROM c JOIN owner USING (cat) WHERE c.circle_id <> owner
    """
    _quarantine_rows(con, "circles", rule, claimants)
