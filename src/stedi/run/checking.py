"""Evaluating a table's declared rules in a step: the tables they look up read from the lake, and
after an append, the previous version's results merged with the added rows'
(stedi.core.quality.appended) instead of every rule evaluated on the whole table again.

Every evaluation's report carries in `state["checked"]` what the next one merges with: the rules'
fingerprints, the uniqueness figures, and the versions of the tables the rules looked up. The step
stores it with the table's snapshot (its `checked` meta, beside `quality`: the results).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame

from stedi.core import quality
from stedi.core.quality import appended as appended_rules


@dataclass
class Appended:
    """`whole` is `old` (the table's current snapshot, whose meta is `base`) and `added`;
    `added_report`: the rules already evaluated on `added`, if they were."""

    old: DataFrame
    added: DataFrame
    base: dict | None
    added_report: object | None = None  # stedi.core.quality.QualityReport


def evaluate(lake, table: str, df: DataFrame, policy, appended: Appended | None = None):
    """The QualityReport of `df` as `table` (see the module docstring)."""
    needed = sorted(quality.tables_needed(table, policy))
    others = {name: lake.read(name) for name in needed}
    known = {name: lake.rows(name) for name in quality.row_count_references(table, policy)}
    versions = {name: lake.version(name) for name in needed}
    report = None
    if appended is not None:
        report = _merged(lake, table, df, policy, others, known, versions, appended)
    if report is None:
        report = quality.evaluate(table, df, policy, others, reference_rows=known)
    report.state["checked"] = {**appended_rules.record(report, policy), "with": versions}
    return report


def _merged(lake, table, whole, policy, others, known, versions, appended: Appended):
    base = appended.base or {}
    checked, results = base.get("checked") or {}, base.get("quality")
    if not checked or not results or base.get("policy") != policy or "rows" not in base:
        return None
    then = checked.get("with") or {}
    unchanged = {name for name, v in versions.items() if v is not None and then.get(name) == v}
    # Only rows added since: the table's snapshot added to the one the rules saw.
    grown = {
        name
        for name in versions
        if name not in unchanged
        and then.get(name) is not None
        and lake.snapshot_meta(name).get("base") == then[name]
    }
    return appended_rules.evaluate_appended(
        table,
        whole,
        appended.old,
        appended.added,
        policy,
        others,
        results=results,
        recorded=checked,
        unchanged=unchanged,
        grown=grown,
        old_rows=int(base["rows"]),
        added_report=appended.added_report,
        reference_rows=known,
    )
