"""The rules after an append (stedi.core.quality.appended): merged from the previous results and the
added rows, they give what the whole table's evaluation gives."""

from __future__ import annotations

import pytest

from engines import on
from stedi.core import quality
from stedi.core.quality import appended
from stedi.core.quality import rules as R
from stedi.core.schemas import spark_schema
from stedi.core.tables import ACCELEROMETER_COLUMNS, CUSTOMER_COLUMNS, STEP_TRAINER_COLUMNS

COMPARED = ("rule", "outcome", "rows_checked", "rows_failing")
REGISTERED = 1_655_563_999_000


@pytest.fixture
def spark(sail):
    """These tests' frames on Sail, the engine `stedi run` merges the results on by default (on
    classic Spark each rule is a job of its own: 35 s for this module); the rules' outcomes on
    both engines are compared in tests/engine/test_engines.py."""
    with on("sail"):
        yield sail


def customers(spark, rows):
    """rows: (email, serialNumber, shareWithResearchAsOfDate)."""
    full = [
        (e.split("@")[0], e, "8015551212", "1990-01-01", s, REGISTERED, REGISTERED, c, None, None)
        for e, s, c in rows
    ]
    return spark.createDataFrame(full, spark_schema(CUSTOMER_COLUMNS))


def readings(spark, rows):
    """rows: (user, timestamp, x, y, z)."""
    return spark.createDataFrame(rows, spark_schema(ACCELEROMETER_COLUMNS))


def steps(spark, rows):
    """rows: (sensorReadingTime, serialNumber, distanceFromObject)."""
    return spark.createDataFrame(rows, spark_schema(STEP_TRAINER_COLUMNS))


def counts(report):
    """Each result without its examples (any failing rows may be shown) and without the most
    repeated key (ties go either way)."""
    shown = []
    for r in report.results:
        detail = r["detail"].split("; e.g.")[0].split("most repeated")[0]
        shown.append((*(r[k] for k in COMPARED), detail))
    return shown


def after_append(
    table, old, added, others, *, unchanged=None, grown=frozenset(), old_report=None, results=None
):
    """evaluate_appended of old + added, from old's evaluation (as a step records it; `results`:
    other recorded results than that evaluation's)."""
    old_report = old_report or quality.evaluate(table, old, "strict", others)
    return appended.evaluate_appended(
        table,
        old.unionByName(added),
        old,
        added,
        "strict",
        others,
        results=old_report.results if results is None else results,
        recorded=appended.record(old_report, "strict"),
        unchanged=set(others) if unchanged is None else unchanged,
        grown=grown,
        old_rows=old.count(),
    )


def test_an_append_gives_the_whole_tables_results(spark):
    owners = customers(spark, [("a@x.com", "s1", REGISTERED), ("b@x.com", "s2", REGISTERED)])
    others = {"customer_landing": owners}
    old = readings(
        spark,
        [
            ("a@x.com", REGISTERED + 1, 1.0, 0.0, -1.0),
            ("a@x.com", REGISTERED + 1, 0.0, 0.0, 0.0),  # shares user and instant
            ("a@x.com", REGISTERED - 5, 0.5, 0.0, 0.0),  # before registration, not quantized
            ("b@x.com", REGISTERED + 2, 1.0, 1.0, 1.0),
        ],
    )
    added = readings(
        spark,
        [
            ("b@x.com", REGISTERED + 2, 0.0, 1.0, 1.0),  # shares an old row's user and instant
            ("b@x.com", REGISTERED + 3, 0.0, 1.0, 1.0),
            ("a@x.com", REGISTERED - 9, 2.0, 0.0, 0.0),
        ],
    )
    whole = quality.evaluate("accelerometer_landing", old.unionByName(added), "strict", others)
    merged = after_append("accelerometer_landing", old, added, others)
    assert counts(merged) == counts(whole)
    assert merged.rows == 7
    unique = next(r for r in merged.results if r["rule"] == "one_reading_per_user_and_instant")
    assert (unique["outcome"], unique["rows_failing"]) == ("warned", 4)
    assert "(2 repeated value(s), 2 surplus rows)" in unique["detail"]
    # The merged figures are what the next append merges with.
    again = readings(spark, [("a@x.com", REGISTERED + 1, 1.0, 1.0, 1.0)])
    both = old.unionByName(added)
    assert counts(
        after_append("accelerometer_landing", both, again, others, old_report=merged)
    ) == (
        counts(quality.evaluate("accelerometer_landing", both.unionByName(again), "strict", others))
    )


