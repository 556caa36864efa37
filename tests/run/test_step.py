"""The step protocol of a zone notebook: read, publish (stage, check, quarantine, publish), land,
the completion record."""

from __future__ import annotations

import graphlib
import json
import os
from urllib.parse import urlparse

import pytest

from frames import CONSENT_A, accelerometer, customers, step_trainer
from stedi import config
from stedi.core import intake, quality
from stedi.core.intake import landing as intake_landing
from stedi.core.quality import QUARANTINE, QualityError
from stedi.core.quality.rules import holds
from stedi.core.transforms.customer_trusted import consenting_customers
from stedi.lake import icefiles
from stedi.run.step import Step

T = CONSENT_A


@pytest.fixture()
def step(tmp_path, spark):
    # Spark: the frames of these tests are built with the classic `spark` fixture.
    return Step(
        "99_test_step",
        lake_dir=str(tmp_path / "lake"),
        run_dir=str(tmp_path / "run"),
        engine="spark",
    )


def lake_contents(root) -> dict[str, str]:
    """Every file and link under the lake folder: path -> what a link points at ("" for a file)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = os.readlink(path) if os.path.islink(path) else ""
    return found


def committed_files(step, name) -> list[str]:
    """The data files of table `name`'s current snapshot (local paths, sorted)."""
    files, _ = icefiles.live_data_files(step.lake.lake.table(name))
    return sorted(icefiles._local(f.file_path) for f in files)


def data_files_on_disk(step, name) -> list[str]:
    """The Parquet files under table `name`'s data folder, staged or committed."""
    return sorted(icefiles.parquet_files(f"{step.lake.path(name)}/{config.ICEBERG_DATA_DIR}"))


def landed_customers(step, spark, *rows):
    """customer_landing written with `rows` (see frames.customers), read back through the step."""
    step.lake.write("customer_landing", customers(spark, list(rows)))
    return step.read("customer_landing")


def test_a_broken_frame_fails_its_error_rule_by_name_and_publishes_nothing(step, spark, tmp_path):
    landing = landed_customers(step, spark, ("a@x.com", "dev-a", T), ("b@x.com", "dev-b", None))
    broken = landing  # the transform skipped: a customer without research consent slips through
    with pytest.raises(QualityError, match="research_consent_present") as raised:
        step.publish("customer_trusted", broken)
    assert [r["rule"] for r in raised.value.failures] == ["research_consent_present"]
    assert raised.value.failures[0]["rows_failing"] == 1
    assert not step.lake.exists("customer_trusted")  # no snapshot committed
    assert data_files_on_disk(step, "customer_trusted") == []  # the staged files removed
    assert not step.lake.exists("customer_trusted_quarantine")
    assert "customer_trusted" not in step.tables


def test_the_correct_frame_passes_and_is_published(step, spark):
    landing = landed_customers(step, spark, ("a@x.com", "dev-a", T), ("b@x.com", "dev-b", None))
    report = step.publish("customer_trusted", consenting_customers(landing, "strict"))
    assert report.ok and report.rows == 1
    assert step.tables["customer_trusted"]["rows"] == 1 == step.read("customer_trusted").count()


def test_publish_writes_once_and_publishes_the_checked_version(step, spark, tmp_path, monkeypatch):
    """The transform runs once: publish stages files readers cannot see yet, evaluates the rules
    on what was staged, and commits those same files as one snapshot."""
    landing = landed_customers(
        step, spark, ("a@x.com", "dev-a", T), ("b@x.com", "dev-b", T), ("c@x.com", "dev-c", None)
    )
    seen = {}
    evaluate = quality.evaluate

    def evaluate_and_look(table, df, *args, **kwargs):
        seen["published"] = step.lake.exists("customer_trusted")
        seen["evaluated"] = sorted(urlparse(f).path for f in df.inputFiles())
        return evaluate(table, df, *args, **kwargs)

    monkeypatch.setattr(quality, "evaluate", evaluate_and_look)
    report = step.publish("customer_trusted", consenting_customers(landing, "strict"))
    assert not seen["published"] and report.rows == 2
    assert all(f"/{config.ICEBERG_STAGE_PREFIX}" in path for path in seen["evaluated"])
    assert (
        committed_files(step, "customer_trusted") == seen["evaluated"]
    )  # the checked files, committed
    assert data_files_on_disk(step, "customer_trusted") == seen["evaluated"]
    assert [h["operation"] for h in step.lake.lake.history("customer_trusted")] == [
        "append"
    ]  # one snapshot
    assert step.tables["customer_trusted"]["rows"] == 2 == step.lake.rows("customer_trusted")
    assert step.read("customer_trusted").count() == 2


