"""The quality rules: each kind on a passing and a failing frame, the report, the catalog, DQDL."""

from __future__ import annotations

import re

import pytest

from engines import on
from stedi.core import quality
from stedi.core.quality import dqdl_render
from stedi.core.quality import rules as R
from stedi.core.quality.dqdl_render import rule_dqdl as dqdl
from stedi.core.schemas import spark_schema
from stedi.core.tables import (
    ACCELEROMETER_COLUMNS,
    CUSTOMER_COLUMNS,
    MACHINE_LEARNING_COLUMNS,
    STEP_TRAINER_COLUMNS,
    TABLES,
    table,
)
from stedi.core.transforms.accelerometer_trusted import consented_accelerometer_readings
from stedi.core.transforms.customer_curated import customers_with_readings
from stedi.core.transforms.customer_trusted import consenting_customers
from stedi.core.transforms.machine_learning_curated import machine_learning_readings
from stedi.core.transforms.step_trainer_trusted import consented_step_trainer_readings

T = 1_655_564_000_000  # a consent instant
REGISTERED = T - 1000


# -- frames --------------------------------------------------------------------------


@pytest.fixture
def spark(sail):
    """The rules' unit tests on Sail, the engine `stedi run` evaluates them on by default (each rule
    on classic Spark is a job of its own); tests/engine/test_engines.py gives every rule of the
    catalog the same outcome on both engines."""
    with on("sail"):
        yield sail


def customers(spark, rows):
    """rows: (email, serialNumber, shareWithResearchAsOfDate[, phone, birthDay])."""
    full = []
    for row in rows:
        email, serial, consent, phone, birthday = (*row, "8015551212", "1990-01-01")[:5]
        full.append(
            (
                email.split("@")[0],
                email,
                phone,
                birthday,
                serial,
                REGISTERED,
                REGISTERED,
                consent,
                None,
                None,
            )
        )
    return spark.createDataFrame(full, spark_schema(CUSTOMER_COLUMNS))


def readings(spark, rows):
    """rows: (user, timestamp, x, y, z)."""
    return spark.createDataFrame([tuple(r) for r in rows], spark_schema(ACCELEROMETER_COLUMNS))


def steps(spark, rows):
    """rows: (sensorReadingTime, serialNumber, distanceFromObject)."""
    return spark.createDataFrame([tuple(r) for r in rows], spark_schema(STEP_TRAINER_COLUMNS))


def frame(spark, rows, ddl):
    return spark.createDataFrame(rows, ddl)


def rows_of(df, *columns):
    """A whole-frame comparison: the frame's rows (of `columns`, default all) as a sorted list of
    tuples."""
    selected = df.select(*columns) if columns else df
    return sorted((tuple(r) for r in selected.collect()), key=repr)


def check(df, *rules, others=None):
    return quality.evaluate_rules(df, list(rules), others or {}, table="t", policy="strict")


def result(report, name):
    (found,) = [r for r in report.results if r["rule"] == name]
    return found


def outcome(report, name):
    found = result(report, name)
    return found["outcome"], found["rows_failing"]


# -- each kind, passing and failing ---------------------------------------------------------


def test_completeness(spark):
    rule = R.complete("u", "t")
    good = frame(spark, [("a", 1), ("b", 2)], "u string, t bigint")
    bad = frame(spark, [("a", 1), ("b", None), (None, None)], "u string, t bigint")
    assert outcome(check(good, rule), "u_t_complete") == ("passed", 0)
    report = check(bad, rule)
    assert outcome(report, "u_t_complete") == ("failed", 2)
    assert result(report, "u_t_complete")["rows_checked"] == 3


def test_uniqueness_single_column_counts_every_row_sharing_a_value(spark):
    rule = R.unique("email")
    good = frame(spark, [("a",), ("b",)], "email string")
    bad = frame(spark, [("a",), ("b",), ("a",), ("a",)], "email string")
    assert outcome(check(good, rule), "email_unique") == ("passed", 0)
    report = check(bad, rule)
    assert outcome(report, "email_unique") == ("failed", 3)
    assert "most repeated: email='a' (3 rows)" in result(report, "email_unique")["detail"]


