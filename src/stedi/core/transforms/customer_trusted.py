"""customer_landing -> customer_trusted: customers who consented to research."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stedi.context import Policy


def consenting_customers(customer_landing: DataFrame, policy: Policy) -> DataFrame:
    """Customers with a research consent date (the same rule under both policies)."""
    return customer_landing.where(F.col("shareWithResearchAsOfDate").isNotNull())
