"""Each zone transform on tiny frames holding the rows that matter, both policies."""

from __future__ import annotations

import pytest

from frames import CONSENT_A, accelerometer, customers, rows_of, step_trainer
from stedi.core.transforms.accelerometer_trusted import consented_accelerometer_readings
from stedi.core.transforms.customer_curated import customers_with_readings
from stedi.core.transforms.customer_trusted import consenting_customers
from stedi.core.transforms.machine_learning_curated import machine_learning_readings
from stedi.core.transforms.step_trainer_trusted import consented_step_trainer_readings

T = CONSENT_A


@pytest.fixture(scope="module")
def people(spark):
    # a consented at T, b consented at T + 10, c never consented (key missing).
    return customers(
        spark,
        [("a@x.com", "dev-a", T), ("b@x.com", "dev-b", T + 10), ("c@x.com", "dev-c", None)],
    )


def test_consenting_customers_drops_those_without_consent_date(spark, people):
    for policy in ("strict", "udacity"):
        got = consenting_customers(people, policy)
        assert rows_of(got, "email") == [("a@x.com",), ("b@x.com",)]
        assert got.columns == people.columns


def test_unknown_policy_is_refused(spark, people):
    with pytest.raises(ValueError, match="unknown policy 'lenient'"):
        consenting_customers(people, "lenient")


@pytest.fixture(scope="module")
def readings(spark):
    return accelerometer(
        spark,
        [
            ("a@x.com", T - 1, 1.0, 0.0, 0.0),  # one millisecond before a's consent
            ("a@x.com", T, 0.0, 1.0, 0.0),  # exactly at a's consent
            ("a@x.com", T + 50, 0.0, 0.0, 1.0),
            ("b@x.com", T + 50, -1.0, 0.0, 0.0),  # same instant as a's reading
            ("c@x.com", T + 50, 0.0, -1.0, 0.0),  # never consented
        ],
    )


def test_accelerometer_strict_keeps_readings_from_consent_on(spark, people, readings):
    trusted = consenting_customers(people, "strict")
    got = consented_accelerometer_readings(readings, trusted, "strict")
    assert rows_of(got, "user", "timestamp") == [("a@x.com", T), ("a@x.com", T + 50), ("b@x.com", T + 50)]
    assert got.columns == readings.columns


def test_accelerometer_udacity_keeps_every_reading_of_consenting_customers(spark, people, readings):
    trusted = consenting_customers(people, "udacity")
    got = consented_accelerometer_readings(readings, trusted, "udacity")
    assert rows_of(got, "user", "timestamp") == [
        ("a@x.com", T - 1),
        ("a@x.com", T),
        ("a@x.com", T + 50),
        ("b@x.com", T + 50),
    ]


def test_customer_curated_needs_a_trusted_reading_and_lists_each_customer_once(spark, people):
    trusted = consenting_customers(people, "strict")
    # b's only reading predates b's consent: under strict it is not trusted, so b is not curated.
    readings = accelerometer(
        spark, [("a@x.com", T, 0.0, 0.0, 0.0), ("a@x.com", T + 1, 0.0, 0.0, 0.0), ("b@x.com", T, 0.0, 0.0, 0.0)]
    )
    strict = customers_with_readings(trusted, consented_accelerometer_readings(readings, trusted, "strict"), "strict")
    assert rows_of(strict, "email") == [("a@x.com",)]
    udacity = customers_with_readings(
        trusted, consented_accelerometer_readings(readings, trusted, "udacity"), "udacity"
    )
    assert rows_of(udacity, "email") == [("a@x.com",), ("b@x.com",)]
    assert strict.columns == people.columns


def test_step_trainer_strict_keeps_curated_devices_from_consent_on(spark, people):
    curated = consenting_customers(people, "strict")
    steps = step_trainer(
        spark,
        [(T - 1, "dev-a", 250), (T, "dev-a", 240), (T + 10, "dev-b", 230), (T + 9, "dev-b", 220), (T, "dev-c", 210)],
    )
    strict = consented_step_trainer_readings(steps, curated, "strict")
    assert rows_of(strict) == [(T, "dev-a", 240), (T + 10, "dev-b", 230)]
    udacity = consented_step_trainer_readings(steps, curated, "udacity")
    assert rows_of(udacity) == [(T - 1, "dev-a", 250), (T, "dev-a", 240), (T + 9, "dev-b", 220), (T + 10, "dev-b", 230)]


def test_ml_join_strict_pairs_only_the_device_owners_reading(spark, people):
    curated = consenting_customers(people, "strict")
    steps = step_trainer(spark, [(T + 50, "dev-a", 240), (T + 60, "dev-b", 230)])
    readings = accelerometer(
        spark,
        [
            ("a@x.com", T + 50, 1.0, 0.0, 0.0),
            ("b@x.com", T + 50, -1.0, 0.0, 0.0),  # b's reading at a's step instant: another customer
            ("b@x.com", T + 60, 0.0, 1.0, 0.0),
        ],
    )
    strict = machine_learning_readings(steps, readings, curated, "strict")
    assert strict.columns == ["sensorReadingTime", "serialNumber", "distanceFromObject", "timestamp", "x", "y", "z"]
    assert rows_of(strict) == [(T + 50, "dev-a", 240, T + 50, 1.0, 0.0, 0.0), (T + 60, "dev-b", 230, T + 60, 0.0, 1.0, 0.0)]


def test_ml_join_udacity_pairs_on_the_timestamp_alone(spark, people):
    curated = consenting_customers(people, "udacity")
    steps = step_trainer(spark, [(T + 50, "dev-a", 240)])
    readings = accelerometer(spark, [("a@x.com", T + 50, 1.0, 0.0, 0.0), ("b@x.com", T + 50, -1.0, 0.0, 0.0)])
    udacity = machine_learning_readings(steps, readings, curated, "udacity")
    assert "user" in udacity.columns
    assert rows_of(udacity, "serialNumber", "user") == [("dev-a", "a@x.com"), ("dev-a", "b@x.com")]


def test_ml_strict_has_no_direct_identifiers(spark, people):
    curated = consenting_customers(people, "strict")
    got = machine_learning_readings(
        step_trainer(spark, [(T, "dev-a", 1)]), accelerometer(spark, [("a@x.com", T, 0.0, 0.0, 0.0)]), curated, "strict"
    )
    assert not {"user", "email", "customerName", "phone", "birthDay"} & set(got.columns)
