"""step_trainer_landing -> step_trainer_trusted: readings of curated customers' devices."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stedi.context import Policy


def consented_step_trainer_readings(
    step_trainer_landing: DataFrame, customer_curated: DataFrame, policy: Policy
) -> DataFrame:
    """Readings of devices (serialNumber) that belong to curated customers.

    strict: and only readings taken at or after the owner's consent date.
    """
    devices = customer_curated.select(
        F.col("serialNumber").alias("_serial"), F.col("shareWithResearchAsOfDate").alias("_consent")
    )
    condition = F.col("serialNumber") == F.col("_serial")
    if policy == Policy.STRICT:
        condition = condition & (F.col("sensorReadingTime") >= F.col("_consent"))
    return step_trainer_landing.join(F.broadcast(devices), condition, "left_semi")
