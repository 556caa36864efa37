"""Counting readings: per value of a column, per customer or device, and the gaps between a
subject's readings."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from stedi.analysis.formatting import count


def value_counts(df: DataFrame, column: str) -> DataFrame:
    """(column, rows) for every value of `column`, ordered by value."""
    return df.groupBy(column).agg(F.count(F.lit(1)).alias("rows")).orderBy(column)


def sampling_intervals(df: DataFrame, key: str, time_col: str) -> DataFrame:
    """Per subject: readings, instants (distinct timestamps) and the gaps between consecutive
    instants.

    Columns: key, readings, instants, interval_min, interval_median, interval_max (ms;
    null for a subject with a single instant).
    """
    per_instant = df.groupBy(key, time_col).agg(F.count(F.lit(1)).alias("_n"))
    gap = F.col(time_col) - F.lag(time_col).over(Window.partitionBy(key).orderBy(time_col))
    gaps = per_instant.withColumn("_gap", gap)
    return gaps.groupBy(key).agg(
        F.sum("_n").alias("readings"),
        F.count(F.lit(1)).alias("instants"),
        F.min("_gap").alias("interval_min"),
        F.percentile_approx("_gap", 0.5).alias("interval_median"),
        F.max("_gap").alias("interval_max"),
    )


def intervals_by_owner(
    accelerometer_sampling: pd.DataFrame, step_trainer_sampling: pd.DataFrame, owners: pd.DataFrame
) -> pd.DataFrame:
    """Per device with a known owner: the owner's accelerometer interval beside the device's (median
    gaps, ms).

    Inputs are small: `sampling_intervals` frames (one row per subject) and the owners
    (serialNumber, email), as pandas. Columns: serialNumber, user, accelerometer_interval,
    step_trainer_interval, ordered by serialNumber, user.
    """
    owned = owners[["serialNumber", "email"]].rename(columns={"email": "user"})
    accel = accelerometer_sampling[["user", "interval_median"]].rename(
        columns={"interval_median": "accelerometer_interval"}
    )
    step = step_trainer_sampling[["serialNumber", "interval_median"]].rename(
        columns={"interval_median": "step_trainer_interval"}
    )
    paired = owned.merge(step, on="serialNumber").merge(accel, on="user")
    columns = ["serialNumber", "user", "accelerometer_interval", "step_trainer_interval"]
    return paired[columns].sort_values(["serialNumber", "user"]).reset_index(drop=True)


def sampling_summary(intervals: pd.DataFrame) -> dict:
    """Summary of `sampling_intervals` (as pandas): the spread of gaps within and across
    subjects."""
    known = intervals.dropna(subset=["interval_median"])
    within = (known["interval_max"] - known["interval_min"]) if len(known) else pd.Series([0])
    return {
        "subjects": len(intervals),
        "readings": int(intervals["readings"].sum()),
        "instants": int(intervals["instants"].sum()),
        "readings_per_instant": float(
            intervals["readings"].sum() / max(intervals["instants"].sum(), 1)
        ),
        "max_spread_within": float(within.max()) if len(known) else float("nan"),
        "median_min": float(known["interval_median"].min()) if len(known) else float("nan"),
        "median_median": float(known["interval_median"].median()) if len(known) else float("nan"),
        "median_max": float(known["interval_median"].max()) if len(known) else float("nan"),
    }


def readings_sentence(per_customer: pd.DataFrame, per_device: pd.DataFrame) -> str:
    c, d = per_customer["readings"], per_device["readings"]
    return (
        f"{count(len(c))} customers have between {count(c.min())} and {count(c.max())} "
        "accelerometer readings "
        f"(median {c.median():,.0f}); {count(len(d))} devices have between {count(d.min())} and "
        f"{count(d.max())} step trainer readings (median {d.median():,.0f})."
    )


def sampling_sentence(accelerometer: dict, step_trainer: dict, by_owner: pd.DataFrame) -> str:
    fixed = [s["max_spread_within"] == 0 for s in (accelerometer, step_trainer)]
    rhythm = (
        "Both sensors sample at one fixed interval per customer or device"
        if all(fixed)
        else (
            "The gaps between readings of one subject vary by up to "
            f"{accelerometer['max_spread_within']:,.0f} ms "
            f"(accelerometer) and {step_trainer['max_spread_within']:,.0f} ms (step trainer)"
        )
    )
    paired = by_owner.dropna(subset=["accelerometer_interval", "step_trainer_interval"])
    same = int((paired["accelerometer_interval"] == paired["step_trainer_interval"]).sum())
    return (
        f"{rhythm}; the interval differs between customers, from "
        f"{accelerometer['median_min']:,.0f} to "
        f"{accelerometer['median_max']:,.0f} ms (median {accelerometer['median_median']:,.0f} ms). "
        f"For {count(same)} of {count(len(paired))} devices the step trainer's interval equals its "
        "owner's "
        "accelerometer interval. The accelerometer has "
        f"{accelerometer['readings_per_instant']:.2f} readings per "
        f"instant on average, the step trainer {step_trainer['readings_per_instant']:.2f}."
    )
