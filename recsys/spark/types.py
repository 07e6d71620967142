"""The contract's pyarrow types as Spark SQL types (the one place that maps them)."""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import types as T

from recsys.contract import TableSpec

_TYPES: dict[pa.DataType, T.DataType] = {
    pa.string(): T.StringType(),
    pa.bool_(): T.BooleanType(),
    pa.int32(): T.IntegerType(),
    pa.float64(): T.DoubleType(),
    pa.timestamp("us", tz="UTC"): T.TimestampType(),
    pa.list_(pa.string()): T.ArrayType(T.StringType()),
}


def spark_type(arrow: pa.DataType) -> T.DataType:
    return _TYPES[arrow]


def spark_schema(spec: TableSpec, extra: tuple[tuple[str, str], ...] = ()) -> T.StructType:
    """The contract schema of `spec` as a Spark schema, with `extra` (name, DDL type) after."""
    fields = [T.StructField(f.name, spark_type(f.type), True) for f in spec.schema]
    fields += [T.StructField(name, T._parse_datatype_string(kind), True) for name, kind in extra]
    return T.StructType(fields)
