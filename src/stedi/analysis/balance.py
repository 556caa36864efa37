"""The exploratory balance analysis: aggregates, a baseline model, and the sentences that read them.

`notebooks/balance_analysis.ipynb` is I/O, calls and plots; everything it computes
is here. Spark does the aggregation (the functions take and mostly return Spark
DataFrames or small dicts), and only small results go to pandas for plotting.
The `*_sentence` functions turn a result into the sentence printed under its
figure, so no number in the analysis's prose is typed by hand.

Sections, in the notebook's order:

- consent funnel   rows per table under both policies, recomputed from the landing
                   tables with the pipeline's own transforms
- readings         readings per customer and device, sampling intervals
- distance         distanceFromObject: distribution, per-device series, autocorrelation
- accelerometer    x/y/z values and magnitude
- alignment        how step trainer readings and accelerometer readings line up
- signal           does the accelerometer say anything about distance? (split by device)
- findings         the run's intake and data-quality results, from its manifest
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import Window
from pyspark.sql import functions as F

from stedi.run.report import CAPTIONS_FILE, FIGURES_DIR
from stedi.core.tables import TABLES
from stedi.core.transforms import POLICIES
from stedi.core.transforms.accelerometer_trusted import consented_accelerometer_readings
from stedi.core.transforms.customer_curated import customers_with_readings
from stedi.core.transforms.customer_trusted import consenting_customers
from stedi.core.transforms.machine_learning_curated import machine_learning_readings
from stedi.core.transforms.step_trainer_trusted import consented_step_trainer_readings

# The analysis as a step of a run: its completion record, and its figures (where and in
# which order the run's index page shows them: stedi.run.report).
STEP_NAME = "balance_analysis"

# Below this share of explained variance on held-out devices, the accelerometer
# is reported as carrying no usable signal about distance.
SIGNAL_R2 = 0.01

FUNNEL_ENTITIES = {
    "customer_landing": "customers",
    "customer_trusted": "customers",
    "customer_curated": "customers",
    "accelerometer_landing": "accelerometer readings",
    "accelerometer_trusted": "accelerometer readings",
    "step_trainer_landing": "step trainer readings",
    "step_trainer_trusted": "step trainer readings",
    "machine_learning_curated": "ML rows",
}


# -- formatting ----------------------------------------------------------------
def count(n: int | float) -> str:
    """A count with thousands separators: 81273 -> '81,273'."""
    return f"{int(n):,}"


def percent(part: float, whole: float, digits: int = 1) -> str:
    return f"{100 * part / whole:.{digits}f}%" if whole else "n/a"


# -- consent funnel ------------------------------------------------------------
def policy_tables(
    customer_landing: DataFrame, accelerometer_landing: DataFrame, step_trainer_landing: DataFrame, policy: str
) -> dict[str, DataFrame]:
    """Every table of the lake under `policy`, derived from the landing tables by the pipeline's transforms."""
    customer_trusted = consenting_customers(customer_landing, policy)
    accelerometer_trusted = consented_accelerometer_readings(accelerometer_landing, customer_trusted, policy)
    customer_curated = customers_with_readings(customer_trusted, accelerometer_trusted, policy)
    step_trainer_trusted = consented_step_trainer_readings(step_trainer_landing, customer_curated, policy)
    machine_learning_curated = machine_learning_readings(
        step_trainer_trusted, accelerometer_trusted, customer_curated, policy
    )
    return {
        "customer_landing": customer_landing,
        "accelerometer_landing": accelerometer_landing,
        "step_trainer_landing": step_trainer_landing,
        "customer_trusted": customer_trusted,
        "accelerometer_trusted": accelerometer_trusted,
        "step_trainer_trusted": step_trainer_trusted,
        "customer_curated": customer_curated,
        "machine_learning_curated": machine_learning_curated,
    }


