"""Tiny hand-built frames for the transform tests, with the declared schemas."""

from __future__ import annotations

from stedi.core.schemas import spark_schema
from stedi.core.tables import ACCELEROMETER_COLUMNS, CUSTOMER_COLUMNS, STEP_TRAINER_COLUMNS

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


def rows_of(df, *columns):
    """The frame's rows (of `columns`, default all) as a sorted list of tuples: a whole-frame comparison."""
    selected = df.select(*columns) if columns else df
    return sorted(tuple(r) for r in selected.collect())
