"""The write path of a zone step: checks before writes, quarantine, completion record."""

from __future__ import annotations

import json

import pytest

from frames import CONSENT_A, accelerometer, customers
from stedi.core.quality import QualityError
from stedi.run.step import Step
from stedi.core.transforms.customer_trusted import consenting_customers

T = CONSENT_A


@pytest.fixture()
def step(tmp_path, spark):
    return Step("99_test_step", lake_dir=str(tmp_path / "lake"), run_dir=str(tmp_path / "run"))


def test_a_broken_frame_fails_its_error_rule_by_name_and_writes_nothing(step, spark, tmp_path):
    landing = customers(spark, [("a@x.com", "dev-a", T), ("b@x.com", "dev-b", None)])
    step.write("customer_landing", landing)
    broken = landing  # the transform skipped: a customer without research consent slips through
    with pytest.raises(QualityError, match="research_consent_present"):
        step.check("customer_trusted", broken)
    assert not (tmp_path / "lake" / "trusted" / "customer_trusted").exists()
    failed = [r for r in step.quality["customer_trusted"] if r["outcome"] == "failed"]
    assert [r["rule"] for r in failed] == ["research_consent_present"] and failed[0]["rows_failing"] == 1


def test_the_correct_frame_passes_and_is_written(step, spark):
    landing = customers(spark, [("a@x.com", "dev-a", T), ("b@x.com", "dev-b", None)])
    step.write("customer_landing", landing)
    report = step.check("customer_trusted", consenting_customers(landing, "strict"))
    assert report.ok
    assert step.write("customer_trusted", report.passing)["rows"] == 1


def test_quarantine_rule_moves_rows_out_of_the_landing_write(step, spark, tmp_path):
    step.write("customer_landing", customers(spark, [("a@x.com", "dev-a", T)]))
    readings = accelerometer(
        spark,
        [("a@x.com", T, 1.0, 0.0, 0.0), ("a@x.com", T + 1, None, 0.0, 0.0), ("stranger@x.com", T, 0.0, 0.0, 0.0)],
    )

    class Intake:  # the shape of stedi.core.intake.IntakeResult that Step.land uses
        source = "accelerometer"
        landed = readings
        quarantined = spark.createDataFrame([], "source_file string, position bigint, reason string, raw string")

        @staticmethod
        def unpersist():
            pass

        @staticmethod
        def accounting():
            return {"read": 3, "landed": 3, "quarantined": 0, "duplicates_dropped": 0,
                    "quarantine_reasons": {}, "balanced": True}

    accounting = step.land(Intake)
    assert accounting["landed"] == 1 and accounting["quarantined"] == 2
    assert accounting["quarantine_reasons"] == {"quality:reading_complete": 1, "quality:reading_owner_known": 1}
    assert [tuple(r) for r in step.read("accelerometer_landing").collect()] == [("a@x.com", T, 1.0, 0.0, 0.0)]
    quarantined = step.lake.read_quarantine("accelerometer_landing").collect()
    assert sorted(r["reason"] for r in quarantined) == ["quality:reading_complete", "quality:reading_owner_known"]
    assert all(r["raw"] and r["source_file"] == "accelerometer_landing" for r in quarantined)


def test_finish_writes_the_completion_record_with_tables_and_quality(step, spark, tmp_path):
    landing = customers(spark, [("a@x.com", "dev-a", T)])
    step.write("customer_landing", landing)
    step.write("customer_trusted", step.check("customer_trusted", landing).passing)
    step.finish()
    record = json.loads((tmp_path / "run" / "steps" / "99_test_step.json").read_text())
    assert record["status"] == "succeeded"
    assert record["tables"]["customer_trusted"]["rows"] == 1
    assert {r["rule"] for r in record["quality"]["customer_trusted"]} >= {"research_consent_present"}


