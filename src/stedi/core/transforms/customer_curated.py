"""customer_trusted -> customer_curated: consenting customers that have accelerometer data."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stedi.context import Policy


def customers_with_readings(
    customer_trusted: DataFrame, accelerometer_trusted: DataFrame, policy: Policy
) -> DataFrame:
    """Each consenting customer with at least one trusted accelerometer reading, once.

    Under strict the readings are already consent-bounded, so a customer whose
    readings all predate consent is not curated.
    """
    users = accelerometer_trusted.select(F.col("user").alias("_user")).distinct()
    return customer_trusted.join(users, F.col("email") == F.col("_user"), "left_semi")
