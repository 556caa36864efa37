"""Tiny hand-built frames for the transform tests, with the declared schemas, and whole-frame
comparison."""

from __future__ import annotations

from collections import Counter

from stedi.core.schemas import spark_schema
from stedi.core.tables import (
    ACCELEROMETER_COLUMNS,
    CUSTOMER_COLUMNS,
    STEP_TRAINER_COLUMNS,
    table,
)

CONSENT_A = 1_655_564_000_000


def customers(spark, rows):
    """rows: (email, serialNumber, shareWithResearchAsOfDate) triples; other columns filled in."""
    full = [
        (email.split("@")[0], email, "8015551212", "1990-01-01", serial, 1, 1, consent, None, None)
        for email, serial, consent in rows
    ]
    return spark.createDataFrame(full, spark_schema(CUSTOMER_COLUMNS))


def accelerometer(spark, rows):
    """rows: (user, timestamp, x, y, z)."""
    return spark.createDataFrame([tuple(r) for r in rows], spark_schema(ACCELEROMETER_COLUMNS))


def step_trainer(spark, rows):
    """rows: (sensorReadingTime, serialNumber, distanceFromObject)."""
    return spark.createDataFrame([tuple(r) for r in rows], spark_schema(STEP_TRAINER_COLUMNS))


def declared(spark, name: str, rows, policy: str = "strict"):
    """A frame of table `name` with its declared columns under `policy`; rows in that column
    order."""
    return spark.createDataFrame(
        [tuple(r) for r in rows], spark_schema(table(name).columns_for(policy))
    )


def rows_of(df, *columns):
    """The frame's rows (of `columns`, default all) as a sorted list of tuples."""
    selected = df.select(*columns) if columns else df
    return sorted(tuple(r) for r in selected.collect())


def assert_frames_equal(actual, expected) -> None:
    """The same columns with the same types, in order, and the same rows in any order (duplicates
    counted).

    chispa's assert_df_equality(ignore_row_order=True, ignore_nullable=True): nullability
    is what Spark's plan makes of it, not part of a transform's contract.
    """
    have = [(f.name, f.dataType.simpleString()) for f in actual.schema.fields]
    want = [(f.name, f.dataType.simpleString()) for f in expected.schema.fields]
    assert have == want, f"schema differs:\n  actual   {have}\n  expected {want}"
    got, wanted = (
        Counter(tuple(r) for r in actual.collect()),
        Counter(tuple(r) for r in expected.collect()),
    )
    missing, extra = (
        sorted(map(repr, (wanted - got).elements())),
        sorted(map(repr, (got - wanted).elements())),
    )
    assert got == wanted, f"rows differ:\n  missing {missing}\n  unexpected {extra}"