# The landing columns the pipeline's transforms read (and the ML table's selected columns):
# the funnel reads and caches only these.
FUNNEL_COLUMNS = {
    "customer_landing": ("email", "serialNumber", "shareWithResearchAsOfDate"),
    "accelerometer_landing": ("user", "timestamp", "x", "y", "z"),
    "step_trainer_landing": ("sensorReadingTime", "serialNumber", "distanceFromObject"),
}

DERIVATION_ORDER = (
    "customer_trusted",
    "accelerometer_trusted",
    "customer_curated",
    "step_trainer_trusted",
    "machine_learning_curated",
)


def consent_funnel(
    customer_landing: DataFrame, accelerometer_landing: DataFrame, step_trainer_landing: DataFrame
) -> pd.DataFrame:
    """Rows per table under each policy: one row per table (lake order), columns table, zone, entity, <policies>.

    Counts only: each policy's tables are derived from the same landing tables
    (cache them first, `FUNNEL_COLUMNS` only; the landing counts are shared by both policies).
    """
    landing = {"customer_landing": customer_landing, "accelerometer_landing": accelerometer_landing,
               "step_trainer_landing": step_trainer_landing}
    landing_rows = {name: df.count() for name, df in landing.items()}
    rows = {name: {"table": name, "zone": TABLES[name].zone, "entity": FUNNEL_ENTITIES[name]} for name in TABLES}

    def policy_counts(policy: str) -> dict[str, int]:
        tables = policy_tables(customer_landing, accelerometer_landing, step_trainer_landing, policy)
        counts, cached = dict(landing_rows), []
        # In dependency order, each cached once counted: the later tables reuse the earlier ones.
        for name in DERIVATION_ORDER:
            table = tables[name].cache()
            cached.append(table)
            counts[name] = table.count()
        for table in cached:
            table.unpersist()
        return counts

    # Both policies at once, on threads sharing the Spark session (many small jobs: while one
    # waits on the driver, the other uses the cores).
    with ThreadPoolExecutor(len(POLICIES), thread_name_prefix="stedi-funnel") as pool:
        for policy, counts in zip(POLICIES, pool.map(policy_counts, POLICIES)):
            for name, n in counts.items():
                rows[name][policy] = n
    return pd.DataFrame(list(rows.values()))


def recorded_rows(manifest: dict | None, paths: dict[str, str]) -> dict[str, int]:
    """Rows of each table as the run wrote it (its manifest's `tables`), for the tables whose recorded path is `paths[name]`.

    A table recorded at another path (another lake) is left out: count it instead.
    """
    tables = (manifest or {}).get("tables") or {}
    return {
        name: int(t["rows"])
        for name, t in tables.items()
        if name in paths and t.get("rows") is not None and str(t.get("path")) == str(paths[name])
    }


def lake_rows_source(recorded: dict[str, int], counted: dict[str, int]) -> str:
    """Where the lake's row counts compared with the recomputation come from, for the funnel's caption."""
    if recorded and counted:
        return f"row counts from this run's manifest; {', '.join(counted)} counted in the lake"
    if recorded:
        return "row counts as written by this run, from its manifest"
    return "row counts read from the lake" if counted else ""


def funnel_mismatches(funnel: pd.DataFrame, lake_rows: dict[str, int], policy: str) -> dict[str, tuple[int, int]]:
    """Tables whose row count in the lake differs from the recomputed one: name -> (recomputed, in the lake)."""
    recomputed = dict(zip(funnel["table"], funnel[policy]))
    return {
        name: (int(recomputed[name]), int(rows))
        for name, rows in lake_rows.items()
        if name in recomputed and int(recomputed[name]) != int(rows)
    }


