"""The same package code on both local engines, classic Spark and Sail (Spark Connect), gives the
same results.

On the real landing tables (landed once, by the intake on Spark): the transforms of both
policies (through `stedi.run.pipeline.derive`), the lake's writes and reads, every declared
quality rule, and the analysis's computations, each compared across the engines by content.

Both sessions live in this one process. PySpark's functions build Connect columns only while
SPARK_CONNECT_MODE_ENABLED is set (a Connect session sets it), so each engine's work runs
inside `on(engine)`, which sets or clears it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from pyspark.sql import functions as F

from engines import on
from stedi import config
from stedi.analysis.accelerometer import axis_value_counts
from stedi.analysis.alignment import sensor_alignment
from stedi.analysis.distance import consecutive_readings
from stedi.analysis.funnel import FUNNEL_COLUMNS, LANDING_TABLES, consent_funnel
from stedi.analysis.readings import sampling_intervals, value_counts
from stedi.analysis.signal import distance_signal, magnitude_quantiles
from stedi.core import quality
from stedi.core.fingerprint import content_fingerprint
from stedi.core.quality import rules as R
from stedi.core.quality.table_rules import BIRTHDAY_PLAUSIBLE, EMAIL_PATTERN
from stedi.core.schemas import spark_schema
from stedi.core.tables import SOURCES, TABLES, landing_table
from stedi.lake.icelake import IcebergTables
from stedi.run.pipeline import derive

# Both engines on the real exports: seconds per test, so the whole tier (make test), not make check.
pytestmark = pytest.mark.slow

ENGINES = ("spark", "sail")
# The rows of every table on the real data (the counts; landing tables as landed).
EXPECTED_ROWS = {
    "strict": {
        "customer_trusted": 482,
        "accelerometer_trusted": 32_025,
        "customer_curated": 464,
        "step_trainer_trusted": 11_297,
        "machine_learning_curated": 32_025,
    },
    "udacity": {
        "customer_trusted": 482,
        "accelerometer_trusted": 40_981,
        "customer_curated": 482,
        "step_trainer_trusted": 14_460,
        "machine_learning_curated": 43_681,
    },
}


def fingerprint(df) -> tuple:
    """(columns with types, rows, order-independent hash of every row's content) of a frame."""
    return [(f.name, f.dataType.simpleString()) for f in df.schema.fields], *content_fingerprint(df)


@pytest.fixture(scope="module")
def landing_dir(sessions, tmp_path_factory):
    """A lake holding the real landing tables, landed by the intake on Spark."""
    from stedi.core import intake

    base = tmp_path_factory.mktemp("landing")
    with on("spark"):
        lake = IcebergTables(sessions["spark"], str(base))
        for source in SOURCES:
            result = intake.land_source(sessions["spark"], config.RAW_DIR, source)
            lake.write(landing_table(source), result.landed)
            result.unpersist()
    return base


class Built:
    """One engine's lakes: the landing tables and, per policy, the tables derived from them."""

    def __init__(
        self, landing: IcebergTables, lakes: dict[str, IcebergTables], written: dict[str, dict]
    ):
        self.landing, self.lakes, self.written = landing, lakes, written

    def read(self, policy: str, name: str):
        return (self.landing if name in LANDING_TABLES else self.lakes[policy]).read(name)

    def tables(self, policy: str) -> dict:
        return {name: self.read(policy, name) for name in TABLES}


@pytest.fixture(scope="module")
def built(sessions, landing_dir, tmp_path_factory):
    """engine -> Built: every table written by that engine's IcebergTables.

    Spark reads the landing tables where its intake wrote them; Sail writes them again
    (JSON lines) from there and reads its own. The other tables are derived from those by the
    pipeline's transforms and written (Parquet), one lake per policy. `written` holds what
    IcebergTables.write returned, by (policy, table)."""
    out = {}
    for engine in ENGINES:
        with on(engine):
            session = sessions[engine]
            landing = IcebergTables(session, str(landing_dir))
            written = {}
            if engine == "sail":
                source, landing = (
                    landing,
                    IcebergTables(session, str(tmp_path_factory.mktemp("sail-landing"))),
                )
                for name in LANDING_TABLES:
                    written["landing", name] = landing.write(name, source.read(name))
            frames = {name: landing.read(name) for name in LANDING_TABLES}
            lakes = {}
            for policy in config.POLICIES:
                lakes[policy] = IcebergTables(
                    session, str(tmp_path_factory.mktemp(f"{engine}-{policy}")), policy=policy
                )
                for name, df in derive(frames, policy).items():
                    if name not in LANDING_TABLES:
                        written[policy, name] = lakes[policy].write(name, df)
            out[engine] = Built(landing, lakes, written)
    return out


@pytest.mark.parametrize("policy", config.POLICIES)
def test_transforms_and_lake_give_the_same_tables_on_both_engines(built, policy):
    found = {}
    for engine in ENGINES:
        with on(engine):
            found[engine] = {name: fingerprint(built[engine].read(policy, name)) for name in TABLES}
        for (where, name), record in built[engine].written.items():
            if where in ("landing", policy):
                rows = record["rows"]
                assert type(rows) is int and rows == found[engine][name][1], (engine, name)
                lake = built[engine].landing if where == "landing" else built[engine].lakes[policy]
                assert lake.rows(name) == rows  # from the version's row file
    assert len(built["sail"].written) == len(LANDING_TABLES) + len(config.POLICIES) * (
        len(TABLES) - len(LANDING_TABLES)
    )
    assert found["sail"] == found["spark"]
    assert {name: found["sail"][name][1] for name in EXPECTED_ROWS[policy]} == EXPECTED_ROWS[policy]


@pytest.mark.parametrize("policy", config.POLICIES)
def test_every_quality_rule_has_the_same_outcome_on_both_engines(built, policy):
    outcomes = {}
    for engine in ENGINES:
        outcomes[engine] = {}
        with on(engine):
            tables = built[engine].tables(policy)

            def evaluate(name, tables=tables):
                return quality.evaluate(
                    name,
                    tables[name],
                    policy,
                    {t: tables[t] for t in quality.tables_needed(name, policy)},
                )

            # The tables at once, on threads sharing the session (many small jobs), as land_all
            # does.
            with ThreadPoolExecutor(4) as pool:
                reports = dict(zip(TABLES, pool.map(evaluate, TABLES)))
            for name, report in reports.items():
                for r in report.results:
                    assert all(
                        type(r[k]) in (int, type(None)) for k in ("rows_checked", "rows_failing")
                    ), r
                    outcomes[engine][name, r["rule"]] = (
                        r["outcome"],
                        r["rows_checked"],
                        r["rows_failing"],
                    )
                assert type(report.rows) is int and type(report.quarantined_rows) is int
    assert len(outcomes["spark"]) == sum(len(quality.rules_for(name, policy)) for name in TABLES)
    assert outcomes["sail"] == outcomes["spark"]
    # Not vacuous: the real data fails some warn rules (a group-size and a free SQL one among them).
    warned = {
        key for key, (outcome, _, _) in outcomes["spark"].items() if outcome == quality.WARNED
    }
    assert {
        ("accelerometer_landing", "readings_per_customer_usual"),
        ("accelerometer_landing", "reading_not_before_registration"),
    } <= warned


@pytest.mark.parametrize("engine", ENGINES)
def test_free_sql_rules_run_on_temporary_views_dropped_afterwards(sessions, engine):
    session = sessions[engine]
    with on(engine):
        df = session.createDataFrame([("a", 1), ("b", 2), ("c", 3)], "k string, v bigint")
        other = session.createDataFrame([("a",), ("c",)], "k string")
        rule = R.sql(
            "k_in_other",
            "select p.* from {primary} p left semi join {other} o on p.k = o.k",
            severity=R.WARN,
        )
        broken = R.sql("no_such_column", "select * from {primary} where nope > 0", severity=R.WARN)
        groups = R.usual_group_size("k", unit="keys", name="keys_usual")
        report = quality.evaluate_rules(df, [rule, broken, groups], {"other": other})
        views = [t.name for t in session.catalog.listTables() if t.isTemporary]
    by_rule = {r["rule"]: r for r in report.results}
    assert (by_rule["k_in_other"]["outcome"], by_rule["k_in_other"]["rows_failing"]) == (
        "warned",
        2,
    )
    assert type(by_rule["k_in_other"]["rows_failing"]) is int
    assert by_rule["no_such_column"]["detail"].startswith("not evaluated:")
    assert by_rule["keys_usual"]["outcome"] == "passed"
    assert not [v for v in views if v.startswith("stedi_")]


def test_quality_regular_expressions_mean_the_same_on_both_engines(sessions):
    """Java's `\\s` and `$` differ from Rust's: the catalog's patterns avoid them
    (stedi.core.quality.table_rules)."""
    emails = [
        "a@x.com",
        "a@x.com\n",
        "a@x.com\r",
        "a\u00a0b@x.com",
        "a b@x.com",
        "a@x\tb.com",
        "é@x.com",
        "@x.com",
    ]
    birthdays = ["2000-01-31", "2000-01-31\n", "2000-13-01", "1890-01-01", "20000-01-01"]
    matched = {}
    for engine in ENGINES:
        session = sessions[engine]
        with on(engine):
            e = session.createDataFrame([(v,) for v in emails], "email string")
            b = session.createDataFrame(
                [(v, 1_600_000_000_000) for v in birthdays],
                "birthDay string, registrationDate bigint",
            )
            matched[engine] = (
                [r[0] for r in e.select(F.col("email").rlike(EMAIL_PATTERN)).collect()],
                [r[0] for r in b.select(F.expr(BIRTHDAY_PLAUSIBLE)).collect()],
            )
    assert matched["spark"] == matched["sail"]
    assert matched["spark"] == (
        [True, False, False, True, False, False, True, False],
        [True, False, False, False, False],
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_lake_round_trip_counts_rows_from_the_written_files(sessions, tmp_path, engine):
    session = sessions[engine]
    with on(engine):
        lake = IcebergTables(session, str(tmp_path / "lake"))
        readings = session.range(5).select(
            F.lit(1).cast("bigint").alias("sensorReadingTime"),
            F.col("id").cast("string").alias("serialNumber"),
            F.lit(3).alias("distanceFromObject"),
        )
        quarantine = session.range(3).select(
            F.lit("f.json").alias("source_file"),
            F.col("id").alias("position"),
            F.lit("not_json").alias("reason"),
            F.lit("{").alias("raw"),
        )
        staged = lake.stage_quarantine("customer_landing", quarantine)
        assert staged.rows == 3 and type(staged.rows) is int
        lake.publish_quarantine(staged)
        assert lake.read_quarantine("customer_landing").count() == 3
        empty = lake.stage(
            "customer_trusted",
            lake.spark.createDataFrame([], spark_schema(TABLES["customer_trusted"].columns)),
        )
        assert empty.rows == 0
        lake.discard(empty)
        landing = lake.write("step_trainer_landing", readings)
        assert landing["rows"] == 5 and lake.read("step_trainer_landing").count() == 5
        assert (
            lake.lake.summary("step_trainer_landing")["total-records"] == "5"
        )  # rows in the snapshot's summary
        # Tables are queryable by name once registered (views of their pinned reads), on both
        # engines.
        assert lake.register_existing() == ["step_trainer_landing"]
        assert lake.sql("select count(*) as n from step_trainer_landing").first()["n"] == 5


def test_analysis_computations_agree_on_both_engines(sessions, built, landing_dir):
    results = {}
    for engine in ENGINES:
        session = sessions[engine]
        with on(engine):
            source = IcebergTables(session, str(landing_dir))
            landing = {
                name: source.read(name).select(*FUNNEL_COLUMNS[name]) for name in LANDING_TABLES
            }
            tables = built[engine].tables("strict")
            accel, steps = tables["accelerometer_trusted"], tables["step_trainer_trusted"]
            ml = tables["machine_learning_curated"]
            funnel = consent_funnel(landing)
            results[engine] = {
                "funnel": funnel.to_dict("records"),
                "alignment": sensor_alignment(steps, accel, tables["customer_trusted"]),
                "consecutive": consecutive_readings(
                    steps, "serialNumber", "sensorReadingTime", "distanceFromObject"
                ),
                "distance_counts": value_counts(steps, "distanceFromObject")
                .toPandas()
                .to_dict("records"),
                "axes": axis_value_counts(accel).toPandas().to_dict("records"),
                "intervals": sampling_intervals(steps, "serialNumber", "sensorReadingTime")
                .orderBy("serialNumber")
                .toPandas()
                .astype({"interval_median": float})
                .to_dict("records"),
                "quantiles": magnitude_quantiles(ml).astype(float).to_dict("records"),
                "signal": distance_signal(ml),
            }
        assert all(
            type(v) is int
            for row in results[engine]["funnel"]
            for k, v in row.items()
            if k in config.POLICIES
        )
        assert all(type(v) is int for v in results[engine]["alignment"].values())
    spark_results, sail_results = results["spark"], results["sail"]
    for key in ("funnel", "alignment", "distance_counts", "axes", "intervals", "quantiles"):
        assert sail_results[key] == spark_results[key], key
    assert sail_results["consecutive"] == pytest.approx(spark_results["consecutive"], rel=1e-9)
    signal_spark, signal_sail = spark_results["signal"], sail_results["signal"]
    for key in ("train_rows", "test_rows", "train_subjects", "test_subjects"):
        assert signal_sail[key] == signal_spark[key], key
    for key in ("correlations", "coefficients", "rmse"):
        assert signal_sail[key] == pytest.approx(signal_spark[key], rel=1e-6), key
    funnel = {row["table"]: row for row in spark_results["funnel"]}
    for policy, expected in EXPECTED_ROWS.items():
        assert {name: funnel[name][policy] for name in expected} == expected
