"""Each zone transform on tiny frames holding the rows that matter, both policies.

Every transform has a whole-frame test (expected rows and schema equal to the actual
ones, in any order) and a negative test: the edge row that must not come through.
"""

from __future__ import annotations

import pytest

from engines import on
from frames import (
    CONSENT_A,
    accelerometer,
    assert_frames_equal,
    customers,
    declared,
    step_trainer,
)
from stedi.core.transforms.accelerometer_trusted import consented_accelerometer_readings
from stedi.core.transforms.customer_curated import customers_with_readings
from stedi.core.transforms.customer_trusted import consenting_customers
from stedi.core.transforms.machine_learning_curated import machine_learning_readings
from stedi.core.transforms.step_trainer_trusted import consented_step_trainer_readings

T = CONSENT_A
POLICIES = ("strict", "udacity")

# a consented at T, b consented at T + 10, c never consented (key missing).
A, B, C = ("a@x.com", "dev-a", T), ("b@x.com", "dev-b", T + 10), ("c@x.com", "dev-c", None)


@pytest.fixture(scope="module")
def spark(sail):
    """The transforms on Sail, the engine `stedi run` uses by default (tiny frames: classic Spark's
    jobs were most of this module's 13 s); tests/engine/test_engines.py gives the transforms the
    same tables on both engines."""
    with on("sail"):
        yield sail


@pytest.fixture(scope="module")
def people(spark):
    return customers(spark, [A, B, C])


@pytest.fixture(scope="module")
def consenting(spark):
    """customer_trusted (and customer_curated) of `people`: a and b."""
    return customers(spark, [A, B])


# -- customer_trusted ----------------------------------------------------------------
@pytest.mark.parametrize("policy", POLICIES)
def test_consenting_customers_are_the_customers_with_a_consent_date(spark, people, policy):
    assert_frames_equal(consenting_customers(people, policy), customers(spark, [A, B]))


@pytest.mark.parametrize("policy", POLICIES)
def test_a_customer_without_consent_date_is_not_trusted(spark, policy):
    assert_frames_equal(consenting_customers(customers(spark, [C]), policy), customers(spark, []))


# -- accelerometer_trusted -----------------------------------------------------------
READINGS = [
    ("a@x.com", T - 1, 1.0, 0.0, 0.0),  # one millisecond before a's consent
    ("a@x.com", T, 0.0, 1.0, 0.0),  # exactly at a's consent
    ("a@x.com", T + 50, 0.0, 0.0, 1.0),
    ("b@x.com", T + 50, -1.0, 0.0, 0.0),  # same instant as a's reading
    ("c@x.com", T + 50, 0.0, -1.0, 0.0),  # never consented
]


def test_accelerometer_strict_keeps_readings_from_consent_on(spark, consenting):
    got = consented_accelerometer_readings(accelerometer(spark, READINGS), consenting, "strict")
    assert_frames_equal(got, accelerometer(spark, READINGS[1:4]))


def test_accelerometer_udacity_keeps_every_reading_of_consenting_customers(spark, consenting):
    got = consented_accelerometer_readings(accelerometer(spark, READINGS), consenting, "udacity")
    assert_frames_equal(got, accelerometer(spark, READINGS[:4]))


def test_accelerometer_strict_drops_a_reading_one_millisecond_before_consent(spark, consenting):
    early = accelerometer(spark, [("a@x.com", T - 1, 1.0, 0.0, 0.0)])
    assert_frames_equal(
        consented_accelerometer_readings(early, consenting, "strict"), accelerometer(spark, [])
    )


@pytest.mark.parametrize("policy", POLICIES)
def test_accelerometer_drops_readings_of_customers_who_never_consented(spark, people, policy):
    trusted = consenting_customers(people, policy)
    readings = accelerometer(
        spark, [("c@x.com", T + 50, 0.0, -1.0, 0.0), ("z@x.com", T + 50, 0.0, 0.0, 0.0)]
    )
    assert_frames_equal(
        consented_accelerometer_readings(readings, trusted, policy), accelerometer(spark, [])
    )


# -- customer_curated ----------------------------------------------------------------
def test_customer_curated_needs_a_trusted_reading_and_lists_each_customer_once(spark, consenting):
    # a has two readings (listed once); b's only reading predates b's consent, so under
    # strict it is not trusted and b is not curated.
    readings = accelerometer(
        spark,
        [
            ("a@x.com", T, 0.0, 0.0, 0.0),
            ("a@x.com", T + 1, 0.0, 0.0, 0.0),
            ("b@x.com", T, 0.0, 0.0, 0.0),
        ],
    )
    expected = {"strict": customers(spark, [A]), "udacity": customers(spark, [A, B])}
    for policy, want in expected.items():
        trusted_readings = consented_accelerometer_readings(readings, consenting, policy)
        assert_frames_equal(customers_with_readings(consenting, trusted_readings, policy), want)