def funnel_sentence(
    funnel: pd.DataFrame, mismatches: dict[str, tuple[int, int]], policy: str, lake_rows_from: str = ""
) -> str:
    """The funnel's caption; `lake_rows_from` says where the lake's row counts come from (appended in parentheses)."""
    n = dict(zip(funnel["table"], funnel.to_dict("records")))
    c_land, c_trust = n["customer_landing"]["strict"], n["customer_trusted"]["strict"]
    a_u, a_s = n["accelerometer_trusted"]["udacity"], n["accelerometer_trusted"]["strict"]
    s_u, s_s = n["step_trainer_trusted"]["udacity"], n["step_trainer_trusted"]["strict"]
    cc_u, cc_s = n["customer_curated"]["udacity"], n["customer_curated"]["strict"]
    m_u, m_s = n["machine_learning_curated"]["udacity"], n["machine_learning_curated"]["strict"]
    text = (
        f"Consent keeps {count(c_trust)} of {count(c_land)} customers ({percent(c_trust, c_land)}). "
        f"Time-bounded consent (strict) then drops {count(a_u - a_s)} of the rubric's {count(a_u)} trusted "
        f"accelerometer readings ({percent(a_u - a_s, a_u)}, taken before their owner consented), "
        f"{count(cc_u - cc_s)} curated customers and {count(s_u - s_s)} step trainer readings; "
        f"the ML table has {count(m_u)} rows under udacity and {count(m_s)} under strict. "
    )
    if mismatches:
        diffs = ", ".join(f"{name} {count(a)} recomputed vs {count(b)} in the lake" for name, (a, b) in mismatches.items())
        text += f"The lake's tables (policy {policy}) differ from the recomputation: {diffs}."
    else:
        text += f"The lake's tables (policy {policy}) hold exactly the recomputed {policy} counts."
    if lake_rows_from:
        text = text[:-1] + f" ({lake_rows_from})."
    return text