def test_a_changed_lookup_or_other_rows_evaluate_the_whole_table(spark):
    owners = customers(spark, [("a@x.com", "s1", REGISTERED)])
    old = steps(spark, [(REGISTERED + 1, "s1", 10), (REGISTERED + 2, "s1", 11)])
    added = steps(spark, [(REGISTERED - 1, "s1", 12)])
    wider = customers(spark, [("a@x.com", "s1", REGISTERED), ("b@x.com", "s2", REGISTERED - 10)])
    later = steps(spark, [(REGISTERED - 20, "s2", 1)])
    old_report = quality.evaluate(
        "step_trainer_landing", old, "strict", {"customer_landing": owners}
    )
    # The customers changed since: the rules that look them up see the old readings again.
    others = {"customer_landing": wider}
    whole = quality.evaluate("step_trainer_landing", old.unionByName(later), "strict", others)
    merged = after_append(
        "step_trainer_landing", old, later, others, unchanged=set(), old_report=old_report
    )
    assert counts(merged) == counts(whole)
    # Results recorded on other rows than the table's (rows quarantined after they were computed)
    # are not merged.
    mismatched = after_append(
        "step_trainer_landing",
        old,
        added,
        {"customer_landing": owners},
        old_report=old_report,
        results=[{**r, "rows_checked": 99} for r in old_report.results],
    )
    whole = quality.evaluate(
        "step_trainer_landing", old.unionByName(added), "strict", {"customer_landing": owners}
    )
    assert counts(mismatched) == counts(whole)


def test_a_quarantine_rule_failing_on_the_added_rows_leaves_it_to_the_whole_evaluation(spark):
    owners = customers(spark, [("a@x.com", "s1", REGISTERED)])
    old = steps(spark, [(REGISTERED + 1, "s1", 10)])
    added = steps(spark, [(REGISTERED + 2, "s9", 10)])  # a device no customer owns
    others = {"customer_landing": owners}
    assert after_append("step_trainer_landing", old, added, others) is None


def test_only_sql_rules_that_judge_each_row_alone_are_merged():
    per_row = R.sql(
        "a", "select /*+ BROADCAST(c) */ p.* from {primary} p left semi join {t} c on p.k = c.k"
    )
    anti = R.sql(
        "b", "select p.* from {primary} p left anti join (select k from {t}) o on o.k = p.k"
    )
    grouped = R.sql("c", "select k from {primary} group by k having count(*) > 1")
    limited = R.sql("d", "select p.* from {primary} p left semi join {t} c on p.k = c.k limit 3")
    twice = R.sql(
        "e", "select p.* from {primary} p left semi join {primary} q on p.k = q.k and p.v < q.v"
    )
    assert [appended.per_row(r) for r in (per_row, anti, grouped, limited, twice)] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert appended.per_row(R.complete("k")) and not appended.per_row(R.unique("k"))


def test_partner_rules_merge_when_their_tables_only_grew(spark):
    consented = [("a@x.com", "s1", REGISTERED)]
    old = readings(spark, [("a@x.com", REGISTERED + 1, 1.0, 0.0, 0.0)])
    added = readings(spark, [("b@x.com", REGISTERED + 1, 1.0, 0.0, 0.0)])
    before = {
        "customer_trusted": customers(spark, consented),
        "accelerometer_landing": old,
    }
    old_report = quality.evaluate("accelerometer_trusted", old, "strict", before)
    # b consented since (customer_trusted grew), and the landing readings grew.
    grown = consented + [("b@x.com", "s2", REGISTERED)]
    others = {
        "customer_trusted": customers(spark, grown),
        "accelerometer_landing": old.unionByName(added),
    }
    merged = after_append(
        "accelerometer_trusted",
        old,
        added,
        others,
        unchanged=set(),
        grown=set(others),
        old_report=old_report,
    )
    whole = quality.evaluate("accelerometer_trusted", old.unionByName(added), "strict", others)
    assert counts(merged) == counts(whole)
    consenting = R.references("user", "t", "email", name="r")
    owner = R.sql(
        "o",
        "select m.* from {primary} m left anti join (select c.k, a.v from {c} c join {a} a "
        "on a.u = c.u) o on o.k = m.k",
    )
    uncounted = R.sql(
        "u",
        "select m.* from {primary} m left anti join (select k from {c} group by k) o on o.k = m.k",
    )
    before_consent = R.sql("b", "select p.* from {primary} p left semi join {c} c on p.k = c.k")
    assert [appended.partner_rule(r) for r in (consenting, owner, uncounted, before_consent)] == [
        True,
        True,
        False,
        False,
    ]


def test_group_sizes_judged_from_their_counts_equal_the_declared_query(spark):
    from stedi.core.quality.checks import group_size_result, query_on
    from stedi.core.quality.rules import group_size_sql

    rule = R.usual_group_size("user", unit="customers", name="g")
    # 1, 2, 3, 4 and 12 readings: quartiles between two counts (2.0 and 4.0), one group above.
    rows = [
        (f"u{n}@x.com", REGISTERED + i, 0.0, 0.0, 0.0) for n in (1, 2, 3, 4, 12) for i in range(n)
    ]
    frame = readings(spark, rows)
    with query_on(group_size_sql(rule), {"primary": frame}) as query:
        stats = query.first()
    result = group_size_result(rule, frame, len(rows))
    assert (stats["unusual_groups"], stats["unusual_rows"]) == (1, 12)
    assert result["rows_failing"] == stats["unusual_rows"]
    assert f"quartiles {stats['q1']:g}/{stats['q3']:g}" in result["detail"]
    assert f"{stats['low']:g} to {stats['high']:g} rows" in result["detail"]
