"""The write path of a zone step: checks before writes, quarantine, completion record."""

from __future__ import annotations

import json

import pytest

from frames import CONSENT_A, accelerometer, customers
from stedi.quality import QualityError
from stedi.step import Step
from stedi.transforms.customer_trusted import consenting_customers

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

    class Intake:  # the shape of stedi.intake.IntakeResult that Step.land uses
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