# -- readings per subject and sampling -----------------------------------------
def sampling_intervals(df: DataFrame, key: str, time_col: str) -> DataFrame:
    """Per subject: readings, instants (distinct timestamps) and the gaps between consecutive instants.

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
    """Per device with a known owner: the owner's accelerometer interval beside the device's (median gaps, ms).

    Inputs are small: `sampling_intervals` frames (one row per subject) and the owners (serialNumber, email),
    as pandas. Columns: serialNumber, user, accelerometer_interval, step_trainer_interval, ordered by serialNumber, user.
    """
    owned = owners[["serialNumber", "email"]].rename(columns={"email": "user"})
    accel = accelerometer_sampling[["user", "interval_median"]].rename(columns={"interval_median": "accelerometer_interval"})
    step = step_trainer_sampling[["serialNumber", "interval_median"]].rename(
        columns={"interval_median": "step_trainer_interval"}
    )
    paired = owned.merge(step, on="serialNumber").merge(accel, on="user")
    columns = ["serialNumber", "user", "accelerometer_interval", "step_trainer_interval"]
    return paired[columns].sort_values(["serialNumber", "user"]).reset_index(drop=True)


def sampling_summary(intervals: pd.DataFrame) -> dict:
    """Summary of `sampling_intervals` (as pandas): the spread of gaps within and across subjects."""
    known = intervals.dropna(subset=["interval_median"])
    within = (known["interval_max"] - known["interval_min"]) if len(known) else pd.Series([0])
    return {
        "subjects": int(len(intervals)),
        "readings": int(intervals["readings"].sum()),
        "instants": int(intervals["instants"].sum()),
        "readings_per_instant": float(intervals["readings"].sum() / max(intervals["instants"].sum(), 1)),
        "max_spread_within": float(within.max()) if len(known) else float("nan"),
        "median_min": float(known["interval_median"].min()) if len(known) else float("nan"),
        "median_median": float(known["interval_median"].median()) if len(known) else float("nan"),
        "median_max": float(known["interval_median"].max()) if len(known) else float("nan"),
    }


def readings_sentence(per_customer: pd.DataFrame, per_device: pd.DataFrame) -> str:
    c, d = per_customer["readings"], per_device["readings"]
    return (
        f"{count(len(c))} customers have between {count(c.min())} and {count(c.max())} accelerometer readings "
        f"(median {c.median():,.0f}); {count(len(d))} devices have between {count(d.min())} and "
        f"{count(d.max())} step trainer readings (median {d.median():,.0f})."
    )


def sampling_sentence(accelerometer: dict, step_trainer: dict, by_owner: pd.DataFrame) -> str:
    fixed = [s["max_spread_within"] == 0 for s in (accelerometer, step_trainer)]
    rhythm = (
        "Both sensors sample at one fixed interval per customer or device"
        if all(fixed)
        else (
            f"The gaps between readings of one subject vary by up to {accelerometer['max_spread_within']:,.0f} ms "
            f"(accelerometer) and {step_trainer['max_spread_within']:,.0f} ms (step trainer)"
        )
    )
    paired = by_owner.dropna(subset=["accelerometer_interval", "step_trainer_interval"])
    same = int((paired["accelerometer_interval"] == paired["step_trainer_interval"]).sum())
    return (
        f"{rhythm}; the interval differs between customers, from {accelerometer['median_min']:,.0f} to "
        f"{accelerometer['median_max']:,.0f} ms (median {accelerometer['median_median']:,.0f} ms). "
        f"For {count(same)} of {count(len(paired))} devices the step trainer's interval equals its owner's "
        f"accelerometer interval. The accelerometer has {accelerometer['readings_per_instant']:.2f} readings per "
        f"instant on average, the step trainer {step_trainer['readings_per_instant']:.2f}."
    )


# -- distance ------------------------------------------------------------------
def value_counts(df: DataFrame, column: str) -> DataFrame:
    """(column, rows) for every value of `column`, ordered by value."""
    return df.groupBy(column).agg(F.count(F.lit(1)).alias("rows")).orderBy(column)


def distance_summary(counts: pd.DataFrame, column: str = "distanceFromObject") -> dict:
    """rows, min, max, mean, std of `column`, and the std a uniform spread over [min, max] (integers) would have.

    From its `value_counts` (as pandas): the exact distribution, so no second pass over the readings.
    Nulls are not counted (min, max, mean and std are None when there is no value).
    """
    known = counts.dropna(subset=[column])
    values, weights = known[column].to_numpy(dtype=float), known["rows"].to_numpy(dtype=float)
    rows = int(weights.sum())
    if not rows:
        return {"rows": 0, "min": None, "max": None, "mean": None, "std": None, "uniform_std": float("nan")}
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


def consecutive_readings(df: DataFrame, key: str, time_col: str, value: str) -> dict[str, float | None]:
    """Each reading against the previous reading of the same subject, in one pass.

    autocorrelation  correlation of each value with the previous one (None if undefined)
    mean_change      mean |value - previous value| (None if no subject has two readings)
    """
    previous = F.lag(value).over(Window.partitionBy(key).orderBy(time_col))
    row = (
        df.select(F.col(value).alias("_value"), previous.alias("_previous"))
        .agg(F.corr("_value", "_previous").alias("r"), F.avg(F.abs(F.col("_value") - F.col("_previous"))).alias("m"))
        .first()
    )
    r, m = row["r"], row["m"]
    return {
        "autocorrelation": None if r is None or math.isnan(r) else float(r),
        "mean_change": None if m is None else float(m),
    }


def uniform_mean_change(low: int, high: int) -> float:
    """E|U1 - U2| for two independent draws from the integers low..high: (n² - 1) / (3n), n = high - low + 1."""
    n = high - low + 1
    return (n * n - 1) / (3 * n)


def busiest(per_subject: pd.DataFrame, n: int, key: str = "serialNumber") -> list[str]:
    """The `n` subjects with the most readings (ties by key): a deterministic choice of examples.

    `per_subject`: one row per subject with its `readings` (a `sampling_intervals` frame, as pandas).
    """
    top = per_subject.sort_values(["readings", key], ascending=[False, True], kind="mergesort").head(n)
    return [str(k) for k in top[key]]


def device_series(
    step_trainer: DataFrame, serials: list[str], time_col: str = "sensorReadingTime", key: str = "serialNumber"
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
        f"distanceFromObject ranges from {s['min']} to {s['max']} over {count(s['rows'])} readings, mean "
        f"{s['mean']:.1f}, standard deviation {s['std']:.1f} (a uniform spread over that range would give "
        f"{s['uniform_std']:.1f}); {auto}, so a device's next distance is "
        + ("about as predictable from its last one as a fresh random draw." if autocorrelation is None
           or abs(autocorrelation) < 0.1 else "partly predictable from its last one.")
    )


def series_sentence(devices: int, readings: int, change: float | None, summary: dict) -> str:
    head = f"{devices} example devices, {count(readings)} readings (labelled by the first 8 characters of the serial number). "
    if change is None or summary["min"] is None:
        return head + "No device has two readings to compare."
    expected = uniform_mean_change(summary["min"], summary["max"])
    looks = "noise rather than a smooth motion" if change >= 0.8 * expected else "a smoother signal than independent draws"
    return head + (
        f"Across all devices, consecutive readings differ by {change:.1f} on average; two independent draws "
        f"from {summary['min']} to {summary['max']} would differ by {expected:.1f}: the series look like {looks}."
    )


# -- accelerometer -------------------------------------------------------------
AXES = ("x", "y", "z")


def with_magnitude(df: DataFrame) -> DataFrame:
    """`df` with `magnitude` = sqrt(x² + y² + z²)."""
    return df.withColumn("magnitude", F.sqrt(sum(F.col(a) * F.col(a) for a in AXES)))


def axis_value_counts(accelerometer: DataFrame) -> DataFrame:
    """(axis, value, rows): how often each axis takes each value."""
    long = accelerometer.select(*AXES).unpivot([], list(AXES), "axis", "value")
    return long.groupBy("axis", "value").agg(F.count(F.lit(1)).alias("rows")).orderBy("axis", "value")


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
        f"x takes the values {fmt(values['x'])}, y {fmt(values['y'])} and z {fmt(values['z'])}: {shape}. "
        f"The magnitude takes {len(magnitudes)} values; {percent(zero, total)} of {count(total)} readings "
        f"have magnitude 0 (no acceleration recorded at all)."
    )


# -- alignment of the two sensors ----------------------------------------------
def sensor_alignment(step_trainer: DataFrame, accelerometer: DataFrame, customers: DataFrame) -> dict:
    """How step trainer readings line up with accelerometer readings taken at the same millisecond.

    step_readings        step trainer readings (of devices with a known owner in `customers`)
    matched_owner        of those, readings with an accelerometer reading of the device's owner at that instant
    matched_other_only   readings with accelerometer readings at that instant, but only of other customers
    unmatched            readings with no accelerometer reading at that instant
    collision_instants   accelerometer instants (timestamps) carrying readings of more than one customer
    instants             distinct accelerometer instants
    rubric_pairs         rows of the rubric's join (step reading x accelerometer reading on the timestamp alone)
    wrong_customer_pairs of those, rows pairing a device with another customer's reading

    One Spark query: the step readings (per instant and owner) are matched with the accelerometer
    readings counted per (instant, customer), and every count is summed in the same pass.
    """
    owners = customers.select(F.col("serialNumber").alias("_serial"), F.col("email").alias("_owner"))
    steps = (
        step_trainer.join(F.broadcast(owners), F.col("serialNumber") == F.col("_serial"))
        .groupBy("sensorReadingTime", "_owner")
        .agg(F.count(F.lit(1)).alias("_steps"))
    )
    readings = accelerometer.groupBy(F.col("timestamp").alias("_ts"), F.col("user").alias("_user")).agg(
        F.count(F.lit(1)).alias("_readings")
    )
    per_step = (
        steps.join(readings, F.col("_ts") == F.col("sensorReadingTime"), "left")
        .groupBy("sensorReadingTime", "_owner", "_steps")
        .agg(
            F.max(F.when(F.col("_user") == F.col("_owner"), 1).otherwise(0)).alias("_owner_match"),
            F.max(F.when(F.col("_ts").isNotNull(), 1).otherwise(0)).alias("_any_match"),
            F.sum(F.coalesce(F.col("_readings"), F.lit(0))).alias("_pairs"),
            F.sum(F.when(F.col("_user") != F.col("_owner"), F.col("_readings")).otherwise(0)).alias("_wrong"),
        )
    )
    step_totals = per_step.agg(
        F.sum("_steps").alias("step_readings"),
        F.sum(F.col("_steps") * F.col("_owner_match")).alias("matched_owner"),
        F.sum(F.col("_steps") * F.col("_any_match")).alias("matched_any"),
        F.sum(F.col("_steps") * F.col("_pairs")).alias("rubric_pairs"),
        F.sum(F.col("_steps") * F.col("_wrong")).alias("wrong_customer_pairs"),
    )
    instant_totals = (
        readings.groupBy("_ts")
        .agg(F.count("_user").alias("_users"))
        .agg(F.count(F.lit(1)).alias("instants"), F.sum(F.when(F.col("_users") > 1, 1).otherwise(0)).alias("collision_instants"))
    )
    row = step_totals.crossJoin(instant_totals).first()
    result = {
        name: int(row[name] or 0)
        for name in ("step_readings", "matched_owner", "matched_any", "instants", "collision_instants",
                     "rubric_pairs", "wrong_customer_pairs")
    }
    result["matched_other_only"] = result["matched_any"] - result["matched_owner"]
    result["unmatched"] = result["step_readings"] - result["matched_any"]
    return result


def alignment_sentence(a: dict) -> str:
    return (
        f"{percent(a['matched_owner'], a['step_readings'])} of {count(a['step_readings'])} step trainer readings "
        f"have an accelerometer reading of the device's owner at the same millisecond, "
        f"{count(a['matched_other_only'])} match only another customer's reading and {count(a['unmatched'])} "
        f"match none. In these trusted tables {count(a['collision_instants'])} of {count(a['instants'])} accelerometer instants carry "
        f"readings of more than one customer, so the rubric's join on the timestamp alone pairs "
        f"{count(a['wrong_customer_pairs'])} of its {count(a['rubric_pairs'])} rows "
        f"({percent(a['wrong_customer_pairs'], a['rubric_pairs'])}) with the wrong customer."
    )


# -- does the accelerometer carry signal about distance? -----------------------
def split_by_subject(df: DataFrame, key: str, test_fraction: float = 0.25, seed: int = 7) -> tuple[DataFrame, DataFrame]:
    """(train, test): every subject (all its rows) goes to exactly one part, chosen by a hash of key and seed.

    Deterministic for a given seed, and no subject is in both parts, so a model is
    always judged on subjects it has never seen.
    """
    is_test = in_test_part(key, test_fraction, seed)
    return df.where(~is_test), df.where(is_test)


def in_test_part(key: str, test_fraction: float = 0.25, seed: int = 7):
    """The column expression `split_by_subject` splits on: true for the rows of the test subjects."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    bucket = F.pmod(F.xxhash64(F.col(key).cast("string"), F.lit(seed)), F.lit(10_000))
    return bucket < F.lit(int(round(test_fraction * 10_000)))


