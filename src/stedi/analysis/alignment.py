"""How step trainer readings line up with accelerometer readings taken at the same millisecond."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stedi.analysis.formatting import count, percent


def sensor_alignment(
    step_trainer: DataFrame, accelerometer: DataFrame, customers: DataFrame
) -> dict:
    """How step trainer readings line up with accelerometer readings taken at the same millisecond.

    step_readings        step trainer readings (of devices with a known owner in `customers`)
    matched_owner        of those, readings with an accelerometer reading of the device's owner at
    that instant matched_other_only   readings with accelerometer readings at that instant, but only
    of other customers unmatched            readings with no accelerometer reading at that instant
    collision_instants   accelerometer instants (timestamps) carrying readings of more than one
    customer instants             distinct accelerometer instants
    rubric_pairs         rows of the rubric's join (step reading x accelerometer reading on the
    timestamp alone) wrong_customer_pairs of those, rows pairing a device with another customer's
    reading

    One Spark query: the step readings (per instant and owner) are matched with the accelerometer
    readings counted per (instant, customer), and every count is summed in the same pass.
    """
    owners = customers.select(
        F.col("serialNumber").alias("_serial"), F.col("email").alias("_owner")
    )
    steps = (
        step_trainer.join(F.broadcast(owners), F.col("serialNumber") == F.col("_serial"))
        .groupBy("sensorReadingTime", "_owner")
        .agg(F.count(F.lit(1)).alias("_steps"))
    )
    readings = accelerometer.groupBy(
        F.col("timestamp").alias("_ts"), F.col("user").alias("_user")
    ).agg(F.count(F.lit(1)).alias("_readings"))
    per_step = (
        steps.join(readings, F.col("_ts") == F.col("sensorReadingTime"), "left")
        .groupBy("sensorReadingTime", "_owner", "_steps")
        .agg(
            F.max(F.when(F.col("_user") == F.col("_owner"), 1).otherwise(0)).alias("_owner_match"),
            F.max(F.when(F.col("_ts").isNotNull(), 1).otherwise(0)).alias("_any_match"),
            F.sum(F.coalesce(F.col("_readings"), F.lit(0))).alias("_pairs"),
            F.sum(F.when(F.col("_user") != F.col("_owner"), F.col("_readings")).otherwise(0)).alias(
                "_wrong"
            ),
        )
    )
    step_totals = per_step.agg(
        F.sum("_steps").alias("step_readings"),
        F.sum(F.col("_steps") * F.col("_owner_match")).alias("matched_owner"),
        F.sum(F.col("_steps") * F.col("_any_match")).alias("matched_any"),
        F.sum(F.col("_steps") * F.col("_pairs")).alias("rubric_pairs"),
        F.sum(F.col("_steps") * F.col("_wrong")).alias("wrong_customer_pairs"),
    )
    instant_totals = (
        readings.groupBy("_ts")
        .agg(F.count("_user").alias("_users"))
        .agg(
            F.count(F.lit(1)).alias("instants"),
            F.sum(F.when(F.col("_users") > 1, 1).otherwise(0)).alias("collision_instants"),
        )
    )
    row = step_totals.crossJoin(instant_totals).first()
    result = {
        name: int(row[name] or 0)
        for name in (
            "step_readings",
            "matched_owner",
            "matched_any",
            "instants",
            "collision_instants",
            "rubric_pairs",
            "wrong_customer_pairs",
        )
    }
    result["matched_other_only"] = result["matched_any"] - result["matched_owner"]
    result["unmatched"] = result["step_readings"] - result["matched_any"]
    return result


def alignment_sentence(a: dict) -> str:
    return (
        f"{percent(a['matched_owner'], a['step_readings'])} of {count(a['step_readings'])} step "
        "trainer readings "
        f"have an accelerometer reading of the device's owner at the same millisecond, "
        f"{count(a['matched_other_only'])} match only another customer's reading and "
        f"{count(a['unmatched'])} "
        f"match none. In these trusted tables {count(a['collision_instants'])} of "
        f"{count(a['instants'])} accelerometer instants carry "
        f"readings of more than one customer, so the rubric's join on the timestamp alone pairs "
        f"{count(a['wrong_customer_pairs'])} of its {count(a['rubric_pairs'])} rows "
        f"({percent(a['wrong_customer_pairs'], a['rubric_pairs'])}) with the wrong customer."
    )
