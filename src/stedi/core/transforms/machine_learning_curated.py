"""step_trainer_trusted + accelerometer_trusted -> machine_learning_curated."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stedi.context import Policy

STEP_COLUMNS = ("sensorReadingTime", "serialNumber", "distanceFromObject")
READING_COLUMNS = ("timestamp", "x", "y", "z")


def machine_learning_readings(
    step_trainer_trusted: DataFrame,
    accelerometer_trusted: DataFrame,
    customer_curated: DataFrame,
    policy: Policy,
) -> DataFrame:
    """Each step trainer reading paired with the accelerometer readings of the same instant.

    udacity: the rubric's join on sensorReadingTime = timestamp alone, keeping `user`;
    it pairs a device with any customer's reading taken at that millisecond.
    strict: the accelerometer reading must also belong to the device's owner
    (user = email of the customer whose serialNumber the step reading carries),
    and the result has no direct identifier (the serial number is the subject key).
    """
    step = step_trainer_trusted.alias("s")
    accel = accelerometer_trusted.alias("a")
    if policy == Policy.UDACITY:
        paired = step.join(accel, F.col("s.sensorReadingTime") == F.col("a.timestamp"))
        return paired.select(
            *[F.col(f"s.{c}") for c in STEP_COLUMNS],
            F.col("a.user"),
            *[F.col(f"a.{c}") for c in READING_COLUMNS],
        )
    owners = customer_curated.select(
        F.col("serialNumber").alias("_serial"), F.col("email").alias("_owner")
    )
    owned = step.join(F.broadcast(owners), F.col("s.serialNumber") == F.col("_serial"))
    paired = owned.join(
        accel,
        (F.col("a.timestamp") == F.col("s.sensorReadingTime"))
        & (F.col("a.user") == F.col("_owner")),
    )
    return paired.select(
        *[F.col(f"s.{c}") for c in STEP_COLUMNS], *[F.col(f"a.{c}") for c in READING_COLUMNS]
    )