def _normal_equation_sums(target: str, features: list[str], where=None) -> list:
    """Aggregations of XᵀX (xx_i_j) and Xᵀy (xy_i), X = [1, *features], over the rows where `where` holds."""
    cols = [F.lit(1.0)] + [F.col(f).cast("double") for f in features]
    y = F.col(target).cast("double")
    k = len(cols)

    def only(c):
        return c if where is None else F.when(where, c)

    aggs = [F.sum(only(cols[i] * cols[j])).alias(f"xx_{i}_{j}") for i in range(k) for j in range(i, k)]
    return aggs + [F.sum(only(cols[i] * y)).alias(f"xy_{i}") for i in range(k)]


def least_squares(df: DataFrame, target: str, features: list[str]) -> np.ndarray:
    """Coefficients [intercept, *features] of the least-squares fit, from XᵀX and Xᵀy aggregated by Spark."""
    return _solve_normal_equations(df.agg(*_normal_equation_sums(target, features)).first(), len(features) + 1)


def _solve_normal_equations(row, k: int) -> np.ndarray:
    xtx = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            xtx[i, j] = xtx[j, i] = row[f"xx_{i}_{j}"] or 0.0
    xty = np.array([row[f"xy_{i}"] or 0.0 for i in range(k)])
    coefficients, *_ = np.linalg.lstsq(xtx, xty, rcond=None)
    return coefficients


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
        *_normal_equation_sums(target, names, where=train_only),
    ).first()
    coefficients = _solve_normal_equations(stats, len(names) + 1)
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
    mse = {name: float("nan") if errors[name] is None else float(errors[name]) for name in ("mean", "linear", "lookup")}
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
    result["r2"] = {name: (1 - (rmse**2) / mse_mean) if mse_mean else float("nan") for name, rmse in result["rmse"].items()}
    return result


