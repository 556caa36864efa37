"""The accelerometer's x, y, z: the values each axis takes, and the magnitude."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stedi.analysis.formatting import count, percent

AXES = ("x", "y", "z")


def with_magnitude(df: DataFrame) -> DataFrame:
    """`df` with `magnitude` = sqrt(x² + y² + z²)."""
    return df.withColumn("magnitude", F.sqrt(sum(F.col(a) * F.col(a) for a in AXES)))


def axis_value_counts(accelerometer: DataFrame) -> DataFrame:
    """(axis, value, rows): how often each axis takes each value."""
    long = accelerometer.select(*AXES).unpivot([], list(AXES), "axis", "value")
    return (
        long.groupBy("axis", "value").agg(F.count(F.lit(1)).alias("rows")).orderBy("axis", "value")
    )


def accelerometer_sentence(axis_counts: pd.DataFrame, magnitudes: pd.DataFrame) -> str:
    values = {a: sorted(axis_counts.loc[axis_counts["axis"] == a, "value"].tolist()) for a in AXES}

    def fmt(vs):
        return "{" + ", ".join(f"{v:g}" for v in vs) + "}"

    total = magnitudes["rows"].sum()
    zero = magnitudes.loc[magnitudes["magnitude"] == 0, "rows"].sum()
    distinct = len(set().union(*values.values()))
    shape = (
        f"the axes are quantized to {distinct} levels, not continuous measurements"
        if distinct <= 5
        else f"the axes take {distinct} distinct values"
    )
    return (
        f"x takes the values {fmt(values['x'])}, y {fmt(values['y'])} and z {fmt(values['z'])}: "
        f"{shape}. "
        f"The magnitude takes {len(magnitudes)} values; {percent(zero, total)} of {count(total)} "
        "readings "
        f"have magnitude 0 (no acceleration recorded at all)."
    )
