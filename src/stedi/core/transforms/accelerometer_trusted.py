"""accelerometer_landing -> accelerometer_trusted: readings of consenting customers."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stedi.context import Policy


def consented_accelerometer_readings(
    accelerometer_landing: DataFrame, customer_trusted: DataFrame, policy: Policy
) -> DataFrame:
    """Readings whose `user` is a consenting customer's email.

    strict: and only readings taken at or after that customer's consent date.
    """
    consent = customer_trusted.select(
        F.col("email").alias("_email"), F.col("shareWithResearchAsOfDate").alias("_consent")
    )
    condition = F.col("user") == F.col("_email")
    if policy == Policy.STRICT:
        condition = condition & (F.col("timestamp") >= F.col("_consent"))
    return accelerometer_landing.join(F.broadcast(consent), condition, "left_semi")