def magnitude_quantiles(ml: DataFrame, target: str = "distanceFromObject") -> pd.DataFrame:
    """Per magnitude: rows and the 5/25/50/75/95th percentiles of `target` (for box plots)."""
    qs = [0.05, 0.25, 0.5, 0.75, 0.95]
    out = (
        with_magnitude(ml).groupBy("magnitude")
        .agg(F.count(F.lit(1)).alias("rows"), F.percentile_approx(target, qs, 10_000).alias("q"))
        .orderBy("magnitude")
        .toPandas()
    )
    for name, i in zip(("q05", "q25", "q50", "q75", "q95"), range(len(qs))):
        out[name] = out["q"].map(lambda q, i=i: q[i])
    return out.drop(columns="q")


def signal_sentence(s: dict) -> str:
    corr = s["correlations"]
    known = {f: r for f, r in corr.items() if r is not None}
    strongest = max(known, key=lambda f: abs(known[f])) if known else None
    best = max(s["r2"], key=lambda name: s["r2"][name] if not math.isnan(s["r2"][name]) else -math.inf)
    best_r2 = s["r2"][best]
    split = (
        f"Fitted on {count(s['train_rows'])} rows of {count(s['train_subjects'])} devices and scored on "
        f"{count(s['test_rows'])} rows of {count(s['test_subjects'])} other devices"
    )
    if strongest is None:
        corr_text = "No correlation is defined (a feature or the distance is constant)"
    else:
        corr_text = f"The strongest correlation of distance with an accelerometer feature is r = {known[strongest]:.3f} ({strongest})"
    verdict = (
        "the accelerometer carries no usable signal about distance on this data"
        if math.isnan(best_r2) or best_r2 < SIGNAL_R2
        else "the accelerometer carries some signal about distance"
    )
    return (
        f"{corr_text}. {split}, the best model, {best}, has RMSE {s['rmse'][best]:.2f} against "
        f"{s['rmse']['train mean']:.2f} for the train mean, explaining {best_r2:.2%} of the variance: "
        f"{verdict}."
    )


