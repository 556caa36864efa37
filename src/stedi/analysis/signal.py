"""Does the accelerometer say anything about distance? Baseline models fitted on some devices,
scored on others.

The least-squares fit aggregates its normal equations (XᵀX and Xᵀy) in the same Spark
pass as the other statistics, so only a (k × k) matrix reaches the driver; numpy solves it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from stedi.analysis.accelerometer import AXES, with_magnitude
from stedi.analysis.formatting import count

# Below this share of explained variance on held-out devices, the accelerometer
# is reported as carrying no usable signal about distance.
SIGNAL_R2 = 0.01


def in_test_part(key: str, test_fraction: float = 0.25, seed: int = 7) -> Column:
    """True for the rows of the test subjects: every subject (all its rows) is in exactly one part.

    The part is chosen by a hash of `key` and `seed`: deterministic for a given seed, and no
    subject is on both sides, so a model is always judged on subjects it has never seen.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    bucket = F.pmod(F.xxhash64(F.col(key).cast("string"), F.lit(seed)), F.lit(10_000))
    return bucket < F.lit(round(test_fraction * 10_000))


def normal_equation_sums(
    target: str, features: list[str], where: Column | None = None
) -> list[Column]:
    """Aggregations of XᵀX (xx_i_j, i <= j) and Xᵀy (xy_i), X = [1, *features], over the rows where
    `where` holds."""
    cols = [F.lit(1.0)] + [F.col(f).cast("double") for f in features]
    y = F.col(target).cast("double")
    k = len(cols)

    def only(c):
        return c if where is None else F.when(where, c)

    aggs = [
        F.sum(only(cols[i] * cols[j])).alias(f"xx_{i}_{j}") for i in range(k) for j in range(i, k)
    ]
    return aggs + [F.sum(only(cols[i] * y)).alias(f"xy_{i}") for i in range(k)]


def solve_normal_equations(sums: Row, k: int) -> np.ndarray:
    """Coefficients [intercept, *features] of the least-squares fit, from the `normal_equation_sums`
    of k - 1 features.

    lstsq rather than solve: when XᵀX is singular (a feature constant over the rows, or no
    rows) it still returns the minimum-norm coefficients instead of raising.
    """
    xtx = np.array(
        [[sums[f"xx_{min(i, j)}_{max(i, j)}"] or 0.0 for j in range(k)] for i in range(k)]
    )
    xty = np.array([sums[f"xy_{i}"] or 0.0 for i in range(k)])
    return np.linalg.lstsq(xtx, xty, rcond=None)[0]


