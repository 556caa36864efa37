"""Declared data-quality rules per table: evaluate, quarantine, report, export as DQDL.

The rules of every table live in stedi.core.quality.table_rules (one place); a rule is
`error` (fails the run), `quarantine` (its failing rows leave the table for
<lake>/quarantine/<table>/) or `warn` (reported).

A zone notebook does not call this module itself: `step.publish(table, df)`
(stedi.run.step) writes the table as an unpublished version, evaluates these rules on
what was written, moves quarantined rows to quarantine/<table>/ and publishes the
rest, or raises QualityError naming the failed `error` rules with nothing published.

API:
    rules_for(table, policy) -> list[Rule]
    tables_needed(table, policy) -> set[str]
    evaluate(table, df, policy, others) -> QualityReport
    evaluate_rules(df, rules, others) -> QualityReport        (ad-hoc rules)
    dqdl_rulesets(policy) -> str                              (`stedi quality --dqdl`)
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame

from stedi.core.quality.checks import (
    FAILED,
    OUTCOMES,
    PASSED,
    QUARANTINED,
    RESULT_KEYS,
    WARNED,
)
from stedi.core.quality.dqdl import dqdl_ruleset, dqdl_rulesets
from stedi.core.quality.evaluation import QualityError, QualityReport, evaluate_rules
from stedi.core.quality.kinds import ERROR, KINDS, QUARANTINE, SEVERITIES, WARN
from stedi.core.quality.rules import Rule
from stedi.core.quality.rules_of import (
    common_rules,
    row_count_references,
    rules_for,
    tables_needed,
)
from stedi.core.quality.table_rules import RULES


def evaluate(
    table: str,
    df: DataFrame,
    policy: str,
    others: Mapping[str, DataFrame] | None = None,
    reference_rows: Mapping[str, int] | None = None,
) -> QualityReport:
    """Evaluate the declared rules of `table` (under `policy`) on `df`.

    `others` maps table name -> DataFrame for every table in `tables_needed(table, policy)`
    (a missing one raises ValueError); `reference_rows` the row counts of those already
    known. Nothing is written: the caller writes `report.passing` and, when not None,
    the quarantine.
    """
    return evaluate_rules(
        df,
        rules_for(table, policy),
        others or {},
        table=table,
        policy=policy,
        reference_rows=reference_rows,
    )


__all__ = [
    "ERROR",
    "FAILED",
    "KINDS",
    "OUTCOMES",
    "PASSED",
    "QUARANTINE",
    "QUARANTINED",
    "RESULT_KEYS",
    "RULES",
    "SEVERITIES",
    "WARN",
    "WARNED",
    "QualityError",
    "QualityReport",
    "Rule",
    "common_rules",
    "dqdl_ruleset",
    "dqdl_rulesets",
    "evaluate",
    "evaluate_rules",
    "row_count_references",
    "rules_for",
    "tables_needed",
]