def test_publish_sends_quarantined_rows_out_of_a_parquet_table(step, spark, tmp_path, monkeypatch):
    landing = landed_customers(step, spark, ("a@x.com", "dev-a", T), ("b@x.com", "dev-b", T))
    rules_for = quality.rules_for
    not_b = holds("not_customer_b", "email != 'b@x.com'", columns=("email",), severity=QUARANTINE)
    monkeypatch.setattr(
        quality,
        "rules_for",
        lambda t, p: rules_for(t, p) + ([not_b] if t == "customer_trusted" else []),
    )
    report = step.publish("customer_trusted", consenting_customers(landing, "strict"))
    assert report.quarantined_rows == 1
    assert [r["email"] for r in step.read("customer_trusted").collect()] == ["a@x.com"]
    assert step.tables["customer_trusted"]["rows"] == 1
    [held] = step.lake.read_quarantine("customer_trusted").collect()
    assert (
        held["reason"] == "quality:not_customer_b" and json.loads(held["raw"])["email"] == "b@x.com"
    )
    # The checked files with both rows are gone: only the committed ones are left.
    assert data_files_on_disk(step, "customer_trusted") == committed_files(step, "customer_trusted")


@pytest.mark.slow  # seconds: the whole tier (make test), not make check
def test_publish_of_a_landing_table_sends_its_quarantined_rows_out(step, spark):
    landed_customers(step, spark, ("a@x.com", "dev-a", T))
    readings = accelerometer(
        spark, [("a@x.com", T, 1.0, 0.0, 0.0), ("stranger@x.com", T, 0.0, 0.0, 0.0)]
    )
    report = step.publish("accelerometer_landing", readings)
    assert report.quarantined_rows == 1
    assert [r["user"] for r in step.read("accelerometer_landing").collect()] == ["a@x.com"]
    assert [r["reason"] for r in step.lake.read_quarantine("accelerometer_landing").collect()] == [
        "quality:reading_owner_known"
    ]


def test_check_writes_nothing_and_records_nothing(step, spark, tmp_path):
    landing = landed_customers(step, spark, ("a@x.com", "dev-a", T), ("b@x.com", "dev-b", None))
    before = lake_contents(tmp_path / "lake")
    good = step.check("customer_trusted", consenting_customers(landing, "strict"))
    bad = step.check("customer_trusted", landing)  # a failed error rule is reported, not raised
    assert good.ok and good.rows == 1
    assert not bad.ok and [r["rule"] for r in bad.errors] == ["research_consent_present"]
    assert lake_contents(tmp_path / "lake") == before
    assert step.tables == {} and step.quality == {}


def test_quarantine_rule_moves_rows_out_of_the_landing_write(step, spark, tmp_path):
    step.lake.write("customer_landing", customers(spark, [("a@x.com", "dev-a", T)]))
    readings = accelerometer(
        spark,
        [
            ("a@x.com", T, 1.0, 0.0, 0.0),
            ("a@x.com", T + 1, None, 0.0, 0.0),
            ("stranger@x.com", T, 0.0, 0.0, 0.0),
        ],
    )

    class Intake:  # the shape of stedi.core.intake.IntakeResult that Step.land uses
        source = "accelerometer"
        landed = readings
        mode, plan, base = "full", None, None
        quarantined = spark.createDataFrame(
            [], "source_file string, position bigint, reason string, raw string"
        )

        @staticmethod
        def unpersist():
            pass

        @staticmethod
        def accounting():
            return {
                "read": 3,
                "landed": 3,
                "quarantined": 0,
                "duplicates_dropped": 0,
                "quarantine_reasons": {},
                "balanced": True,
            }

    accounting = step.land(Intake)
    assert accounting["landed"] == 1 and accounting["quarantined"] == 2
    assert accounting["quarantine_reasons"] == {
        "quality:reading_complete": 1,
        "quality:reading_owner_known": 1,
    }
    assert [tuple(r) for r in step.read("accelerometer_landing").collect()] == [
        ("a@x.com", T, 1.0, 0.0, 0.0)
    ]
    quarantined = step.lake.read_quarantine("accelerometer_landing").collect()
    assert sorted(r["reason"] for r in quarantined) == [
        "quality:reading_complete",
        "quality:reading_owner_known",
    ]
    assert all(r["raw"] and r["source_file"] == "accelerometer_landing" for r in quarantined)


