"""Source cells to contract values as Spark columns: the Spark twin of `ingest.rules`'s
`normalise_expr` and `parse_expr`, giving the same value (or NULL) for the same cell.

Text is trimmed, empty means missing, value maps and lower-casing of enums apply; then each
contract type parses as DuckDB parses it for the local engine: booleans from the same words,
integers from numbers without a fraction, finite doubles, ';'-separated lists, timestamps from
epoch seconds or milliseconds or ISO-8601 text (a four-digit year first, an offset of at most
14 hours). The parity test in tests/spark compares both engines cell by cell on planted values.
"""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F

from recsys.ingest.column_map import TableMap
from recsys.ingest.rules import FALSE_WORDS, ISO_OFFSET, ISO_START, MAX_OFFSET_MINUTES, TRUE_WORDS

TEXT = "string"
_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?$"
_MAX_DOUBLE = 1.7976931348623157e308


def is_text(source_type: str) -> bool:
    return source_type == TEXT


def normalise(
    column: str, source_type: str, table_map: TableMap, *, enum: bool = False,
    is_list: bool = False,
) -> Column:
    """Text trimmed, empty -> NULL (an empty list cell: the empty list), value map, enums
    lower-cased; other source types as they are."""
    col = F.col(f"`{column}`")
    values = table_map.values.get(column)
    if not (is_text(source_type) or values or enum):
        return col
    text = F.trim(col.cast("string"))
    expr = F.coalesce(text, F.lit("")) if is_list else F.nullif(text, F.lit(""))
    if values:
        items = sorted(values.items())
        chain = F.when(expr == items[0][0], F.lit(items[0][1]))
        for key, value in items[1:]:
            chain = chain.when(expr == key, F.lit(value))
        expr = chain.otherwise(expr)
    return F.lower(expr) if enum else expr


def parse(s: Column, source_type: str, target: pa.DataType, unit: str) -> Column:
    """`s` in the contract type, NULL when it does not parse."""
    text = is_text(source_type)
    if target == pa.string():
        return s if text else s.cast("string")
    if target == pa.bool_():
        if source_type == "boolean":
            return s
        low = F.lower(s.cast("string"))
        return F.when(low.isin(*TRUE_WORDS), True).when(low.isin(*FALSE_WORDS), False)
    if target == pa.int32():
        d = _try_cast(s, "double")
        return F.when(d == F.rint(d), _try_cast(d, "int"))
    if target == pa.float64():
        d = _try_cast(s, "double")
        return F.when(~F.isnan(d) & (F.abs(d) <= _MAX_DOUBLE), d)
    if target == pa.list_(pa.string()):
        if source_type.startswith("array"):
            return s.cast("array<string>")
        parts = F.transform(F.split(s.cast("string"), ";"), F.trim)
        return F.filter(parts, lambda x: x != "")
    if isinstance(target, pa.TimestampType):
        if source_type.startswith(("timestamp", "date")):
            return _try_cast(s, "timestamp")
        seconds = _epoch(_try_cast(s, "double"), 1_000_000)
        millis = _epoch(_try_cast(s, "double"), 1_000)
        iso = _iso(s) if text else F.lit(None).cast("timestamp")
        if unit == "s":
            return seconds
        if unit == "ms":
            return millis
        if unit == "iso":
            return iso
        if not text:
            return seconds
        return F.when(s.rlike(_NUMBER), seconds).otherwise(iso)
    raise TypeError(f"no parser for contract type {target}")


def _try_cast(col: Column, to: str) -> Column:
    return col.try_cast(to)


def _epoch(d: Column, micros_per_unit: int) -> Column:
    """Epoch seconds or milliseconds (a double) as a timestamp; NULL past Spark's range."""
    micros = _try_cast(F.round(d * micros_per_unit), "bigint")
    return F.when(~F.isnan(d) & (F.abs(d) <= 9.2e18 / micros_per_unit), F.timestamp_micros(micros))


def _iso(s: Column) -> Column:
    """ISO-8601 text as a timestamp; NULL without a four-digit year first or for an offset
    past 14 hours."""
    hours = _try_cast(F.regexp_extract(s, ISO_OFFSET, 1), "int")
    minutes = F.coalesce(_try_cast(F.regexp_extract(s, ISO_OFFSET, 2), "int"), F.lit(0))
    too_far = (hours * 60 + minutes > MAX_OFFSET_MINUTES) | (minutes >= 60)
    bad_offset = F.coalesce(too_far, F.lit(False))
    return F.when(s.rlike(ISO_START) & ~bad_offset, _try_cast(s, "timestamp"))
