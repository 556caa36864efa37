"""Spark schemas from the declared column types of stedi.core.tables."""

from __future__ import annotations

from pyspark.sql import types as T

from stedi.core.tables import Columns

SPARK_TYPES = {
    "string": T.StringType(),
    "bigint": T.LongType(),
    "int": T.IntegerType(),
    "double": T.DoubleType(),
}


def spark_schema(columns: Columns) -> T.StructType:
    return T.StructType([T.StructField(name, SPARK_TYPES[typ], True) for name, typ in columns])


def schema_difference(actual: T.StructType, columns: Columns) -> list[str]:
    """Human-readable differences between a frame's schema and a declared one (empty when equal)."""
    want = [(n, SPARK_TYPES[t].simpleString()) for n, t in columns]
    have = [(f.name, f.dataType.simpleString()) for f in actual.fields]
    if want == have:
        return []
    problems = []
    want_d, have_d = dict(want), dict(have)
    for name, typ in want:
        if name not in have_d:
            problems.append(f"missing column {name} {typ}")
        elif have_d[name] != typ:
            problems.append(f"column {name} is {have_d[name]}, declared {typ}")
    for name, typ in have:
        if name not in want_d:
            problems.append(f"undeclared column {name} {typ}")
    if not problems:
        problems.append("column order differs: " + ", ".join(n for n, _ in have))
    return problems
