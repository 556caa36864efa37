"""The balance analysis: its functions on tiny frames, and its notebook under nbval on a small real
lake."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import papermill
import pytest
from pandas.testing import assert_frame_equal
from pyspark.sql import functions as F

from engines import on
from frames import CONSENT_A, accelerometer, customers, rows_of, step_trainer
from stedi import config
from stedi.analysis.accelerometer import (
    accelerometer_sentence,
    axis_value_counts,
    with_magnitude,
)
from stedi.analysis.alignment import alignment_sentence, sensor_alignment
from stedi.analysis.distance import (
    busiest,
    consecutive_readings,
    device_series,
    distance_sentence,
    distance_summary,
    series_sentence,
    uniform_mean_change,
)
from stedi.analysis.figures import finish, save_figure
from stedi.analysis.findings import (
    findings_sentence,
    intake_findings,
    load_manifest,
    other_run,
    quality_findings,
    quality_outcomes,
)
from stedi.analysis.funnel import (
    FUNNEL_COLUMNS,
    LANDING_TABLES,
    consent_funnel,
    funnel_mismatches,
    funnel_sentence,
    lake_rows_source,
    recorded_rows,
)
from stedi.analysis.readings import (
    intervals_by_owner,
    readings_sentence,
    sampling_intervals,
    sampling_sentence,
    sampling_summary,
    value_counts,
)
from stedi.analysis.signal import (
    SIGNAL_R2,
    distance_signal,
    in_test_part,
    magnitude_quantiles,
    normal_equation_sums,
    signal_sentence,
    solve_normal_equations,
)
from stedi.run.folder import RunFolder

T = CONSENT_A
NOTEBOOK = config.NOTEBOOKS_DIR / "balance_analysis.ipynb"
ML_SCHEMA = "serialNumber string, distanceFromObject int, x double, y double, z double"
# The notebook's figures, in the order it saves them (the order the run's page shows them).
FIGURES = (
    "funnel",
    "readings_per_subject",
    "sampling_intervals",
    "distance",
    "distance_series",
    "accelerometer",
    "alignment",
    "signal",
    "findings",
)


# -- consent funnel --------------------------------------------------------------
@pytest.fixture(scope="module")
def sail_landing(sail):
    """a consents at T; b at T + 100 (all b's readings are earlier); c never.

    b also has a reading at T, the instant of one of a's: the rubric's join pairs it with a's
    device. On Sail, the engine runs use: the funnel is eight counts of the transforms under both
    policies, a dozen jobs each on classic Spark (tests/engine/test_engines.py compares the
    analysis's computations on both engines).
    """
    with on("sail"):
        return _landing(sail)


@pytest.fixture
def landing(sail_landing):
    with on("sail"):
        yield sail_landing


def _landing(spark):
    people = customers(
        spark, [("a@x.com", "dev-a", T), ("b@x.com", "dev-b", T + 100), ("c@x.com", "dev-c", None)]
    )
    readings = accelerometer(
        spark,
        [
            ("a@x.com", T - 10, 1.0, 0.0, -1.0),
            ("a@x.com", T, 0.0, 1.0, 0.0),
            ("a@x.com", T + 10, 1.0, 1.0, -1.0),
            ("b@x.com", T, -1.0, 0.0, 0.0),
            ("b@x.com", T + 50, 0.0, 0.0, 0.0),
            ("c@x.com", T, 1.0, 1.0, 0.0),
            ("c@x.com", T + 10, 0.0, -1.0, 0.0),
        ],
    )
    steps = step_trainer(
        spark,
        [
            (T - 10, "dev-a", 210),
            (T, "dev-a", 220),
            (T + 10, "dev-a", 230),
            (T + 50, "dev-b", 240),
            (T, "dev-c", 250),
        ],
    )
    return {
        "customer_landing": people,
        "accelerometer_landing": readings,
        "step_trainer_landing": steps,
    }


@pytest.mark.slow
def test_consent_funnel_counts_every_table_under_both_policies(landing):
    got = consent_funnel(landing)
    expected = pd.DataFrame(
        [
            ("customer_landing", "landing", "customers", 3, 3),
            ("accelerometer_landing", "landing", "accelerometer readings", 7, 7),
            ("step_trainer_landing", "landing", "step trainer readings", 5, 5),
            ("customer_trusted", "trusted", "customers", 2, 2),
            ("accelerometer_trusted", "trusted", "accelerometer readings", 2, 5),
            ("step_trainer_trusted", "trusted", "step trainer readings", 2, 4),
            ("customer_curated", "curated", "customers", 1, 2),
            ("machine_learning_curated", "curated", "ML rows", 2, 5),
        ],
        columns=["table", "zone", "entity", "strict", "udacity"],
    )
    assert_frame_equal(got, expected, check_dtype=False)


@pytest.mark.slow
def test_funnel_mismatches_and_sentence(landing):
    funnel = consent_funnel(landing)
    agreeing = {"customer_trusted": 2, "machine_learning_curated": 2}
    assert funnel_mismatches(funnel, agreeing, "strict") == {}
    assert funnel_mismatches(funnel, agreeing, "udacity") == {"machine_learning_curated": (5, 2)}
    text = funnel_sentence(funnel, {}, "strict")
    assert text.startswith("Consent keeps 2 of 3 customers (66.7%).")
    assert "drops 3 of the rubric's 5 trusted accelerometer readings (60.0%" in text
    assert "1 curated customers and 2 step trainer readings" in text
    assert "the ML table has 5 rows under udacity and 2 under strict" in text
    assert "hold exactly the recomputed strict counts" in text
    wrong = funnel_sentence(funnel, {"machine_learning_curated": (2, 3)}, "strict")
    assert (
        "differ from the recomputation: machine_learning_curated 2 recomputed vs 3 in the lake"
        in wrong
    )
    sourced = funnel_sentence(funnel, {}, "strict", "row counts read from the lake")
    assert sourced.endswith(
        "hold exactly the recomputed strict counts (row counts read from the lake)."
    )


@pytest.mark.slow
def test_consent_funnel_reads_only_the_funnel_columns(landing):
    """The transforms need only FUNNEL_COLUMNS: the pruned landing tables give the same funnel."""
    assert tuple(FUNNEL_COLUMNS) == LANDING_TABLES == tuple(landing)
    pruned = {name: df.select(*FUNNEL_COLUMNS[name]) for name, df in landing.items()}
    assert_frame_equal(consent_funnel(pruned), consent_funnel(landing))


def test_recorded_rows_come_from_the_manifest_of_this_lake_only():
    manifest = {
        "tables": {
            "customer_trusted": {
                "zone": "trusted",
                "rows": 482,
                "path": "/lake/trusted/customer_trusted",
            },
            "customer_curated": {
                "zone": "curated",
                "rows": 464,
                "path": "/other/curated/customer_curated",
            },
            "step_trainer_trusted": {
                "zone": "trusted",
                "rows": None,
                "path": "/lake/trusted/step_trainer_trusted",
            },
        }
    }
    paths = {
        name: f"/lake/{zone}/{name}"
        for name, zone in (
            ("customer_trusted", "trusted"),
            ("customer_curated", "curated"),
            ("step_trainer_trusted", "trusted"),
        )
    }
    assert recorded_rows(manifest, paths) == {
        "customer_trusted": 482
    }  # other lake, no count: left out
    assert recorded_rows(None, paths) == {} and recorded_rows({"run_id": "r"}, paths) == {}
    assert (
        lake_rows_source({"customer_trusted": 482}, {})
        == "row counts as written by this run, from its manifest"
    )
    assert lake_rows_source({}, {"customer_curated": 464}) == "row counts read from the lake"
    assert lake_rows_source({"customer_trusted": 482}, {"customer_curated": 464}) == (
        "row counts from this run's manifest; customer_curated counted in the lake"
    )
    assert lake_rows_source({}, {}) == ""


# -- readings and sampling -------------------------------------------------------
@pytest.mark.slow  # seconds: the whole tier (make test), not make check
def test_sampling_intervals_per_subject(spark):
    df = accelerometer(
        spark,
        [("u", t, 0.0, 0.0, 0.0) for t in (0, 0, 1000, 2000, 3000)]
        + [("v", t, 0.0, 0.0, 0.0) for t in (0, 2000, 2500)]
        + [("w", 5, 0.0, 0.0, 0.0)],
    )
    got = sampling_intervals(df, "user", "timestamp")
    assert rows_of(got, "user", "readings", "instants", "interval_min", "interval_max") == [
        ("u", 5, 4, 1000, 1000),
        ("v", 3, 3, 500, 2000),
        ("w", 1, 1, None, None),
    ]
    summary = sampling_summary(got.toPandas())
    assert summary["subjects"] == 3 and summary["readings"] == 9 and summary["instants"] == 8
    assert summary["max_spread_within"] == 1500  # v: gaps 500 and 2000
    assert summary["median_min"] == 500 and summary["median_max"] == 1000


@pytest.mark.slow  # seconds of engine jobs: make test only (keeps make check under 2 min)
def test_intervals_by_owner_and_sampling_sentence(spark):
    people = customers(spark, [("a@x.com", "dev-a", T), ("b@x.com", "dev-b", T)])
    readings = accelerometer(
        spark,
        [("a@x.com", t, 0.0, 0.0, 0.0) for t in (0, 1000, 2000)]
        + [("b@x.com", t, 0.0, 0.0, 0.0) for t in (0, 3000, 6000)],
    )
    steps = step_trainer(
        spark, [(t, "dev-a", 200) for t in (0, 1000, 2000)] + [(t, "dev-b", 200) for t in (0, 2000)]
    )
    accel_sampling = sampling_intervals(readings, "user", "timestamp").toPandas()
    step_sampling = sampling_intervals(steps, "serialNumber", "sensorReadingTime").toPandas()
    owners = people.select("serialNumber", "email").toPandas()
    by_owner = intervals_by_owner(accel_sampling, step_sampling, owners)
    expected = pd.DataFrame(
        [("dev-a", "a@x.com", 1000, 1000), ("dev-b", "b@x.com", 3000, 2000)],
        columns=["serialNumber", "user", "accelerometer_interval", "step_trainer_interval"],
    )
    assert_frame_equal(by_owner, expected, check_dtype=False)
    # A device whose owner has no readings, or an owner without a device's readings, is not paired.
    lonely = pd.concat([owners, pd.DataFrame([{"serialNumber": "dev-z", "email": "z@x.com"}])])
    assert_frame_equal(
        intervals_by_owner(accel_sampling, step_sampling, lonely), expected, check_dtype=False
    )
    assert intervals_by_owner(accel_sampling, step_sampling, owners.iloc[:0]).empty
    text = sampling_sentence(
        sampling_summary(accel_sampling), sampling_summary(step_sampling), by_owner
    )
    assert text.startswith("Both sensors sample at one fixed interval per customer or device")
    assert "from 1,000 to 3,000 ms" in text
    assert (
        "For 1 of 2 devices the step trainer's interval equals its owner's accelerometer interval"
        in text
    )


def test_readings_sentence():
    text = readings_sentence(
        pd.DataFrame({"readings": [10, 20, 30]}), pd.DataFrame({"readings": [5, 1500]})
    )
    assert text == (
        "3 customers have between 10 and 30 accelerometer readings (median 20); "
        "2 devices have between 5 and 1,500 step trainer readings (median 752)."
    )


# -- distance --------------------------------------------------------------------
def test_distance_summary_from_the_value_counts_matches_spark(spark):
    df = step_trainer(spark, [(i, "d", v) for i, v in enumerate([*range(1, 11), 3, 3, 7, None])])
    counts = value_counts(df, "distanceFromObject").toPandas()
    assert [tuple(r) for r in value_counts(df, "distanceFromObject").collect()][:4] == [
        (None, 1),
        (1, 1),
        (2, 1),
        (3, 3),
    ]
    s = distance_summary(counts)
    spark_row = df.agg(
        F.count("distanceFromObject"),
        F.min("distanceFromObject"),
        F.max("distanceFromObject"),
        F.avg("distanceFromObject"),
        F.stddev_pop("distanceFromObject"),
    ).first()
    assert (
        (s["rows"], s["min"], s["max"]) == (13, 1, 10) == tuple(spark_row[:3])
    )  # the null is not a reading
    assert s["mean"] == pytest.approx(spark_row[3]) and s["std"] == pytest.approx(spark_row[4])
    assert s["uniform_std"] == pytest.approx(math.sqrt(99 / 12))
    none = distance_summary(counts.iloc[:1])  # only the null
    assert none["rows"] == 0 and none["min"] is None and math.isnan(none["uniform_std"])


def test_consecutive_readings_pair_readings_within_a_device_in_time_order(spark):
    # Two rising devices: within each, each value follows a smaller one (r = 1); pairing across
    # devices or out of time order would break that.
    key = ("serialNumber", "sensorReadingTime", "distanceFromObject")
    rising = step_trainer(
        spark, [(3, "d1", 3), (1, "d1", 1), (2, "d1", 2), (1, "d2", 1), (2, "d2", 2), (3, "d2", 3)]
    )
    got = consecutive_readings(rising, *key)
    assert got["autocorrelation"] == pytest.approx(1.0) and got["mean_change"] == pytest.approx(1.0)
    alternating = step_trainer(spark, [(t, "d", 1 + t % 2) for t in range(6)])
    assert consecutive_readings(alternating, *key)["autocorrelation"] == pytest.approx(-1.0)
    single = step_trainer(spark, [(1, "d", 5)])
    assert consecutive_readings(single, *key) == {"autocorrelation": None, "mean_change": None}


def test_mean_change_stays_within_a_device(spark):
    df = step_trainer(
        spark, [(1, "d1", 200), (2, "d1", 210), (3, "d1", 205), (1, "d2", 300), (2, "d2", 300)]
    )
    # d1: |210-200|, |205-210|; d2: |300-300|. Never d2's first reading against d1's last.
    key = ("serialNumber", "sensorReadingTime", "distanceFromObject")
    assert consecutive_readings(df, *key)["mean_change"] == pytest.approx(5.0)


def test_uniform_mean_change_and_series_sentence():
    assert uniform_mean_change(1, 2) == pytest.approx(0.5)  # |1-2| half the time
    assert uniform_mean_change(201, 300) == pytest.approx(9999 / 300)
    summary = {"min": 201, "max": 300}
    noisy = series_sentence(4, 120, 33.0, summary)
    assert noisy.startswith("4 example devices, 120 readings")
    assert (
        "consecutive readings differ by 33.0 on average; two independent draws from 201 to 300 "
        "would differ by 33.3" in noisy
    )
    assert noisy.endswith("the series look like noise rather than a smooth motion.")
    assert "a smoother signal than independent draws" in series_sentence(4, 120, 2.0, summary)
    assert "No device has two readings" in series_sentence(1, 1, None, summary)


def test_busiest_devices_and_their_series(spark):
    df = step_trainer(
        spark, [(1000, "d2", 1), (3000, "d2", 2), (5000, "d1", 3), (5500, "d1", 4), (1, "d3", 5)]
    )
    per_device = sampling_intervals(df, "serialNumber", "sensorReadingTime").toPandas()
    assert busiest(per_device, 2) == ["d1", "d2"]  # equal counts: by serial number
    assert busiest(per_device, 5) == ["d1", "d2", "d3"]
    series = device_series(df, ["d1", "d2"])
    assert rows_of(series, "serialNumber", "seconds") == [
        ("d1", 0.0),
        ("d1", 0.5),
        ("d2", 0.0),
        ("d2", 2.0),
    ]


def test_distance_sentence_reads_the_autocorrelation():
    summary = {
        "rows": 1000,
        "min": 201,
        "max": 300,
        "mean": 250.0,
        "std": 28.9,
        "uniform_std": 28.87,
    }
    assert "about as predictable from its last one as a fresh random draw" in distance_sentence(
        summary, 0.01
    )
    assert "partly predictable" in distance_sentence(summary, 0.8)
    assert "no device has two readings" in distance_sentence(summary, None)


# -- accelerometer ---------------------------------------------------------------
def test_magnitude_and_axis_value_counts(spark):
    df = accelerometer(
        spark, [("u", 1, 1.0, 1.0, 1.0), ("u", 2, 0.0, 0.0, 0.0), ("u", 3, 3.0, 4.0, 0.0)]
    )
    got = [round(m, 6) for (m,) in rows_of(with_magnitude(df), "magnitude")]
    assert got == [0.0, round(math.sqrt(3), 6), 5.0]
    counts = axis_value_counts(df.limit(2))
    assert rows_of(counts) == [
        ("x", 0.0, 1),
        ("x", 1.0, 1),
        ("y", 0.0, 1),
        ("y", 1.0, 1),
        ("z", 0.0, 1),
        ("z", 1.0, 1),
    ]


def test_accelerometer_sentence_names_the_levels():
    axis_counts = pd.DataFrame(
        [("x", v, 1) for v in (-1.0, 0.0, 1.0)]
        + [("y", v, 1) for v in (-1.0, 0.0, 1.0)]
        + [("z", v, 1) for v in (-1.0, 0.0)],
        columns=["axis", "value", "rows"],
    )
    magnitudes = pd.DataFrame({"magnitude": [0.0, 1.0], "rows": [1, 3]})
    text = accelerometer_sentence(axis_counts, magnitudes)
    assert text.startswith(
        "x takes the values {-1, 0, 1}, y {-1, 0, 1} and z {-1, 0}: the axes are quantized to 3 "
        "levels"
    )
    assert "25.0% of 4 readings have magnitude 0" in text


# -- alignment -------------------------------------------------------------------
def test_sensor_alignment_counts_owner_matches_collisions_and_wrong_pairs(spark):
    people = customers(spark, [("a@x.com", "dev-a", T), ("b@x.com", "dev-b", T)])
    steps = step_trainer(
        spark,
        [
            (
                1000,
                "dev-a",
                200,
            ),  # a and b both have a reading at 1000: owner match, and a collision
            (2000, "dev-a", 200),  # only b has one: another customer's only
            (3000, "dev-a", 200),  # nobody: unmatched
            (4000, "dev-b", 200),  # b, twice: owner match, two rubric rows
            (1000, "dev-x", 200),  # no known owner: not counted
        ],
    )
    readings = accelerometer(
        spark,
        [
            ("a@x.com", 1000, 0.0, 0.0, 0.0),
            ("b@x.com", 1000, 0.0, 0.0, 0.0),
            ("b@x.com", 2000, 0.0, 0.0, 0.0),
            ("b@x.com", 4000, 1.0, 0.0, 0.0),
            ("b@x.com", 4000, 0.0, 1.0, 0.0),
        ],
    )
    got = sensor_alignment(steps, readings, people)
    assert got == {
        "step_readings": 4,
        "matched_owner": 2,
        "matched_any": 3,
        "matched_other_only": 1,
        "unmatched": 1,
        "instants": 3,
        "collision_instants": 1,
        "rubric_pairs": 5,
        "wrong_customer_pairs": 2,
    }
    # Readings of one device at one instant count once each; an empty accelerometer matches nothing.
    twice = steps.union(steps.where(F.col("sensorReadingTime") == 1000))
    doubled = sensor_alignment(twice, readings, people)
    assert (
        doubled["step_readings"],
        doubled["matched_owner"],
        doubled["rubric_pairs"],
        doubled["wrong_customer_pairs"],
    ) == (5, 3, 7, 3)
    empty = sensor_alignment(steps, readings.limit(0), people)
    assert empty == {
        "step_readings": 4,
        "matched_owner": 0,
        "matched_any": 0,
        "matched_other_only": 0,
        "unmatched": 4,
        "instants": 0,
        "collision_instants": 0,
        "rubric_pairs": 0,
        "wrong_customer_pairs": 0,
    }
    text = alignment_sentence(got)
    assert text.startswith(
        "50.0% of 4 step trainer readings have an accelerometer reading of the device's owner"
    )
    assert "pairs 2 of its 5 rows (40.0%) with the wrong customer" in text


# -- signal ----------------------------------------------------------------------
def test_in_test_part_puts_every_subject_in_exactly_one_part(spark):
    rows = [(f"dev-{i}", 200 + j, float(j % 3 - 1), 0.0, 0.0) for i in range(300) for j in range(2)]
    df = spark.createDataFrame(rows, ML_SCHEMA)
    is_test = in_test_part("serialNumber", test_fraction=0.25, seed=7)
    train, test = df.where(~is_test), df.where(is_test)
    train_keys = {r[0] for r in train.select("serialNumber").distinct().collect()}
    test_keys = {r[0] for r in test.select("serialNumber").distinct().collect()}
    assert not train_keys & test_keys
    assert train_keys | test_keys == {f"dev-{i}" for i in range(300)}
    assert train.count() + test.count() == 600
    assert 0.15 < len(test_keys) / 300 < 0.35
    again = df.where(in_test_part("serialNumber", test_fraction=0.25, seed=7))
    assert {
        r[0] for r in again.select("serialNumber").distinct().collect()
    } == test_keys  # deterministic
    other = df.where(in_test_part("serialNumber", test_fraction=0.25, seed=8))
    assert {r[0] for r in other.select("serialNumber").distinct().collect()} != test_keys
    with pytest.raises(ValueError, match="test_fraction"):
        in_test_part("serialNumber", test_fraction=1.0)


def test_normal_equations_recover_a_linear_relation(spark):
    rows = [
        (f"d{x}{z}", int(3 + 2 * x - 5 * z), float(x), 0.0, float(z))
        for x in range(-3, 4)
        for z in range(-2, 3)
    ]
    df = spark.createDataFrame(rows, ML_SCHEMA)
    sums = df.agg(*normal_equation_sums("distanceFromObject", ["x", "z"])).first()
    assert solve_normal_equations(sums, 3) == pytest.approx([3.0, 2.0, -5.0])
    # y is 0 on every row: XᵀX is singular, and the fit still gives y no weight.
    singular = df.agg(*normal_equation_sums("distanceFromObject", ["x", "y", "z"])).first()
    assert solve_normal_equations(singular, 4) == pytest.approx([3.0, 2.0, 0.0, -5.0], abs=1e-9)


def _ml_frame(spark, distance, devices=40, per_device=30, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(devices):
        for _ in range(per_device):
            x, y, z = (float(v) for v in rng.integers(-1, 2, size=3))
            rows.append((f"dev-{d:03d}", int(distance(x, y, z, rng)), x, y, z))
    return spark.createDataFrame(rows, ML_SCHEMA)


def test_distance_signal_finds_a_real_relation_on_unseen_devices(spark):
    ml = _ml_frame(spark, lambda x, y, z, rng: 250 + 30 * x - 10 * z)
    s = distance_signal(ml)
    assert s["train_subjects"] + s["test_subjects"] == 40 and s["test_subjects"] > 0
    assert s["train_rows"] + s["test_rows"] == 1200
    assert s["correlations"]["x"] > 0.8
    assert s["r2"]["least squares on x, y, z, magnitude"] == pytest.approx(1.0, abs=1e-6)
    assert s["rmse"]["train mean"] > 10
    assert "carries some signal about distance" in signal_sentence(s)


def test_distance_signal_equals_fitting_each_part_on_its_own(spark):
    """The one-pass aggregation gives the numbers of fitting on the train part and scoring on the
    test part."""
    ml = _ml_frame(spark, lambda x, y, z, rng: 250 + 30 * x - 10 * z + rng.integers(-20, 21))
    s = distance_signal(ml)
    names = ["x", "y", "z", "magnitude"]
    data = with_magnitude(ml)
    is_test = in_test_part("serialNumber")
    train, test = data.where(~is_test).toPandas(), data.where(is_test).toPandas()
    assert (s["train_rows"], s["test_rows"]) == (len(train), len(test))
    design = np.column_stack([np.ones(len(train)), train[names].to_numpy(dtype=float)])
    coefficients = np.linalg.lstsq(
        design, train["distanceFromObject"].to_numpy(dtype=float), rcond=None
    )[0]
    assert list(s["coefficients"].values()) == pytest.approx(list(coefficients))
    mean = train["distanceFromObject"].mean()
    scored = test
    linear = coefficients[0] + sum(c * scored[f] for c, f in zip(coefficients[1:], names))
    assert s["rmse"]["train mean"] == pytest.approx(
        math.sqrt(((scored["distanceFromObject"] - mean) ** 2).mean())
    )
    assert s["rmse"]["least squares on x, y, z, magnitude"] == pytest.approx(
        math.sqrt(((scored["distanceFromObject"] - linear) ** 2).mean())
    )
    cells = train.groupby(["x", "y", "z"])["distanceFromObject"].mean().rename("cell").reset_index()
    looked_up = scored.merge(cells, on=["x", "y", "z"], how="left")["cell"].fillna(mean)
    assert s["rmse"]["mean per orientation"] == pytest.approx(
        math.sqrt(((scored["distanceFromObject"] - looked_up) ** 2).mean())
    )
    pearson = data.toPandas()[["distanceFromObject", *names]].corr()["distanceFromObject"]
    assert s["correlations"] == pytest.approx({f: pearson[f] for f in names})


def test_distance_signal_reports_no_signal_in_noise(spark):
    ml = _ml_frame(spark, lambda x, y, z, rng: rng.integers(201, 301))
    s = distance_signal(ml)
    assert all(abs(r) < 0.1 for r in s["correlations"].values())
    assert max(s["r2"].values()) < SIGNAL_R2
    text = signal_sentence(s)
    assert "the accelerometer carries no usable signal about distance on this data" in text
    assert f"scored on {s['test_rows']:,} rows of {s['test_subjects']} other devices" in text


def test_magnitude_quantiles(spark):
    ml = spark.createDataFrame(
        [("d", v, 0.0, 0.0, 0.0) for v in range(1, 101)] + [("d", 500, 1.0, 0.0, 0.0)], ML_SCHEMA
    )
    q = magnitude_quantiles(ml)
    assert list(q["magnitude"]) == [0.0, 1.0] and list(q["rows"]) == [100, 1]
    assert list(q.iloc[0][["q05", "q25", "q50", "q75", "q95"]]) == [5, 25, 50, 75, 95]


# -- findings --------------------------------------------------------------------
MANIFEST = {
    "intake": {
        "customer_landing": {
            "read": 10,
            "landed": 7,
            "quarantined": 2,
            "duplicates_dropped": 1,
            "quarantine_reasons": {"not_json": 1, "truncated": 1},
        },
    },
    "quality": {
        "machine_learning_curated": [
            {
                "rule": "one_reading_per_step",
                "severity": "warn",
                "rows_checked": 9,
                "rows_failing": 4,
                "outcome": "warned",
                "detail": "d",
            }
        ],
        "customer_landing": [
            {
                "rule": "email_complete",
                "severity": "error",
                "rows_checked": 7,
                "rows_failing": 0,
                "outcome": "passed",
            },
            {
                "rule": "phone_unique",
                "severity": "warn",
                "rows_checked": 7,
                "rows_failing": 6,
                "outcome": "warned",
            },
        ],
    },
}


def test_findings_from_the_manifest():
    intake = intake_findings(MANIFEST)
    assert intake.to_dict("records") == [
        {
            "table": "customer_landing",
            "read": 10,
            "landed": 7,
            "quarantined": 2,
            "duplicates_dropped": 1,
            "reasons": "not_json: 1, truncated: 1",
        }
    ]
    quality = quality_findings(MANIFEST)
    assert list(quality["rule"]) == ["one_reading_per_step", "email_complete", "phone_unique"]
    outcomes = quality_outcomes(quality)
    assert list(outcomes.index) == ["customer_landing", "machine_learning_curated"]  # lake order
    assert list(outcomes.columns) == ["passed", "warned"]
    assert outcomes.loc["customer_landing"].tolist() == [1, 1]
    text = findings_sentence(intake, quality, True)
    assert (
        "Intake read 10 records into 1 landing tables: 7 landed, 2 quarantined and 1 exact "
        "duplicates dropped." in text
    )
    assert "3 data-quality rules were evaluated on 2 tables: 2 warned, 1 passed." in text
    assert (
        "customer_landing.phone_unique (warned, 6 rows); "
        "machine_learning_curated.one_reading_per_step" in text
    )


def test_findings_without_a_manifest(tmp_path):
    assert load_manifest("") is None
    assert load_manifest(tmp_path) is None
    RunFolder(tmp_path).write_manifest(MANIFEST)
    assert load_manifest(tmp_path) == MANIFEST
    empty_intake, empty_quality = intake_findings(None), quality_findings(None)
    assert empty_intake.empty and empty_quality.empty and quality_outcomes(empty_quality).empty
    assert findings_sentence(empty_intake, empty_quality, False).startswith(
        "No data-quality findings recorded"
    )
    assert "No data-quality rule results recorded" in findings_sentence(
        empty_intake, empty_quality, True
    )


def test_findings_opened_by_hand_are_the_latest_runs_of_the_same_lake(tmp_path):
    # The analysis opened by hand (no run folder) reads the newest run of its lake that recorded
    # findings: one that succeeded first; a run with nothing new records those of the tables in
    # force.
    import json
    import os

    runs, lake = tmp_path / "runs", tmp_path / "lake"

    def run(name, lake_dir, status, findings, mtime):
        folder = runs / name
        RunFolder(folder).write_manifest(
            {"run_id": name, "status": status, "lake_dir": str(lake_dir), **findings}
        )
        os.utime(folder / "manifest.json", (mtime, mtime))

    assert load_manifest("", str(lake), runs) is None
    run("r1", lake, "succeeded", MANIFEST, 1_700_000_000)
    run("r2", tmp_path / "other-lake", "succeeded", MANIFEST, 1_700_000_300)
    run(
        "r3", lake, "succeeded", {"intake": {}, "quality": {}}, 1_700_000_200
    )  # a stub: no findings
    run("r4", lake, "failed", {"intake": MANIFEST["intake"]}, 1_700_000_250)
    (runs / "latest").symlink_to("r3", target_is_directory=True)
    assert load_manifest("", str(lake), runs)["run_id"] == "r1"
    assert load_manifest("", None, runs) is None  # no lake named: nothing to look for
    run(
        "r5",
        lake,
        "succeeded",
        {"intake": MANIFEST["intake"], "quality": MANIFEST["quality"]},
        1_699_999_900,
    )
    found = load_manifest("", str(lake), runs)
    assert found["run_id"] == "r1"  # r5 is older than r1
    os.utime(runs / "r5" / "manifest.json", (1_700_000_400, 1_700_000_400))
    found = load_manifest("", str(lake), runs)
    assert found["run_id"] == "r5"
    text = findings_sentence(
        intake_findings(found), quality_findings(found), True, other_run(found, "")
    )
    assert text.startswith(
        "From run r5, the latest run of this lake that recorded findings. Intake read 10 records"
    )
    assert other_run(found, "r5") == ""  # under stedi run, its own manifest
    assert json.loads((runs / "r4" / "manifest.json").read_text())["status"] == "failed"


def test_the_notebook_reads_the_findings_of_its_lake_when_opened_by_hand():
    import nbformat

    nb = nbformat.read(config.NOTEBOOKS_DIR / "balance_analysis.ipynb", as_version=4)
    [cell] = [
        c
        for c in nb.cells
        if "findings.load_manifest(run_dir" in c.source and "quality_findings" in c.source
    ]
    assert "findings.load_manifest(run_dir, lake.root)" in cell.source
    assert "findings.other_run(manifest, run_id)" in cell.source


def test_save_figure_and_finish(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    folder = RunFolder(tmp_path)
    assert save_figure(fig, "", "funnel") is None
    path = save_figure(fig, tmp_path, "funnel", "Consent funnel", "Consent keeps 2 of 3.")
    assert path == folder.figures_dir / "funnel.png" and path.read_bytes()[:4] == b"\x89PNG"
    assert folder.captions() == {
        "funnel": {"title": "Consent funnel", "caption": "Consent keeps 2 of 3."}
    }
    second = save_figure(fig, tmp_path, "alignment", "Sensor alignment", "Half match.")
    plt.close(fig)
    assert list(folder.captions()) == ["funnel", "alignment"]  # the order they were saved in
    record = finish(tmp_path, [path, None, second], seconds=1.234)
    assert record == {
        "step": "balance_analysis",
        "status": "succeeded",
        "figures": ["funnel.png", "alignment.png"],
        "seconds": 1.23,
    }
    assert folder.read_record("balance_analysis") == record
    assert finish("", [])["figures"] == []


# -- the notebook ----------------------------------------------------------------
def test_notebook_is_thin_parameterized_and_clean():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == config.LOCAL_KERNEL
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is cells[0]
    names = []
    for line in "".join(tagged[0]["source"]).splitlines():
        match = re.match(r'^(\w+): str = "[^"]*"  # ([^=]+)$', line)
        assert match, f"untyped, uncommented, or '=' in the comment: {line}"
        names.append(match.group(1))
    assert names == ["lake_dir", "policy", "engine", "run_id", "run_dir"]
    for cell in cells:
        source = "".join(cell["source"])
        assert not re.search(r"^\s*(def|class|lambda) |lambda ", source, re.M), (
            "logic belongs in stedi.analysis"
        )
        assert not cell.get("outputs") and cell.get("execution_count") is None, (
            "commit the notebook clean"
        )


def _first_customers(n):
    lines = (config.RAW_DIR / "customer").glob("*.json")
    first = []
    for path in sorted(lines):
        for line in path.read_text().splitlines():
            if line.strip() and len(first) < n:
                first.append(line)
    return first


@pytest.fixture(scope="module")
def small_lake(tmp_path_factory, spark):
    """A strict lake of the first 40 real customers and their readings, built by the real intake and
    transforms."""
    from stedi.core import intake
    from stedi.core.tables import SOURCES, landing_table
    from stedi.lake.icelake import IcebergTables
    from stedi.run.pipeline import derive

    base = tmp_path_factory.mktemp("small")
    customer_lines = _first_customers(40)
    people = [json.loads(line) for line in customer_lines]
    keep = {
        "customer": None,
        "accelerometer": {p["email"] for p in people},
        "step_trainer": {p["serialNumber"] for p in people},
    }
    key = {"accelerometer": "user", "step_trainer": "serialNumber"}
    for source in SOURCES:
        folder = base / "raw" / source
        folder.mkdir(parents=True)
        if source == "customer":
            lines = customer_lines
        else:
            lines = [
                line
                for path in sorted((config.RAW_DIR / source).glob("*.json"))
                for line in path.read_text().splitlines()
                if line.strip() and json.loads(line)[key[source]] in keep[source]
            ]
        (folder / f"{source}-subset.json").write_text("\n".join(lines) + "\n")

    lake = IcebergTables(spark, str(base / "lake"), policy="strict")
    accounting = {}
    for source in SOURCES:
        result = intake.land_source(spark, base / "raw", source)
        lake.write(landing_table(source), result.landed)
        accounting[landing_table(source)] = result.accounting()
    landing = {name: lake.read(name) for name in accounting}
    for name, table in derive(landing, "strict").items():
        if name not in landing:
            lake.write(name, table)
    # The run folder as the runner leaves it before the analysis: a manifest with intake and
    # quality.
    run_dir = base / "run"
    RunFolder(run_dir).write_manifest(
        {
            "run_id": "small",
            "status": "running",
            "intake": accounting,
            "quality": MANIFEST["quality"],
        }
    )
    return base / "lake", run_dir


@pytest.mark.notebook
@pytest.mark.own_lake  # on its own small lake: not on the clean builds' worker
def test_analysis_notebook_runs_under_nbval_and_saves_its_figures(tmp_path, small_lake):
    lake_dir, run_dir = small_lake
    prepared = tmp_path / "balance_analysis.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(prepared),
        parameters={
            "lake_dir": str(lake_dir),
            "policy": "strict",
            "run_id": "small",
            "run_dir": str(run_dir),
        },
        prepare_only=True,
        kernel_name=config.LOCAL_KERNEL,
        language="python",
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            str(prepared),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    folder = RunFolder(run_dir)
    assert sorted(p.stem for p in folder.figures()) == sorted(FIGURES)
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in folder.figures())
    captions = folder.captions()
    assert tuple(captions) == FIGURES  # in the order the notebook saved them
    assert re.match(r"Consent keeps \d+ of 40 customers", captions["funnel"]["caption"])
    assert "hold exactly the recomputed strict counts" in captions["funnel"]["caption"]
    assert "2 warned, 1 passed" in captions["findings"]["caption"]
    record = folder.read_record("balance_analysis")
    assert record["status"] == "succeeded" and record["figures"] == [f"{n}.png" for n in FIGURES]