def _defined(value) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def distance_signal(
    ml: DataFrame,
    key: str = "serialNumber",
    target: str = "distanceFromObject",
    features: tuple[str, ...] = AXES,
    test_fraction: float = 0.25,
    seed: int = 7,
) -> dict:
    """Does the accelerometer predict distance on devices the model has not seen?

    Splits `ml` by `key`, fits on the train devices and scores on the test devices:
    the train mean (a predictor that ignores the accelerometer), a least-squares
    line on x, y, z and magnitude, and a lookup of the train mean distance per
    (x, y, z) orientation. r2_* is 1 - MSE / MSE of the mean predictor, on test.
    Correlations are over all rows.

    Two Spark queries: one over all rows (correlations, the split's sizes, the train mean
    and the normal equations of the train rows), one over the test rows (the three errors).
    """
    names = [*features, "magnitude"]
    is_test = in_test_part(key, test_fraction, seed)
    data = with_magnitude(ml).select(key, target, *features, "magnitude", is_test.alias("_test"))
    train_only, test_only = ~F.col("_test"), F.col("_test")
    stats = data.agg(
        *[F.corr(target, f).alias(f"corr_{f}") for f in names],
        F.count(F.when(train_only, 1)).alias("train_rows"),
        F.count(F.when(test_only, 1)).alias("test_rows"),
        F.countDistinct(F.when(train_only, F.col(key))).alias("train_subjects"),
        F.countDistinct(F.when(test_only, F.col(key))).alias("test_subjects"),
        F.avg(F.when(train_only, F.col(target))).alias("train_mean"),
        *normal_equation_sums(target, names, where=train_only),
    ).first()
    coefficients = solve_normal_equations(stats, len(names) + 1)
    mean = F.lit(stats["train_mean"] if stats["train_mean"] is not None else 0.0)
    linear = F.lit(float(coefficients[0])) + sum(
        F.lit(float(c)) * F.col(f) for c, f in zip(coefficients[1:], names)
    )
    cells = data.where(train_only).groupBy(*features).agg(F.avg(target).alias("_cell_mean"))
    looked_up = data.where(test_only).join(cells, list(features), "left")
    errors = looked_up.agg(
        F.avg((F.col(target) - mean) ** 2).alias("mean"),
        F.avg((F.col(target) - linear) ** 2).alias("linear"),
        F.avg((F.col(target) - F.coalesce(F.col("_cell_mean"), mean)) ** 2).alias("lookup"),
    ).first()
    mse = {
        name: float("nan") if errors[name] is None else float(errors[name])
        for name in ("mean", "linear", "lookup")
    }
    result = {
        "correlations": {f: _defined(stats[f"corr_{f}"]) for f in names},
        "train_rows": int(stats["train_rows"]),
        "test_rows": int(stats["test_rows"]),
        "train_subjects": int(stats["train_subjects"]),
        "test_subjects": int(stats["test_subjects"]),
        "coefficients": dict(zip(["intercept", *names], (float(c) for c in coefficients))),
        "rmse": {
            "train mean": math.sqrt(mse["mean"]),
            "least squares on x, y, z, magnitude": math.sqrt(mse["linear"]),
            "mean per orientation": math.sqrt(mse["lookup"]),
        },
    }
    mse_mean = mse["mean"]
    result["r2"] = {
        name: (1 - (rmse**2) / mse_mean) if mse_mean else float("nan")
        for name, rmse in result["rmse"].items()
    }
    return result


def magnitude_quantiles(ml: DataFrame, target: str = "distanceFromObject") -> pd.DataFrame:
    """Per magnitude: rows and the 5/25/50/75/95th percentiles of `target` (for box plots)."""
    qs = {"q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95}
    # One percentile per aggregate: Sail's percentile_approx takes no list of percentages.
    return (
        with_magnitude(ml)
        .groupBy("magnitude")
        .agg(
            F.count(F.lit(1)).alias("rows"),
            *[F.percentile_approx(target, q, 10_000).alias(name) for name, q in qs.items()],
        )
        .orderBy("magnitude")
        .toPandas()
    )


def signal_sentence(s: dict) -> str:
    corr = s["correlations"]
    known = {f: r for f, r in corr.items() if r is not None}
    strongest = max(known, key=lambda f: abs(known[f])) if known else None
    best = max(
        s["r2"], key=lambda name: s["r2"][name] if not math.isnan(s["r2"][name]) else -math.inf
    )
    best_r2 = s["r2"][best]
    split = (
        f"Fitted on {count(s['train_rows'])} rows of {count(s['train_subjects'])} devices and "
        "scored on "
        f"{count(s['test_rows'])} rows of {count(s['test_subjects'])} other devices"
    )
    if strongest is None:
        corr_text = "No correlation is defined (a feature or the distance is constant)"
    else:
        corr_text = (
            "The strongest correlation of distance with an accelerometer feature is r = "
            f"{known[strongest]:.3f} ({strongest})"
        )
    verdict = (
        "the accelerometer carries no usable signal about distance on this data"
        if math.isnan(best_r2) or best_r2 < SIGNAL_R2
        else "the accelerometer carries some signal about distance"
    )
    return (
        f"{corr_text}. {split}, the best model, {best}, has RMSE {s['rmse'][best]:.2f} against "
        f"{s['rmse']['train mean']:.2f} for the train mean, explaining {best_r2:.2%} of the "
        "variance: "
        f"{verdict}."
    )
