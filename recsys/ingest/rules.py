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

import duckdb
import pyarrow as pa

from recsys.contract import TableSpec
from recsys.ingest.column_map import TableMap
from recsys.ingest.event_ids import derived_id_sql, event_key_sql
from recsys.ingest.rule_table import (
    ALREADY_STARTED,
    CATEGORY_OWNERS,
    DUCKDB,
    GROUP_STARTS,
    START,
    TS_MAX,
    TS_MIN,
    RuleBook,
    rule_book,
)
from recsys.ingest.sql import ident, lit

__all__ = [
    "ALREADY_STARTED", "TS_MAX", "TS_MIN", "RuleBook", "check", "create_empty", "normalise_expr",
    "parse_expr",
]

# ISO-8601 text starts with a four-digit year (DuckDB alone also reads 'infinity' and 'epoch'),
# and a UTC offset is at most 14 hours (DuckDB alone reads +25:00 and +99:99).
ISO_START = "^[0-9]{4}-"
ISO_OFFSET = "[0-9]:[0-9]{2}(?::[0-9]{2})?(?:[.][0-9]+)?\\s*[+-]([0-9]{1,2})(?::?([0-9]{2}))?$"
MAX_OFFSET_MINUTES = 14 * 60

TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")

DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
    pa.list_(pa.string()): "VARCHAR[]",
}

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
    book = rule_book(spec, table_map, DUCKDB, accept_new=accept_new)
    norm, parsed = [], []
    for f in spec.schema:
        col, s = ident(f.name), ident(f.name + "__s")
        normalised = normalise_expr(
            f.name, types[f.name], table_map,
            enum=any(f.name == column for column, _ in spec.enums),
            is_list=pa.types.is_list(f.type),
        )
        norm.append(f"{normalised} AS {s}")
        parsed.append(f"{s}, {parse_expr(s, types[f.name], f.type, table_map.ts_unit)} AS {col}")
    joins = [
        f"LEFT JOIN acc_{table} {alias} ON v.{ident(column)} = {alias}.{ident(ref_key)}"
        for alias, table, column, ref_key in book.joins
    ]
    checks, references, dup = book.checks, book.references, book.duplicate
    key = ", ".join(ident(k) for k in spec.key)
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
    rule = book.post[GROUP_STARTS]
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
    rule = book.post[CATEGORY_OWNERS]
    claimants = """
        WITH c AS (
            SELECT _src, _row, circle_id, unnest(categories) AS cat
            FROM checked_circles WHERE _rule IS NULL
        ),
        owner AS (SELECT cat, arg_min(circle_id, (_src, _row)) AS owner FROM c GROUP BY cat)
        SELECT DISTINCT c._src, c._row FROM c JOIN owner USING (cat) WHERE c.circle_id <> owner
    """
    _quarantine_rows(con, "circles", rule, claimants)