@pytest.mark.parametrize("policy", POLICIES)
def test_a_consenting_customer_without_readings_is_not_curated(spark, consenting, policy):
    readings = accelerometer(spark, [("a@x.com", T + 5, 0.0, 0.0, 0.0)])  # none of b
    assert_frames_equal(
        customers_with_readings(consenting, readings, policy), customers(spark, [A])
    )


# -- step_trainer_trusted ------------------------------------------------------------
STEPS = [
    (T - 1, "dev-a", 250),  # one millisecond before a's consent
    (T, "dev-a", 240),
    (T + 9, "dev-b", 220),  # one millisecond before b's consent
    (T + 10, "dev-b", 230),
    (T, "dev-c", 210),  # c is not curated
]


def test_step_trainer_strict_keeps_curated_devices_from_consent_on(spark, consenting):
    got = consented_step_trainer_readings(step_trainer(spark, STEPS), consenting, "strict")
    assert_frames_equal(got, step_trainer(spark, [(T, "dev-a", 240), (T + 10, "dev-b", 230)]))


def test_step_trainer_udacity_keeps_every_reading_of_curated_devices(spark, consenting):
    got = consented_step_trainer_readings(step_trainer(spark, STEPS), consenting, "udacity")
    assert_frames_equal(got, step_trainer(spark, STEPS[:4]))


def test_step_trainer_strict_drops_a_reading_one_millisecond_before_consent(spark, consenting):
    early = step_trainer(spark, [(T + 9, "dev-b", 220)])
    assert_frames_equal(
        consented_step_trainer_readings(early, consenting, "strict"), step_trainer(spark, [])
    )


@pytest.mark.parametrize("policy", POLICIES)
def test_step_trainer_drops_devices_of_customers_not_curated(spark, consenting, policy):
    others = step_trainer(spark, [(T, "dev-c", 210), (T + 50, "dev-unknown", 200)])
    assert_frames_equal(
        consented_step_trainer_readings(others, consenting, policy), step_trainer(spark, [])
    )


# -- machine_learning_curated --------------------------------------------------------
def test_ml_join_strict_pairs_only_the_device_owners_reading(spark, consenting):
    steps = step_trainer(spark, [(T + 50, "dev-a", 240), (T + 60, "dev-b", 230)])
    readings = accelerometer(
        spark,
        [
            ("a@x.com", T + 50, 1.0, 0.0, 0.0),
            (
                "b@x.com",
                T + 50,
                -1.0,
                0.0,
                0.0,
            ),  # b's reading at a's step instant: another customer
            ("b@x.com", T + 60, 0.0, 1.0, 0.0),
        ],
    )
    expected = declared(
        spark,
        "machine_learning_curated",
        [
            (T + 50, "dev-a", 240, T + 50, 1.0, 0.0, 0.0),
            (T + 60, "dev-b", 230, T + 60, 0.0, 1.0, 0.0),
        ],
    )
    assert_frames_equal(machine_learning_readings(steps, readings, consenting, "strict"), expected)


def test_ml_join_udacity_pairs_on_the_timestamp_alone(spark, consenting):
    steps = step_trainer(spark, [(T + 50, "dev-a", 240)])
    readings = accelerometer(
        spark, [("a@x.com", T + 50, 1.0, 0.0, 0.0), ("b@x.com", T + 50, -1.0, 0.0, 0.0)]
    )
    expected = declared(
        spark,
        "machine_learning_curated",
        [
            (T + 50, "dev-a", 240, "a@x.com", T + 50, 1.0, 0.0, 0.0),
            (T + 50, "dev-a", 240, "b@x.com", T + 50, -1.0, 0.0, 0.0),
        ],
        policy="udacity",
    )
    assert_frames_equal(machine_learning_readings(steps, readings, consenting, "udacity"), expected)


def test_ml_join_strict_drops_a_reading_of_another_customer_at_the_same_instant(spark, consenting):
    steps = step_trainer(spark, [(T + 50, "dev-a", 240)])
    readings = accelerometer(spark, [("b@x.com", T + 50, -1.0, 0.0, 0.0)])  # not the owner of dev-a
    got = machine_learning_readings(steps, readings, consenting, "strict")
    assert_frames_equal(got, declared(spark, "machine_learning_curated", []))
    # The same pair under udacity: ownership alone kept it out.
    assert machine_learning_readings(steps, readings, consenting, "udacity").count() == 1


def test_ml_strict_has_no_direct_identifiers(spark, consenting):
    steps, readings = (
        step_trainer(spark, [(T, "dev-a", 1)]),
        accelerometer(spark, [("a@x.com", T, 0.0, 0.0, 0.0)]),
    )
    got = machine_learning_readings(steps, readings, consenting, "strict")
    assert not {"user", "email", "customerName", "phone", "birthDay"} & set(got.columns)
