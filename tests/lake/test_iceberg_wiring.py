"""`IcebergTables(...)` (and so a notebook's Step) works on Iceberg tables through
stedi.lake.icelake.IcebergTables. Classic Spark, as tests/run/test_step.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from frames import CONSENT_A, accelerometer, customers
from stedi import config
from stedi.core import quality
from stedi.core.quality import QUARANTINE, QualityError
from stedi.core.quality.rules import holds
from stedi.core.transforms.customer_trusted import consenting_customers
from stedi.lake import icefiles
from stedi.lake.catalogs import forget_catalogs
from stedi.lake.icelake import IcebergTables

T = CONSENT_A


@pytest.fixture(autouse=True)
def fresh_catalogs():
    yield
    forget_catalogs()


@pytest.fixture
def step(tmp_path, spark):
    from stedi.run.step import Step

    return Step(
        "99_test_step",
        lake_dir=str(tmp_path / "lake"),
        run_dir=str(tmp_path / "run"),
        engine="spark",
    )


def test_lake_is_an_iceberg_lake_and_a_paths_only_lake_writes_nothing(tmp_path):
    lake = IcebergTables(None, str(tmp_path / "lake"))
    assert isinstance(lake, IcebergTables)
    assert lake.exists("customer_trusted") is False and not (tmp_path / "lake").exists()


def test_a_step_publishes_checked_tables_as_snapshots_and_a_failed_rule_commits_nothing(
    step, spark
):
    assert isinstance(step.lake, IcebergTables)
    step.lake.name_run("run-1", step.name)
    step.lake.write(
        "customer_landing", customers(spark, [("a@x.com", "dev-a", T), ("b@x.com", "dev-b", None)])
    )
    landing = step.read("customer_landing")
    with pytest.raises(QualityError, match="research_consent_present"):
        step.publish("customer_trusted", landing)  # the transform skipped: b has no consent
    assert not step.lake.exists("customer_trusted") and "customer_trusted" not in step.tables
    data = Path(step.lake.path("customer_trusted"), config.ICEBERG_DATA_DIR)
    assert icefiles.files_under(str(data)) == []  # the staged files removed

    report = step.publish("customer_trusted", consenting_customers(landing, "strict"))
    assert (
        report.ok
        and step.tables["customer_trusted"]["rows"] == 1 == step.read("customer_trusted").count()
    )
    [snapshot] = step.lake.lake.history("customer_trusted")
    assert (snapshot["run_id"], snapshot["step"], snapshot["operation"]) == (
        "run-1",
        step.name,
        "append",
    )
    with pytest.raises(
        QualityError, match="research_consent_present"
    ):  # on a table that has a snapshot:
        step.publish("customer_trusted", landing)
    assert (
        step.lake.lake.snapshot_id("customer_trusted") == snapshot["snapshot_id"]
    )  # ... it stays current


def test_quarantined_rows_go_to_the_quarantine_table(step, spark, monkeypatch):
    step.lake.write(
        "customer_landing", customers(spark, [("a@x.com", "dev-a", T), ("b@x.com", "dev-b", T)])
    )
    rules_for = quality.rules_for
    not_b = holds("not_customer_b", "email != 'b@x.com'", columns=("email",), severity=QUARANTINE)
    monkeypatch.setattr(
        quality,
        "rules_for",
        lambda t, p: rules_for(t, p) + ([not_b] if t == "customer_trusted" else []),
    )
    report = step.publish(
        "customer_trusted", consenting_customers(step.read("customer_landing"), "strict")
    )
    assert report.quarantined_rows == 1
    assert [r["email"] for r in step.read("customer_trusted").collect()] == ["a@x.com"]
    [held] = step.lake.read_quarantine("customer_trusted").collect()
    assert (
        held["reason"] == "quality:not_customer_b" and json.loads(held["raw"])["email"] == "b@x.com"
    )
    assert (
        step.lake.lake.table("customer_trusted_quarantine").properties["stedi.zone"] == "quarantine"
    )
    assert step.lake.quarantine_path("customer_trusted").endswith("/quarantine/customer_trusted")


def test_versions_markers_and_parts_of_an_append(tmp_path, spark):
    lake = IcebergTables(spark, str(tmp_path / "lake"))
    first = lake.write(
        "accelerometer_trusted", accelerometer(spark, [("a@x.com", T, 1.0, 0.0, 0.0)])
    )
    assert first["rows"] == 1
    v1 = lake.version("accelerometer_trusted")
    staged = lake.stage(
        "accelerometer_trusted",
        accelerometer(spark, [("b@x.com", T, 2.0, 0.0, 0.0)]),
        meta={"policy": "strict", "inputs": {"accelerometer_landing": "123"}},
        append=True,
    )
    lake.publish(staged)
    assert lake.version("accelerometer_trusted") != v1
    marker = lake.snapshot_meta("accelerometer_trusted")
    assert (
        marker["base"] == v1
        and marker["inputs"] == {"accelerometer_landing": "123"}
        and marker["rows"] == 2
    )
    assert [r.user for r in lake.read_part("accelerometer_trusted", "old").collect()] == ["a@x.com"]
    assert [r.user for r in lake.read_part("accelerometer_trusted", "new").collect()] == ["b@x.com"]
    assert lake.rows("accelerometer_trusted") == 2
    assert lake.register_existing() == ["accelerometer_trusted"]
    assert lake.sql("SELECT count(*) AS n FROM accelerometer_trusted").first()["n"] == 2


# The real exports' counts of a strict build (README, "Row counts"; tests/e2e/test_incremental.py).
STRICT_COUNTS = {
    "customer_landing": 956,
    "accelerometer_landing": 81_273,
    "step_trainer_landing": 28_680,
    "customer_trusted": 482,
    "accelerometer_trusted": 32_025,
    "customer_curated": 464,
    "step_trainer_trusted": 11_297,
    "machine_learning_curated": 32_025,
}


@pytest.mark.e2e
@pytest.mark.own_lake
def test_the_zone_steps_on_the_real_exports_build_an_iceberg_lake_any_iceberg_tool_opens(tmp_path):
    from pyiceberg.catalog.sql import SqlCatalog

    from lakes import ZONE_STEPS_ONLY, stedi_run
    from stedi.lake.iceberg import IcebergLake

    lake = tmp_path / "lake"
    stedi_run(lake, tmp_path / "runs", *ZONE_STEPS_ONLY)
    opened = IcebergLake(None, str(lake))
    quarantines = [
        f"{n}_quarantine"
        for n in ("customer_landing", "accelerometer_landing", "step_trainer_landing")
    ]
    assert sorted(opened.names()) == sorted([*STRICT_COUNTS, *quarantines])
    assert {n: opened.rows(n) for n in STRICT_COUNTS} == STRICT_COUNTS
    assert not [p for p in lake.rglob("*") if p.name in config.PREVIOUS_LAKE_MARKS]
    # pyiceberg alone, as any Iceberg tool would: the catalog file and the files it names.
    catalog = SqlCatalog("stedi", uri=f"sqlite:///{lake / config.ICEBERG_CATALOG_FILE}")
    for name, rows in STRICT_COUNTS.items():
        assert catalog.load_table(("stedi", name)).scan().to_arrow().num_rows == rows, name


def test_forget_history_after_a_rebuild_without_a_customer_leaves_no_file_holding_them(
    tmp_path, spark
):
    from lake_files import holding

    lake = IcebergTables(spark, str(tmp_path / "lake"))
    lake.write(
        "customer_landing",
        customers(spark, [("gone@x.com", "dev-gone", T), ("kept@x.com", "dev-kept", T)]),
    )
    lake.write_quarantine(
        "customer_landing",
        spark.createDataFrame(
            [("f.json", 1, "broken", '{"email": "gone@x.com"')],
            "source_file string, position bigint, reason string, raw string",
        ),
    )
    # The run that applies the erasure rebuilds both without the customer ...
    lake.write("customer_landing", customers(spark, [("kept@x.com", "dev-kept", T)]))
    lake.write_quarantine(
        "customer_landing",
        spark.createDataFrame([], "source_file string, position bigint, reason string, raw string"),
    )
    assert holding(tmp_path / "lake", "gone@x.com")  # ... the earlier snapshots still hold them
    deleted = lake.forget_history()
    assert deleted["customer_landing"] > 0 and deleted["customer_landing_quarantine"] > 0
    assert (
        holding(tmp_path / "lake", "gone@x.com") == []
        and holding(tmp_path / "lake", "dev-gone") == []
    )
    assert [r.email for r in lake.read("customer_landing").collect()] == ["kept@x.com"]
    assert len(lake.lake.history("customer_landing")) == 1


def test_as_of_views_versions_without_an_engine_and_an_unfinished_pair(tmp_path, spark):
    from stedi.lake.icelake import table_rows, table_version

    lake = IcebergTables(spark, str(tmp_path / "lake"))
    quarantine = spark.createDataFrame(
        [("f", 1, "r", "x")], "source_file string, position bigint, reason string, raw string"
    )
    lake.name_run("20261201T000000Z", "00")
    lake.write("accelerometer_landing", accelerometer(spark, [("a@x.com", T, 1.0, 0.0, 0.0)]))
    lake.write_quarantine("accelerometer_landing", quarantine)
    lake.name_run("20261202T000000Z", "00")
    lake.publish(
        lake.stage(
            "accelerometer_landing",
            accelerometer(spark, [("b@x.com", T, 1.0, 0.0, 0.0)]),
            append=True,
        )
    )
    # ... killed before the quarantine's commit:
    assert lake.unfinished_pairs() == ["accelerometer_landing"]
    lake.publish_quarantine(
        lake.stage_quarantine("accelerometer_landing", quarantine.limit(0), append=True)
    )
    assert lake.unfinished_pairs() == []  # even of no row, the quarantine's commit names the run
    [_, last] = lake.lake.history("accelerometer_landing_quarantine")
    assert (last["run_id"], last["rows_added"], last["rows_total"]) == ("20261202T000000Z", 0, 1)

    assert lake.register_as_of("20261201T120000Z") == {
        "accelerometer_landing": lake.lake.history("accelerometer_landing")[0]["snapshot_id"]
    }
    assert lake.sql("SELECT count(*) AS n FROM accelerometer_landing").first()["n"] == 1
    lake.register_as_of("20261202T000000Z")
    assert lake.sql("SELECT count(*) AS n FROM accelerometer_landing").first()["n"] == 2
    assert lake.register_as_of("20261130T000000Z") == {}

    assert table_version(str(tmp_path / "lake"), "accelerometer_landing") == lake.version(
        "accelerometer_landing"
    )
    assert table_rows(str(tmp_path / "lake"), "accelerometer_landing") == 2
    assert table_version(str(tmp_path / "lake"), "customer_trusted") is None
    assert table_rows(str(tmp_path / "lake"), "customer_trusted") is None


def test_history_and_as_of_refuse_a_missing_lake_or_table_in_one_line(tmp_path, capsys):
    from stedi.cli import main

    missing = str(tmp_path / "nowhere")
    assert main(["history", "customer_trusted", "--lake-dir", missing]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "nowhere").exists()
    assert main(["history", "customer_lounge", "--lake-dir", missing]) == 2
    assert "unknown table 'customer_lounge'" in capsys.readouterr().err
    lake = IcebergTables(None, str(tmp_path / "lake"))
    lake.lake.ensure("customer_trusted")  # a table without a snapshot
    assert main(["history", "customer_trusted", "--lake-dir", str(tmp_path / "lake")]) == 2
    assert "has no snapshot" in capsys.readouterr().err


def test_engineless_checks_see_later_commits_and_missing_files(tmp_path, spark):
    """The runner's checks share one lake object per lake (stedi.lake.icelake._shared_lake): a
    commit made meanwhile by another lake object, and a data file removed, are still seen."""
    from stedi.lake import icefiles
    from stedi.lake.icelake import table_rows, table_version

    root = str(tmp_path / "lake")
    lake = IcebergTables(spark, root)
    lake.write("accelerometer_landing", accelerometer(spark, [("a@x.com", T, 1.0, 0.0, 0.0)]))
    first = table_version(root, "accelerometer_landing")
    assert (
        first == lake.version("accelerometer_landing")
        and table_rows(root, "accelerometer_landing") == 1
    )
    lake.publish(
        lake.stage(
            "accelerometer_landing",
            accelerometer(spark, [("b@x.com", T, 1.0, 0.0, 0.0)]),
            append=True,
        )
    )
    second = table_version(root, "accelerometer_landing")
    assert second == lake.version("accelerometer_landing") != first
    assert table_rows(root, "accelerometer_landing") == 2
    files, _ = icefiles.live_data_files(lake.lake.table("accelerometer_landing"))
    Path(icefiles._local(files[0].file_path)).unlink()
    assert table_version(root, "accelerometer_landing") is None  # damaged: counted as absent


def test_readings_of_customers_who_had_none_add_them_to_customer_curated(tmp_path, spark):
    from stedi.core.transforms.customer_curated import customers_with_readings
    from stedi.run import incremental, pipeline

    lake = IcebergTables(spark, str(tmp_path / "lake"))
    people = [("a@x.com", "dev-a", T), ("b@x.com", "dev-b", T), ("c@x.com", "dev-c", T)]
    lake.write("customer_trusted", customers(spark, people))
    lake.write("accelerometer_trusted", accelerometer(spark, [("a@x.com", T, 1.0, 0.0, 0.0)]))
    declared = pipeline.STEPS["03_customer_trusted_to_curated"]
    made = {t: lake.version(t) for t in declared.reads}
    curated = customers_with_readings(
        lake.read("customer_trusted"), lake.read("accelerometer_trusted"), "strict"
    )
    lake.publish(lake.stage("customer_curated", curated, meta={"policy": "strict", "inputs": made}))
    assert incremental.added_rows(lake, declared, "customer_curated", "strict") is None
    # A day of readings: more of a's, b's first (twice); c still has none.
    day = [("a@x.com", T + 1, 0.0, 0.0, 0.0), ("b@x.com", T, 1.0, 1.0, 1.0)]
    day.append(("b@x.com", T + 1, 1.0, 1.0, 1.0))
    lake.publish(lake.stage("accelerometer_trusted", accelerometer(spark, day), append=True))
    added = incremental.added_rows(lake, declared, "customer_curated", "strict")
    assert [r.email for r in added.collect()] == ["b@x.com"]
    whole = customers_with_readings(
        lake.read("customer_trusted"), lake.read("accelerometer_trusted"), "strict"
    )
    assert sorted(map(tuple, whole.collect())) == sorted(
        map(tuple, curated.unionByName(added).collect())
    )
    # The customers changed instead (not an append): made whole again.
    lake.write("customer_trusted", customers(spark, people[:2]))
    assert incremental.added_rows(lake, declared, "customer_curated", "strict") is None