def test_finish_writes_the_completion_record_with_reads_tables_and_quality(step, spark, tmp_path):
    step.lake.write("customer_landing", customers(spark, [("a@x.com", "dev-a", T)]))
    step.publish("customer_trusted", consenting_customers(step.read("customer_landing"), "strict"))
    step.read("customer_landing")  # read again: listed once
    step.finish()
    record = json.loads((tmp_path / "run" / "steps" / "99_test_step.json").read_text())
    assert record["status"] == "succeeded"
    # The rules' lookups (customer_landing's row count) are not the notebook's reads.
    assert record["reads"] == ["customer_landing"]
    assert record["tables"]["customer_trusted"]["rows"] == 1
    assert {r["rule"] for r in record["quality"]["customer_trusted"]} >= {
        "research_consent_present"
    }


def test_a_step_that_reads_nothing_records_no_reads(step, tmp_path):
    step.finish()
    record = json.loads((tmp_path / "run" / "steps" / "99_test_step.json").read_text())
    assert record["reads"] == [] and record["tables"] == {}


# -- landing every source at once (stedi.core.intake.land_all, driven by Step.land_all) --------


class _Landed:
    """What Step.land uses of a stedi.core.intake.IntakeResult."""

    def __init__(self, source, landed, spark):
        self.source, self.landed = source, landed
        self.quarantined = spark.createDataFrame(
            [], "source_file string, position bigint, reason string, raw string"
        )
        self.rows = landed.count()

    def unpersist(self):
        pass

    def accounting(self):
        return {
            "read": self.rows,
            "landed": self.rows,
            "quarantined": 0,
            "duplicates_dropped": 0,
            "quarantine_reasons": {},
            "balanced": True,
        }


@pytest.mark.slow  # seconds: the whole tier (make test), not make check
def test_land_all_lands_customers_first_then_the_others_together(step, spark, monkeypatch):
    finished = []
    frames = {
        "customer": customers(spark, [("a@x.com", "dev-a", T)]),
        "accelerometer": accelerometer(spark, [("a@x.com", T, 1.0, 0.0, 0.0)]),
        "step_trainer": step_trainer(spark, [(T, "dev-a", 250)]),
    }

    read = []

    def land_source(_spark, _raw, source, **_):  # reading and classifying may all happen at once
        read.append(source)
        return _Landed(source, frames[source], spark)

    original_land = step.land

    def land(result):
        if result.source != "customer":  # the readings' rules look customers up: landed first
            assert "customer_landing" in finished
        accounting = original_land(result)
        finished.append(f"{result.source}_landing")
        return accounting

    monkeypatch.setattr(intake_landing, "land_source", land_source)
    monkeypatch.setattr(step, "land", land)
    accounting = step.land_all()
    assert list(accounting) == ["customer_landing", "accelerometer_landing", "step_trainer_landing"]
    assert list(step.tables) == list(accounting) and finished[0] == "customer_landing"
    assert sorted(read) == ["accelerometer", "customer", "step_trainer"]
    assert {name: a["landed"] for name, a in accounting.items()} == dict.fromkeys(accounting, 1)
    assert step.reads == []  # the rules' lookups of customer_landing are not the step's reads


def test_land_all_stops_the_tables_that_depend_on_a_failed_one(step, spark, monkeypatch):
    def land_source(_spark, _raw, source, **_):
        if source == "customer":
            raise intake.RawInputError("raw directory has no folder customer/")
        return _Landed(source, accelerometer(spark, [("a@x.com", T, 1.0, 0.0, 0.0)]), spark)

    monkeypatch.setattr(intake_landing, "land_source", land_source)
    with pytest.raises(intake.RawInputError, match="no folder customer"):
        step.land_all()
    assert step.tables == {}


def test_land_all_refuses_landing_tables_that_depend_on_each_other(spark, monkeypatch):
    landed = []
    monkeypatch.setattr(
        intake_landing, "land_source", lambda _spark, _raw, source: landed.append(source)
    )
    needs = {
        "customer_landing": {"accelerometer_landing"},
        "accelerometer_landing": {"customer_landing"},
    }
    with pytest.raises(graphlib.CycleError):
        intake.land_all(
            spark, "raw", ("customer", "accelerometer"), needs=needs, write=lambda result: None
        )
    assert landed == []