# -- the run's findings --------------------------------------------------------
def load_manifest(run_dir: str | Path | None) -> dict | None:
    """The run's manifest.json, or None when there is no run folder or no manifest yet."""
    if not run_dir:
        return None
    path = Path(run_dir) / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else None


def intake_findings(manifest: dict | None) -> pd.DataFrame:
    """One row per landing table: read, landed, quarantined, duplicates_dropped, reasons."""
    columns = ["table", "read", "landed", "quarantined", "duplicates_dropped", "reasons"]
    rows = []
    for name, acc in ((manifest or {}).get("intake") or {}).items():
        reasons = acc.get("quarantine_reasons") or {}
        rows.append({
            "table": name,
            **{k: int(acc.get(k) or 0) for k in ("read", "landed", "quarantined", "duplicates_dropped")},
            "reasons": ", ".join(f"{r}: {n:,}" for r, n in reasons.items()),
        })
    return pd.DataFrame(rows, columns=columns)


def quality_findings(manifest: dict | None) -> pd.DataFrame:
    """One row per evaluated rule: table, rule, severity, rows_checked, rows_failing, outcome, detail."""
    columns = ["table", "rule", "severity", "rows_checked", "rows_failing", "outcome", "detail"]
    rows = [
        {"table": name, **{c: result.get(c) for c in columns[1:]}}
        for name, results in ((manifest or {}).get("quality") or {}).items()
        for result in results
    ]
    return pd.DataFrame(rows, columns=columns)