def test_check_writes_once_and_write_publishes_the_checked_version(step, spark, tmp_path):
    """The transform runs once: check writes a version readers cannot see yet and evaluates the
    rules on it; write publishes that same folder, with the rows counted while writing."""
    landing = customers(spark, [("a@x.com", "dev-a", T), ("b@x.com", "dev-b", T), ("c@x.com", "dev-c", None)])
    step.write("customer_landing", landing)
    link = tmp_path / "lake" / "trusted" / "customer_trusted"
    report = step.check("customer_trusted", consenting_customers(landing, "strict"))
    staged = [p for p in (tmp_path / "lake" / "trusted" / ".versions" / "customer_trusted").iterdir()]
    assert not link.exists() and len(staged) == 1 and report.rows == 2
    written = step.write("customer_trusted", report.passing)
    assert link.resolve() == staged[0].resolve()
    assert written["rows"] == 2 == step.lake.rows("customer_trusted") == step.read("customer_trusted").count()


def test_writing_another_frame_after_check_discards_the_checked_version(step, spark, tmp_path):
    landing = customers(spark, [("a@x.com", "dev-a", T), ("b@x.com", "dev-b", T)])
    step.write("customer_landing", landing)
    step.check("customer_trusted", consenting_customers(landing, "strict"))
    written = step.write("customer_trusted", consenting_customers(landing, "strict").limit(1))
    versions = list((tmp_path / "lake" / "trusted" / ".versions" / "customer_trusted").iterdir())
    assert written["rows"] == 1 and len(versions) == 1


class _Landed:
    """What Step.land uses of a stedi.core.intake.IntakeResult."""

    def __init__(self, source, landed, spark):
        self.source, self.landed = source, landed
        self.quarantined = spark.createDataFrame([], "source_file string, position bigint, reason string, raw string")
        self.rows = landed.count()

    def unpersist(self):
        pass

    def accounting(self):
        return {"read": self.rows, "landed": self.rows, "quarantined": 0, "duplicates_dropped": 0,
                "quarantine_reasons": {}, "balanced": True}


def test_land_all_lands_customers_first_then_the_others_together(step, spark, monkeypatch):
    from frames import step_trainer

    from stedi.core import intake

    finished = []
    frames = {
        "customer": customers(spark, [("a@x.com", "dev-a", T)]),
        "accelerometer": accelerometer(spark, [("a@x.com", T, 1.0, 0.0, 0.0)]),
        "step_trainer": step_trainer(spark, [(T, "dev-a", 250)]),
    }

    read = []

    def land_source(_spark, _raw, source):  # reading and classifying may all happen at once
        read.append(source)
        return _Landed(source, frames[source], spark)

    original_land = step.land

    def land(result):
        if result.source != "customer":  # the readings' rules look customers up: landed first
            assert "customer_landing" in finished
        accounting = original_land(result)
        finished.append(f"{result.source}_landing")
        return accounting

    monkeypatch.setattr(intake, "land_source", land_source)
    monkeypatch.setattr(step, "land", land)
    accounting = step.land_all()
    assert list(accounting) == ["customer_landing", "accelerometer_landing", "step_trainer_landing"]
    assert list(step.tables) == list(accounting) and finished[0] == "customer_landing"
    assert sorted(read) == ["accelerometer", "customer", "step_trainer"]
    assert {name: a["landed"] for name, a in accounting.items()} == dict.fromkeys(accounting, 1)


def test_land_all_stops_the_tables_that_depend_on_a_failed_one(step, spark, monkeypatch):
    from stedi.core import intake

    def land_source(_spark, _raw, source):
        if source == "customer":
            raise intake.RawInputError("raw directory has no folder customer/")
        return _Landed(source, accelerometer(spark, [("a@x.com", T, 1.0, 0.0, 0.0)]), spark)

    monkeypatch.setattr(intake, "land_source", land_source)
    with pytest.raises(intake.RawInputError, match="no folder customer"):
        step.land_all()
    assert step.tables == {}


def test_landing_tables_depending_on_each_other_are_refused():
    from stedi.run.step import _dependency_order

    assert _dependency_order(("a", "b", "c"), {"a": {"b"}, "b": set(), "c": set()}) == ["b", "c", "a"]
    with pytest.raises(RuntimeError, match="cycle"):
        _dependency_order(("a", "b"), {"a": {"b"}, "b": {"a"}})
