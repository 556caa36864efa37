"""distanceFromObject: its distribution, a few devices' series, and how each reading follows the
previous one."""

from __future__ import annotations

import math

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from stedi.analysis.formatting import count


def distance_summary(counts: pd.DataFrame, column: str = "distanceFromObject") -> dict:
    """rows, min, max, mean, std of `column`, and the std a uniform spread over [min, max]
    (integers) would have.

    From its `readings.value_counts` (as pandas): the exact distribution, so no second pass over the
    readings. Nulls are not counted (min, max, mean and std are None when there is no value).
    """
    known = counts.dropna(subset=[column])
    values, weights = known[column].to_numpy(dtype=float), known["rows"].to_numpy(dtype=float)
    rows = int(weights.sum())
    if not rows:
        return {
            "rows": 0,
            "min": None,
            "max": None,
            "mean": None,
            "std": None,
            "uniform_std": float("nan"),
        }
    mean = float((values * weights).sum() / rows)
    low, high = int(values.min()), int(values.max())
    width = high - low + 1
    return {
        "rows": rows,
        "min": low,
        "max": high,
        "mean": mean,
        "std": math.sqrt(float((weights * (values - mean) ** 2).sum() / rows)),
        "uniform_std": math.sqrt((width**2 - 1) / 12),
    }


def consecutive_readings(
    df: DataFrame, key: str, time_col: str, value: str
) -> dict[str, float | None]:
    """Each reading against the previous reading of the same subject, in one pass.

    autocorrelation  correlation of each value with the previous one (None if undefined)
    mean_change      mean |value - previous value| (None if no subject has two readings)
    """
    previous = F.lag(value).over(Window.partitionBy(key).orderBy(time_col))
    row = (
        df.select(F.col(value).alias("_value"), previous.alias("_previous"))
        .agg(
            F.corr("_value", "_previous").alias("r"),
            F.avg(F.abs(F.col("_value") - F.col("_previous"))).alias("m"),
        )
        .first()
    )
    r, m = row["r"], row["m"]
    return {
        "autocorrelation": None if r is None or math.isnan(r) else float(r),
        "mean_change": None if m is None else float(m),
    }


def uniform_mean_change(low: int, high: int) -> float:
    """E|U1 - U2| for two independent draws from the integers low..high: (n² - 1) / (3n), n = high -
    low + 1."""
    n = high - low + 1
    return (n * n - 1) / (3 * n)


def busiest(per_subject: pd.DataFrame, n: int, key: str = "serialNumber") -> list[str]:
    """The `n` subjects with the most readings (ties by key): a deterministic choice of examples.

    `per_subject`: one row per subject with its `readings` (a `sampling_intervals` frame, as
    pandas).
    """
    top = per_subject.sort_values(
        ["readings", key], ascending=[False, True], kind="mergesort"
    ).head(n)
    return [str(k) for k in top[key]]


def device_series(
    step_trainer: DataFrame,
    serials: list[str],
    time_col: str = "sensorReadingTime",
    key: str = "serialNumber",
) -> DataFrame:
    """The readings of `serials`, with `seconds` since each device's first reading."""
    first = F.min(time_col).over(Window.partitionBy(key))
    return (
        step_trainer.where(F.col(key).isin(serials))
        .withColumn("seconds", (F.col(time_col) - first) / 1000.0)
        .orderBy(key, time_col)
    )


def distance_sentence(summary: dict, autocorrelation: float | None) -> str:
    s = summary
    auto = (
        f"consecutive readings of one device correlate at r = {autocorrelation:.3f}"
        if autocorrelation is not None
        else "no device has two readings to compare"
    )
    return (
        f"distanceFromObject ranges from {s['min']} to {s['max']} over {count(s['rows'])} "
        "readings, mean "
        f"{s['mean']:.1f}, standard deviation {s['std']:.1f} (a uniform spread over that range "
        "would give "
        f"{s['uniform_std']:.1f}); {auto}, so a device's next distance is "
        + (
            "about as predictable from its last one as a fresh random draw."
            if autocorrelation is None or abs(autocorrelation) < 0.1
            else "partly predictable from its last one."
        )
    )


def series_sentence(devices: int, readings: int, change: float | None, summary: dict) -> str:
    head = (
        f"{devices} example devices, {count(readings)} readings (labelled by the first 8 "
        "characters of the serial number). "
    )
    if change is None or summary["min"] is None:
        return head + "No device has two readings to compare."
    expected = uniform_mean_change(summary["min"], summary["max"])
    looks = (
        "noise rather than a smooth motion"
        if change >= 0.8 * expected
        else "a smoother signal than independent draws"
    )
    return head + (
        f"Across all devices, consecutive readings differ by {change:.1f} on average; two "
        "independent draws "
        f"from {summary['min']} to {summary['max']} would differ by {expected:.1f}: the series "
        f"look like {looks}."
    )
