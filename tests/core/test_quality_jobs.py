"""The quality check's cost in Spark jobs, counted by classic Spark's status tracker (Sail, on which
tests/core/test_quality.py runs the rules, has no SparkContext)."""

from __future__ import annotations

from stedi.core import quality
from stedi.core.quality import rules as R


def test_simple_rules_share_one_aggregation_pass(spark):
    df = spark.createDataFrame(
        [("a@x.com", 1, 0.0), ("b@x.com", None, 2.0)], "email string, t bigint, x double"
    ).cache()
    df.count()
    many = [
        R.complete("t"),
        R.complete("email"),
        R.allowed("x", values=(-1, 0, 1), name="axis"),
        R.allowed("email", pattern="@", name="email_at"),
        R.in_range("t", min=0, name="t_positive"),
        R.holds("t_small", "t < 10", columns=("t",)),
        R.unique("email"),
    ]

    def jobs(rules):
        group = f"quality-{len(rules)}"
        spark.sparkContext.setJobGroup(group, group)
        try:
            quality.evaluate_rules(df, rules, examples=0)
        finally:
            spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
        return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))

    # Seven rules cost no more Spark jobs than the two that shape the query.
    assert jobs(many) == jobs([many[0], many[-1]])