def test_uniqueness_compound_key(spark):
    rule = R.unique("u", "t", name="key_unique")
    # "a" repeats and 1 repeats, but no (u, t) pair does.
    good = frame(spark, [("a", 1), ("a", 2), ("b", 1)], "u string, t bigint")
    bad = frame(spark, [("a", 1), ("a", 2), ("b", 1), ("a", 1)], "u string, t bigint")
    nulls = frame(spark, [("a", None), ("a", None)], "u string, t bigint")  # nulls count as values
    assert outcome(check(good, rule), "key_unique") == ("passed", 0)
    assert outcome(check(bad, rule), "key_unique") == ("failed", 2)
    assert outcome(check(nulls, rule), "key_unique") == ("failed", 2)


def test_allowed_values_ignore_nulls(spark):
    rule = R.allowed("x", "y", values=(-1, 0, 1), name="axis", severity=R.WARN)
    good = frame(spark, [(-1.0, 1.0), (0.0, None)], "x double, y double")
    bad = frame(spark, [(-1.0, 1.0), (0.5, 0.0), (0.0, 2.0)], "x double, y double")
    assert outcome(check(good, rule), "axis") == ("passed", 0)
    assert outcome(check(bad, rule), "axis") == ("warned", 2)


def test_allowed_pattern(spark):
    rule = R.allowed("email", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", name="email_well_formed")
    good = frame(spark, [("a@x.com",), (None,)], "email string")
    bad = frame(spark, [("a@x.com",), ("a at x.com",)], "email string")
    assert outcome(check(good, rule), "email_well_formed") == ("passed", 0)
    report = check(bad, rule)
    assert outcome(report, "email_well_formed") == ("failed", 1)
    assert "'a at x.com'" in result(report, "email_well_formed")["detail"]


def test_range_bounds_are_inclusive(spark):
    rule = R.in_range("d", min=0, max=300, name="distance")
    good = frame(spark, [(0,), (300,), (None,)], "d int")
    bad = frame(spark, [(0,), (-1,), (301,)], "d int")
    assert outcome(check(good, rule), "distance") == ("passed", 0)
    assert outcome(check(bad, rule), "distance") == ("failed", 2)


def test_expression_fails_where_false_or_null(spark):
    rule = R.holds(
        "same_instant", "sensorReadingTime = timestamp", columns=("sensorReadingTime", "timestamp")
    )
    good = frame(spark, [(5, 5), (7, 7)], "sensorReadingTime bigint, timestamp bigint")
    bad = frame(spark, [(5, 5), (5, 6), (5, None)], "sensorReadingTime bigint, timestamp bigint")
    assert outcome(check(good, rule), "same_instant") == ("passed", 0)
    assert outcome(check(bad, rule), "same_instant") == ("failed", 2)


def test_referential_integrity_ignores_null_keys(spark):
    rule = R.references("user", "people", "email", name="known_user")
    people = frame(spark, [("a",), ("b",), ("b",)], "email string")
    good = frame(spark, [("a", 1), ("b", 2), (None, 3)], "user string, t bigint")
    bad = frame(spark, [("a", 1), ("zed", 2), ("zed", 3)], "user string, t bigint")
    assert outcome(check(good, rule, others={"people": people}), "known_user") == ("passed", 0)
    report = check(bad, rule, others={"people": people})
    assert outcome(report, "known_user") == ("failed", 2)
    assert report.rows == 3  # the lookup (with a repeated key) did not multiply rows


def test_referential_integrity_compound_key(spark):
    rule = R.references(("s", "t"), "ref", ("serial", "time"), name="known_pair")
    ref = frame(spark, [("d1", 1), ("d2", 2)], "serial string, time bigint")
    good = frame(spark, [("d1", 1), ("d2", 2)], "s string, t bigint")
    bad = frame(
        spark, [("d1", 1), ("d1", 2)], "s string, t bigint"
    )  # both parts exist, the pair does not
    assert outcome(check(good, rule, others={"ref": ref}), "known_pair") == ("passed", 0)
    assert outcome(check(bad, rule, others={"ref": ref}), "known_pair") == ("failed", 1)


def test_schema_equals_declared(spark):
    rule = R.matches_schema(STEP_TRAINER_COLUMNS)
    good = steps(spark, [(T, "d1", 200)])
    extra = good.withColumn("email", good.serialNumber)
    retyped = good.withColumn("distanceFromObject", good.distanceFromObject.cast("double"))
    reordered = good.select("serialNumber", "sensorReadingTime", "distanceFromObject")
    assert outcome(check(good, rule), "schema_matches_declared") == ("passed", None)
    assert (
        result(check(extra, rule), "schema_matches_declared")["detail"]
        == "undeclared column email string"
    )
    assert result(check(retyped, rule), "schema_matches_declared")["detail"] == (
        "column distanceFromObject is double, declared int"
    )
    assert check(reordered, rule).results[0]["outcome"] == "failed"


def test_forbidden_columns(spark):
    rule = R.forbids("email", "user", name="no_direct_identifiers")
    good = frame(spark, [(1,)], "serialNumber int")
    bad = frame(spark, [(1, "a")], "serialNumber int, user string")
    assert outcome(check(good, rule), "no_direct_identifiers") == ("passed", None)
    report = check(bad, rule)
    assert outcome(report, "no_direct_identifiers") == ("failed", None)
    assert result(report, "no_direct_identifiers")["detail"] == "present: user"


def test_row_count_relation_to_another_table(spark):
    rule = R.row_count("<=", reference="landing", name="rows_at_most_landing")
    landing = frame(spark, [(1,), (2,)], "v int")
    assert outcome(
        check(landing.limit(1), rule, others={"landing": landing}), "rows_at_most_landing"
    ) == ("passed", None)
    assert outcome(check(landing, rule, others={"landing": landing}), "rows_at_most_landing") == (
        "passed",
        None,
    )
    more = frame(spark, [(1,), (2,), (3,)], "v int")
    report = check(more, rule, others={"landing": landing})
    assert outcome(report, "rows_at_most_landing") == ("failed", None)
    assert (
        result(report, "rows_at_most_landing")["detail"]
        == "3 rows <= 2 (rows of landing): does not hold"
    )


def test_row_count_of_distinct_customers(spark):
    rule = R.row_count(
        "<=", reference="trusted", distinct="serial", name="customers_at_most_trusted"
    )
    trusted = frame(spark, [("d1",), ("d2",)], "serial string")
    good = frame(
        spark, [("d1", 1), ("d1", 2), ("d2", 3)], "serial string, t int"
    )  # 3 rows, 2 customers
    bad = frame(spark, [("d1", 1), ("d2", 2), ("d3", 3)], "serial string, t int")
    assert outcome(check(good, rule, others={"trusted": trusted}), "customers_at_most_trusted") == (
        "passed",
        None,
    )
    assert outcome(check(bad, rule, others={"trusted": trusted}), "customers_at_most_trusted") == (
        "failed",
        None,
    )


def test_row_count_constant(spark):
    rule = R.row_count(">", value=0, name="not_empty")
    assert outcome(check(frame(spark, [(1,)], "v int"), rule), "not_empty") == ("passed", None)
    assert outcome(check(frame(spark, [], "v int"), rule), "not_empty") == ("failed", None)


def test_group_size_outside_the_usual_range(spark):
    rule = R.usual_group_size("user", unit="customers", name="readings_per_customer_usual")
    usual = [(u, t) for u in "abcd" for t in range(10)]
    good = frame(spark, usual, "user string, t int")
    bad = frame(spark, usual + [("e", t) for t in range(30)], "user string, t int")
    assert outcome(check(good, rule), "readings_per_customer_usual") == ("passed", 0)
    report = check(bad, rule)
    assert outcome(report, "readings_per_customer_usual") == ("warned", 30)
    assert result(report, "readings_per_customer_usual")["detail"].startswith(
        "1 of 5 customers outside the usual 10 to 10"
    )


def test_free_sql_with_another_table(spark):
    rule = R.sql(
        "reading_not_before_consent",
        """select a.* from {primary} a left semi join {customer_trusted} c
           on a.user = c.email and a.timestamp < c.shareWithResearchAsOfDate""",
    )
    assert rule.needs == ("customer_trusted",)
    people = customers(spark, [("a@x.com", "d1", T)])
    good = readings(spark, [("a@x.com", T, 0.0, 0.0, 0.0), ("a@x.com", T + 1, 0.0, 0.0, 0.0)])
    bad = readings(spark, [("a@x.com", T - 1, 0.0, 0.0, 0.0), ("a@x.com", T, 0.0, 0.0, 0.0)])
    others = {"customer_trusted": people}
    assert outcome(check(good, rule, others=others), "reading_not_before_consent") == ("passed", 0)
    report = check(bad, rule, others=others)
    assert outcome(report, "reading_not_before_consent") == ("failed", 1)
    assert f"timestamp={T - 1}" in result(report, "reading_not_before_consent")["detail"]


# -- the report ---------------------------------------------------------------------------


def test_quarantine_moves_failing_rows_out_with_their_rules(spark):
    complete = R.complete("x", severity=R.QUARANTINE, name="reading_complete")
    known = R.references(
        "user", "people", "email", severity=R.QUARANTINE, name="reading_owner_known"
    )
    people = frame(spark, [("a",)], "email string")
    df = frame(
        spark, [("a", 1.0), ("a", None), ("zed", 1.0), ("zed", None)], "user string, x double"
    )
    report = check(df, complete, known, others={"people": people})
    assert outcome(report, "reading_complete") == ("quarantined", 2)
    assert outcome(report, "reading_owner_known") == ("quarantined", 2)
    assert report.errors == []
    assert report.passing.columns == df.columns
    assert rows_of(report.passing) == [("a", 1.0)]
    assert rows_of(report.quarantined) == [
        ("a", None, "reading_complete"),
        ("zed", 1.0, "reading_owner_known"),
        ("zed", None, "reading_complete,reading_owner_known"),
    ]
    assert report.quarantined_rows == 3  # the row failing both rules counts once
    records = report.quarantine_records()
    assert records.columns == ["source_file", "position", "reason", "raw"]
    assert rows_of(records.where("reason like '%,%'")) == [
        ("t", None, "quality:reading_complete,reading_owner_known", '{"user":"zed"}')
    ]


def test_nothing_quarantined_leaves_the_frame_as_is(spark):
    df = frame(spark, [("a", 1.0)], "user string, x double")
    report = check(df, R.complete("x", severity=R.QUARANTINE))
    assert report.passing is df
    assert report.quarantined is None and report.quarantine_records() is None
    assert report.quarantined_rows == 0


def test_errors_fail_and_warnings_only_report(spark):
    df = frame(spark, [("a", None), ("a", 1)], "u string, t bigint")
    report = check(df, R.complete("t"), R.unique("u", severity=R.WARN))
    assert [r["rule"] for r in report.errors] == ["t_complete"]
    assert [r["rule"] for r in report.warnings] == ["u_unique"]
    assert not report.ok
    with pytest.raises(
        quality.QualityError, match=r"t: 1 quality rule\(s\) failed: t_complete"
    ) as raised:
        report.raise_for_errors()
    assert raised.value.failures == report.errors
    warned_only = check(df, R.unique("u", severity=R.WARN))
    assert warned_only.raise_for_errors() is warned_only


def test_results_table_and_manifest_form(spark):
    import json

    df = frame(spark, [("a", None)], "u string, t bigint")
    report = check(df, R.complete("t"), R.matches_schema((("u", "string"), ("t", "bigint"))))
    assert report.results == [
        {
            "rule": "t_complete",
            "kind": "completeness",
            "severity": "error",
            "rows_checked": 1,
            "rows_failing": 1,
            "outcome": "failed",
            "detail": "1 of 1 rows with a null t; e.g. None",
        },
        {
            "rule": "schema_matches_declared",
            "kind": "schema",
            "severity": "error",
            "rows_checked": None,
            "rows_failing": None,
            "outcome": "passed",
            "detail": "",
        },
    ]
    table_ = report.to_pandas()
    assert list(table_.columns) == list(quality.RESULT_KEYS)
    assert str(table_["rows_failing"].dtype) == "Int64"
    assert json.loads(json.dumps(report.to_dict()))["results"] == report.results
    assert "<table" in report._repr_html_() and "t_complete" in report._repr_html_()


def test_missing_other_table_is_refused(spark):
    df = frame(spark, [("a",)], "user string")
    with pytest.raises(ValueError, match="need people; pass them in `others`"):
        check(df, R.references("user", "people", "email", name="known_user"))


def test_rule_on_a_missing_column_is_reported_not_raised(spark):
    df = frame(spark, [("a",)], "user string")
    report = check(df, R.complete("x"), R.unique("y", severity=R.WARN), R.complete("user"))
    assert [(r["rule"], r["outcome"], r["detail"]) for r in report.results] == [
        ("x_complete", "failed", "not evaluated: missing column(s) x"),
        ("y_unique", "warned", "not evaluated: missing column(s) y"),
        ("user_complete", "passed", ""),
    ]


def test_rule_declarations_are_checked():
    with pytest.raises(ValueError, match="only row-level kinds"):
        R.unique("email", severity=R.QUARANTINE)
    with pytest.raises(ValueError, match="unknown severity"):
        R.complete("email", severity="fatal")
    with pytest.raises(ValueError, match="exactly one of values or pattern"):
        R.allowed("x", name="nothing")
    with pytest.raises(ValueError, match=r"duplicated|unique per table"):
        quality.evaluate_rules(None, [R.complete("a"), R.complete("a")])


# -- the catalog ----------------------------------------------------------------------------------

PIPELINE_ORDER = (
    "customer_landing",
    "accelerometer_landing",
    "step_trainer_landing",
    "customer_trusted",
    "accelerometer_trusted",
    "customer_curated",
    "step_trainer_trusted",
    "machine_learning_curated",
)


@pytest.mark.parametrize("policy", ["strict", "udacity"])
def test_every_table_declares_its_schema_and_needs_only_earlier_tables(policy):
    assert set(PIPELINE_ORDER) == set(TABLES)
    for position, name in enumerate(PIPELINE_ORDER):
        rules = quality.rules_for(name, policy)
        names = [r.name for r in rules]
        assert len(names) == len(set(names)), name
        schema = next(r for r in rules if r.kind == "schema")
        assert schema.params["declared"] == table(name).columns_for(policy)
        assert quality.tables_needed(name, policy) <= set(PIPELINE_ORDER[:position]), name


def test_policy_specific_rules():
    strict = {r.name for r in quality.rules_for("machine_learning_curated", "strict")}
    udacity = {r.name for r in quality.rules_for("machine_learning_curated", "udacity")}
    strict_only = {"no_direct_identifiers", "reading_of_device_owner", "reading_not_before_consent"}
    assert strict_only <= strict and not strict_only & udacity
    assert {"user_complete", "reading_of_consenting_customer"} <= udacity - strict
    assert quality.tables_needed("machine_learning_curated", "strict") == {
        "customer_trusted",
        "accelerometer_trusted",
    }
    assert quality.tables_needed("machine_learning_curated", "udacity") == {"customer_trusted"}
    assert "reading_not_before_consent" not in {
        r.name for r in quality.rules_for("accelerometer_trusted", "udacity")
    }


def test_customer_landing_findings(spark):
    df = customers(
        spark,
        [
            ("a@x.com", "d1", T, "8015551212", "1990-01-01"),
            ("b@x.com", "d2", None, "8015551212", "1399-01-01"),
            ("c@x.com", "d3", None, "5550001", "1900-01-01"),
            ("d@x.com", "d4", None, "5550002", "999-01-01"),
            ("e@x.com", "d5", None, "5550003", "2030-01-01"),  # after registration
            ("f@x.com", "d6", None, "5550004", None),  # missing is not implausible
        ],
    )
    report = quality.evaluate("customer_landing", df, "strict", {})
    assert report.errors == []
    assert outcome(report, "phone_unique") == ("warned", 2)
    assert outcome(report, "birthDay_plausible") == ("warned", 4)


def build(spark, policy):
    """The zone tables of a tiny lake, built by the transforms.

    a consented at T (device d1), b at T + 10 (device d2), c never (device d3).
    """
    landing_customers = customers(
        spark, [("a@x.com", "d1", T), ("b@x.com", "d2", T + 10), ("c@x.com", "d3", None)]
    )
    landing_readings = readings(
        spark,
        [
            ("a@x.com", T - 1, 1.0, 0.0, 0.0),  # before a's consent
            ("a@x.com", T + 20, 0.0, 1.0, 0.0),
            ("b@x.com", T + 20, -1.0, 0.0, 0.0),  # same instant as a's reading
            ("c@x.com", T + 20, 0.0, 0.0, 1.0),
        ],
    )
    landing_steps = steps(
        spark, [(T - 1, "d1", 200), (T + 20, "d1", 210), (T + 20, "d2", 220), (T + 20, "d3", 230)]
    )
    t = {
        "customer_landing": landing_customers,
        "accelerometer_landing": landing_readings,
        "step_trainer_landing": landing_steps,
    }
    t["customer_trusted"] = consenting_customers(t["customer_landing"], policy)
    t["accelerometer_trusted"] = consented_accelerometer_readings(
        t["accelerometer_landing"], t["customer_trusted"], policy
    )
    t["customer_curated"] = customers_with_readings(
        t["customer_trusted"], t["accelerometer_trusted"], policy
    )
    t["step_trainer_trusted"] = consented_step_trainer_readings(
        t["step_trainer_landing"], t["customer_curated"], policy
    )
    t["machine_learning_curated"] = machine_learning_readings(
        t["step_trainer_trusted"], t["accelerometer_trusted"], t["customer_curated"], policy
    )
    return t


@pytest.fixture(scope="module")
def sail_lakes(sail):
    """The tiny lake built under each policy on Sail, the engine `stedi run` evaluates the rules
    on by default (each rule on classic Spark is a job of its own: 25 s for these tests, against
    a few on Sail; tests/engine/test_engines.py gives every rule the same outcome on both)."""
    with on("sail"):
        return {policy: build(sail, policy) for policy in ("strict", "udacity")}


@pytest.fixture
def lakes(sail_lakes):
    with on("sail"):
        yield sail_lakes


def catalog_rule(table_name, policy, rule_name):
    """One declared rule of the catalog, to evaluate alone."""
    (rule,) = [r for r in quality.rules_for(table_name, policy) if r.name == rule_name]
    return [rule]


@pytest.mark.parametrize("policy", ["strict", "udacity"])
@pytest.mark.slow
def test_a_correct_build_passes_every_error_rule(lakes, policy):
    t = lakes[policy]
    assert t["machine_learning_curated"].count() == {"strict": 2, "udacity": 5}[policy]
    for name in PIPELINE_ORDER:
        others = {o: t[o] for o in quality.tables_needed(name, policy)}
        report = quality.evaluate(name, t[name], policy, others)
        assert report.errors == [], (name, report.errors)


@pytest.mark.slow
def test_strict_invariants_reject_what_udacity_allows(lakes):
    t = lakes["udacity"]
    needed = lambda name: {o: t[o] for o in quality.tables_needed(name, "strict")}  # noqa: E731
    accel = quality.evaluate(
        "accelerometer_trusted",
        t["accelerometer_trusted"],
        "strict",
        needed("accelerometer_trusted"),
    )
    assert [(r["rule"], r["rows_failing"]) for r in accel.errors] == [
        ("reading_not_before_consent", 1)
    ]
    steps_ = quality.evaluate(
        "step_trainer_trusted", t["step_trainer_trusted"], "strict", needed("step_trainer_trusted")
    )
    assert [(r["rule"], r["rows_failing"]) for r in steps_.errors] == [
        ("reading_not_before_consent", 1)
    ]
    ml = t["machine_learning_curated"]
    report = quality.evaluate(
        "machine_learning_curated", ml, "strict", needed("machine_learning_curated")
    )
    failed = {r["rule"]: r["rows_failing"] for r in report.errors}
    # udacity pairs d1's and d2's step readings at T+20 with both a's and b's readings.
    assert failed == {
        "schema_matches_declared": None,
        "no_direct_identifiers": None,
        "reading_of_device_owner": 2,
        "reading_not_before_consent": 1,
    }
    with pytest.raises(quality.QualityError, match="reading_of_device_owner"):
        report.raise_for_errors()


def test_no_customer_without_consent_in_trusted_or_curated(lakes):
    t = lakes["strict"]
    leaked = t["customer_landing"]  # c has no consent date
    for name in ("customer_trusted", "customer_curated"):
        report = quality.evaluate_rules(
            leaked, catalog_rule(name, "strict", "research_consent_present")
        )
        assert outcome(report, "research_consent_present") == ("failed", 1)
    rule = catalog_rule("accelerometer_trusted", "strict", "reading_of_consenting_customer")
    report = quality.evaluate_rules(
        t["accelerometer_landing"], rule, {"customer_trusted": t["customer_trusted"]}
    )
    assert outcome(report, "reading_of_consenting_customer") == ("failed", 1)
    rule = catalog_rule("step_trainer_trusted", "strict", "device_of_consenting_customer")
    report = quality.evaluate_rules(
        t["step_trainer_landing"], rule, {"customer_trusted": t["customer_trusted"]}
    )
    assert outcome(report, "device_of_consenting_customer") == ("failed", 1)


def test_landing_quarantine_of_unusable_readings(spark):
    people = customers(spark, [("a@x.com", "d1", T)])
    df = readings(
        spark,
        [
            ("a@x.com", T, 0.0, 0.0, 0.0),
            ("a@x.com", T + 1, None, 0.0, 0.0),
            ("ghost@x.com", T, 1.0, 0.0, 0.0),
        ],
    )
    report = quality.evaluate("accelerometer_landing", df, "strict", {"customer_landing": people})
    assert report.errors == []
    assert rows_of(report.passing) == [("a@x.com", T, 0.0, 0.0, 0.0)]
    assert rows_of(report.quarantined, "user", "rule") == [
        ("a@x.com", "reading_complete"),
        ("ghost@x.com", "reading_owner_known"),
    ]


# -- DQDL ------------------------------------------------------------------------------------

DQDL_RULE_TYPES = (
    "IsComplete",
    "IsUnique",
    "ColumnValues",
    "ColumnCount",
    "ColumnExists",
    "ColumnNamesMatchPattern",
    "ReferentialIntegrity",
    "RowCount",
    "RowCountMatch",
    "CustomSql",
)


def split_top_level(body: str) -> list[str]:
    """Rules of a DQDL list: commas outside quotes and parentheses separate them."""
    parts, depth, quoted, current, i = [], 0, False, "", 0
    while i < len(body):
        ch = body[i]
        if quoted and ch == "\\":
            current += body[i : i + 2]
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        if ch == "," and not quoted and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
        i += 1
    parts.append(current.strip())
    return parts


@pytest.mark.parametrize("policy", ["strict", "udacity"])
def test_dqdl_has_one_well_formed_ruleset_per_table(policy):
    text = quality.dqdl_rulesets(policy)
    rulesets = re.findall(
        r"^# (\w+) \(\w+ zone, policy (\w+)\)\n(?:#[^\n]*\n)*Rules = \[\n(.*?)\n\]$",
        text,
        re.S | re.M,
    )
    assert [name for name, _, _ in rulesets] == list(TABLES)
    for name, declared_policy, body in rulesets:
        assert declared_policy == policy
        code = "\n".join(line for line in body.splitlines() if not line.strip().startswith("#"))
        rules = split_top_level(code)
        assert len(rules) == len(quality.rules_for(name, policy)), name
        for rule in rules:
            assert re.match(r"\(?(" + "|".join(DQDL_RULE_TYPES) + r")\b", rule), rule
            assert (rule.count('"') - rule.count('\\"')) % 2 == 0, rule  # quotes balanced


def test_dqdl_of_each_kind():
    assert dqdl(R.complete("email")) == 'IsComplete "email"'
    assert dqdl(R.complete("x", "y")) == '(IsComplete "x") and (IsComplete "y")'
    assert dqdl(R.unique("user", "timestamp")) == 'IsUnique "user" "timestamp"'
    assert (
        dqdl(R.allowed("x", values=(-1, 0, 1), name="a"))
        == 'ColumnValues "x" in [-1, 0, 1] where "`x` is not null"'
    )
    assert (
        dqdl(R.allowed("e", pattern='a\\.b"', name="p"))
        == 'ColumnValues "e" matches "a\\\\.b\\"" where "`e` is not null"'
    )
    assert dqdl(R.in_range("d", min=0, name="r")) == 'ColumnValues "d" >= 0 where "`d` is not null"'
    assert dqdl(R.references("user", "customer_trusted", "email", name="ri")) == (
        'ReferentialIntegrity "user" "customer_trusted.email" = 1.0'
    )
    assert (
        dqdl(R.references(("a", "b"), "ref", ("c", "d"), name="ri"))
        == 'ReferentialIntegrity "a,b" "ref.{c,d}" = 1.0'
    )
    assert (
        dqdl(R.row_count("<=", reference="customer_landing", name="n"))
        == 'RowCountMatch "customer_landing" <= 1.0'
    )
    assert dqdl(R.row_count(">", value=0, name="n")) == "RowCount > 0"
    assert dqdl(R.holds("h", "a = b", columns=("a", "b"))) == (
        'CustomSql "select count(*) from primary where not coalesce(a = b, false)" = 0'
    )
    assert dqdl(
        R.sql("s", "select * from {primary} p left semi join {other} o on p.k = o.k"), database="db"
    ) == (
        'CustomSql "select count(*) from (select * from primary p left semi join db.other o on p.k '
        '= o.k)" = 0'
    )
    assert (
        dqdl(R.forbids("email", "user", name="f"))
        == 'ColumnNamesMatchPattern "^(?!(email|user)$).*$"'
    )
    assert dqdl(R.matches_schema((("a", "string"), ("b", "int")))) == (
        '(ColumnCount = 2) and (ColumnExists "a") and (ColumnExists "b")'
    )


def test_dqdl_of_the_issue_examples():
    strict = quality.dqdl_rulesets("strict")
    for line in (
        'IsComplete "email"',
        'IsUnique "email"',
        'ColumnValues "x" in [-1, 0, 1]',
        'ReferentialIntegrity "user" "customer_trusted.email" = 1.0',
        'RowCountMatch "accelerometer_landing" <= 1.0',
        "RowCount > 0",
        "CustomSql",
    ):
        assert line in strict
    assert (
        "no_direct_identifiers" in strict
        and "no_direct_identifiers" not in quality.dqdl_rulesets("udacity")
    )


def test_dqdl_lists_rules_without_an_equivalent(monkeypatch):
    monkeypatch.setitem(dqdl_render.RENDERERS, "group_size", lambda rule, database: None)
    text = quality.dqdl_ruleset("accelerometer_landing", "strict")
    assert "# No DQDL equivalent:\n#   readings_per_customer_usual [warn]" in text
    assert "unusual_groups" not in text


def test_ml_columns_are_declared_without_identifiers():
    # The privacy rule and the declared strict schema agree.
    names = {c for c, _ in MACHINE_LEARNING_COLUMNS}
    forbidden = next(
        r
        for r in quality.rules_for("machine_learning_curated", "strict")
        if r.name == "no_direct_identifiers"
    )
    assert not names & set(forbidden.params["forbidden"])