def quality_outcomes(quality: pd.DataFrame) -> pd.DataFrame:
    """Rules per table (rows, in lake order) and outcome (columns: passed, warned, quarantined, failed, as present)."""
    if not len(quality):
        return pd.DataFrame()
    table = quality.pivot_table(index="table", columns="outcome", values="rule", aggfunc="count", fill_value=0)
    order = [t for t in TABLES if t in table.index] + sorted(t for t in table.index if t not in TABLES)
    outcomes = [o for o in ("passed", "warned", "quarantined", "failed") if o in table.columns]
    outcomes += sorted(c for c in table.columns if c not in outcomes)
    return table.reindex(index=order, columns=outcomes)


def findings_sentence(intake: pd.DataFrame, quality: pd.DataFrame, have_manifest: bool) -> str:
    if not have_manifest:
        return "No data-quality findings recorded: this analysis ran outside a run folder (no manifest.json)."
    parts = []
    if len(intake):
        parts.append(
            f"Intake read {count(intake['read'].sum())} records into {len(intake)} landing tables: "
            f"{count(intake['landed'].sum())} landed, {count(intake['quarantined'].sum())} quarantined and "
            f"{count(intake['duplicates_dropped'].sum())} exact duplicates dropped."
        )
    else:
        parts.append("No intake accounting recorded in this run's manifest.")
    if len(quality):
        outcomes = quality["outcome"].value_counts()
        counted = ", ".join(f"{count(n)} {o}" for o, n in outcomes.items())
        parts.append(f"{count(len(quality))} data-quality rules were evaluated on {quality['table'].nunique()} tables: {counted}.")
        flagged = quality[quality["outcome"] != "passed"]
        if len(flagged):
            worst = flagged.sort_values("rows_failing", ascending=False, na_position="last").head(3)
            parts.append(
                "Most rows flagged: "
                + "; ".join(
                    f"{r.table}.{r.rule} ({r.outcome}, {count(r.rows_failing) if pd.notna(r.rows_failing) else 'n/a'} rows)"
                    for r in worst.itertuples()
                )
                + "."
            )
    else:
        parts.append("No data-quality rule results recorded in this run's manifest.")
    return " ".join(parts)


# -- figures and the completion record -----------------------------------------
def save_figure(fig, run_dir: str | Path | None, name: str, title: str = "", caption: str = "") -> Path | None:
    """Save `fig` as <run_dir>/figures/<name>.png (and its title and caption) when run_dir is set.

    In a notebook the saved PNG is what the cell shows (the figure is closed, not drawn twice)."""
    if not run_dir:
        return None
    folder = Path(run_dir) / FIGURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    captions_path = folder / CAPTIONS_FILE
    captions = json.loads(captions_path.read_text()) if captions_path.is_file() else {}
    captions[name] = {"title": title, "caption": caption}
    captions_path.write_text(json.dumps(captions, indent=2))
    _show_saved(fig, path)
    return path


def _show_saved(fig, path: Path) -> None:
    """In a notebook, show the saved PNG and close the figure: the inline backend would
    otherwise draw it a second time at the end of the cell."""
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        return
    if get_ipython() is None:
        return
    import matplotlib.pyplot as plt

    plt.close(fig)
    display(Image(filename=str(path)))


def finish(run_dir: str | Path | None, figures: list, seconds: float | None = None) -> dict:
    """The analysis's completion record (<run_dir>/steps/balance_analysis.json when run_dir is set)."""
    record = {
        "step": STEP_NAME,
        "status": "succeeded",
        "figures": [Path(f).name for f in figures if f],
    }
    if seconds is not None:
        record["seconds"] = round(seconds, 2)
    if run_dir:
        from stedi.run.step import write_record

        write_record(f"{run_dir}/steps/{STEP_NAME}.json", record)
    return record
