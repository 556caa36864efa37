"""customer_landing -> customer_trusted: customers who consented to research."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stedi.core.transforms import check_policy


def consenting_customers(customer_landing: DataFrame, policy: str) -> DataFrame:
    """Customers with a research consent date (the same rule under both policies)."""
    check_policy(policy)
    return customer_landing.where(F.col("shareWithResearchAsOfDate").isNotNull())
