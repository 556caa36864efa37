"""Evaluate rules on a DataFrame: counts, outcomes, quarantine, and the report.

Spark work per evaluation, kept small on purpose:

- one aggregation over the frame counts every row-level rule (completeness,
  allowed values, ranges, expressions, referential integrity through small
  broadcast lookups) and the row count;
- each uniqueness rule is one grouping (distinct keys and, if any repeat, the detail);
- a row-count relation counts its reference table (once per table);
- each free SQL rule and each group-size rule is one query;
- a failing row-level rule fetches up to `examples` example rows.

A rule that cannot run (a column it reads is missing) does not stop the others:
it is reported as failed (warned for warn rules) with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stedi.core.quality.checks import (
    EXAMPLES,
    FAILED,
    OUTCOMES,
    RESULT_KEYS,
    WARNED,
    cannot_run,
    group_size_result,
    not_evaluated,
    result_row,
    row_count_result,
    row_level_result,
    sql_result,
    uniqueness_result,
    with_row_conditions,
)
from stedi.core.quality.kinds import QUARANTINE
from stedi.core.quality.rules import Rule
from stedi.core.schemas import schema_difference


class QualityError(Exception):
    """Error-severity rules failed; `failures` holds their results."""

    def __init__(self, table: str, failures: list[dict]):
        self.table = table
        self.failures = failures
        lines = [f"{r['rule']}: {r['detail']}" for r in failures]
        super().__init__(
            f"{table}: {len(failures)} quality rule(s) failed: "
            f"{', '.join(r['rule'] for r in failures)}\n  " + "\n  ".join(lines)
        )


@dataclass
class QualityReport:
    """The outcome of evaluating a table's rules.

    results      one dict per rule: rule, kind, severity, rows_checked, rows_failing,
                 outcome (passed | failed | warned | quarantined), detail
    passing      the frame without the rows that failed a quarantine rule (the frame
                 itself when nothing was quarantined): write this one
    quarantined  the removed rows with a `rule` column (the failing rules' names,
                 comma-separated), or None
    """

    table: str
    policy: str
    rows: int
    results: list[dict]
    passing: DataFrame
    quarantined: DataFrame | None = None
    quarantined_rows: int = 0  # rows moved out (a row failing two quarantine rules counts once)
    # What a later evaluation after an append merges with (stedi.core.quality.appended): per
    # uniqueness rule, its grouping's figures; the caller may add what the rules looked up.
    state: dict = field(default_factory=dict)

    @property
    def errors(self) -> list[dict]:
        """Results of the rules that fail the run."""
        return [r for r in self.results if r["outcome"] == FAILED]

    @property
    def warnings(self) -> list[dict]:
        return [r for r in self.results if r["outcome"] == WARNED]

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> QualityReport:
        """Raise QualityError naming the failed rules; otherwise return the report."""
        if self.errors:
            raise QualityError(self.table, self.errors)
        return self

    def to_pandas(self):
        """The results as a table for display: rule, kind, severity, rows checked/failing, outcome,
        detail."""
        import pandas as pd

        frame = pd.DataFrame(self.results, columns=list(RESULT_KEYS))
        for column in ("rows_checked", "rows_failing"):
            frame[column] = frame[column].astype("Int64")
        return frame

    def to_dict(self) -> dict:
        """JSON-serializable summary (for the run manifest's `quality` section)."""
        return {
            "table": self.table,
            "policy": self.policy,
            "rows": self.rows,
            "passed": self.ok,
            "quarantined_rows": self.quarantined_rows,
            "results": self.results,
        }

    def quarantine_records(self) -> DataFrame | None:
        """The quarantined rows in the lake's quarantine layout (source_file, position, reason,
        raw).

        source_file is the table, position is null, reason is `quality:<rule[,rule]>`, raw is
        the row as JSON; `Lake.write_quarantine(<table>, report.quarantine_records())`
        writes them to <lake>/quarantine/<table>/.
        """
        if self.quarantined is None:
            return None
        data = [c for c in self.quarantined.columns if c != "rule"]
        return self.quarantined.select(
            F.lit(self.table).alias("source_file"),
            F.lit(None).cast("bigint").alias("position"),
            F.concat(F.lit("quality:"), F.col("rule")).alias("reason"),
            F.to_json(F.struct(*data)).alias("raw"),
        )

    def _repr_html_(self) -> str:
        counts = {o: sum(r["outcome"] == o for r in self.results) for o in OUTCOMES}
        summary = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
        caption = f"quality of {self.table} ({self.policy}): {self.rows:,} rows; {summary}"
        table = self.to_pandas().to_html(index=False, na_rep="", escape=True)
        return f"<p><b>{caption}</b></p>{table}"


def evaluate_rules(
    df: DataFrame,
    rules: list[Rule],
    others: Mapping[str, DataFrame] | None = None,
    *,
    table: str = "",
    policy: str = "",
    examples: int = EXAMPLES,
    reference_rows: Mapping[str, int] | None = None,
) -> QualityReport:
    """Evaluate `rules` on `df`; `others` holds every table the rules need, by name.

    `reference_rows` may give the row counts of tables in `others` that are already
    known (the lake records them when it writes a table); the others are counted.

    Cache `df` first if it is expensive to compute: the aggregation, each SQL rule
    and the final write each read it.
    """
    others = dict(others or {})
    missing_tables = sorted({t for r in rules for t in r.needs} - set(others))
    if missing_tables:
        raise ValueError(
            f"quality rules of {table or 'the table'} need {', '.join(missing_tables)}; pass them "
            "in `others`"
        )
    names = [r.name for r in rules]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"rule names must be unique per table: {', '.join(duplicated)}")

    results: dict[str, dict] = {}
    runnable: list[Rule] = []
    for rule in rules:
        reason = cannot_run(rule, df, others)
        if reason:
            results[rule.name] = not_evaluated(rule, reason)
        else:
            runnable.append(rule)

    # One pass: lookups for referential integrity, then a single aggregation.
    enriched, conditions = with_row_conditions(df, [r for r in runnable if r.row_level], others)
    aggregates = [F.count(F.lit(1)).alias("__rows")]
    for i, rule in enumerate(runnable):
        if rule.row_level:
            aggregates.append(F.sum(F.when(conditions[rule.name], 1).otherwise(0)).alias(f"__r{i}"))
        elif rule.kind == "row_count" and "distinct" in rule.params:
            aggregates.append(F.count_distinct(F.col(rule.params["distinct"])).alias(f"__r{i}"))
    counted = enriched.agg(*aggregates).first().asDict()
    rows = int(counted["__rows"])

    known_rows: dict[str, int] = dict(reference_rows or {})
    state: dict = {}
    groups: dict = {}
    for i, rule in enumerate(runnable):
        value = counted.get(f"__r{i}")
        if rule.row_level:
            results[rule.name] = row_level_result(
                rule, enriched, conditions[rule.name], rows, int(value or 0), examples
            )
        elif rule.kind == "uniqueness":
            results[rule.name] = uniqueness_result(rule, df, rows, state)
        elif rule.kind == "row_count":
            results[rule.name] = row_count_result(rule, rows, value, others, known_rows)
        elif rule.kind == "schema":
            problems = schema_difference(df.schema, rule.params["declared"])
            results[rule.name] = result_row(
                rule, None, None, failed=bool(problems), detail="; ".join(problems)
            )
        elif rule.kind == "forbidden_columns":
            present = [c for c in df.columns if c in rule.params["forbidden"]]
            detail = f"present: {', '.join(present)}" if present else ""
            results[rule.name] = result_row(rule, None, None, failed=bool(present), detail=detail)
        elif rule.kind == "group_size":
            results[rule.name] = group_size_result(rule, df, rows, groups)
        elif rule.kind == "sql":
            results[rule.name] = sql_result(rule, df, others, rows, examples)
        else:  # pragma: no cover - every kind is handled above
            raise AssertionError(rule.kind)

    passing, quarantined, quarantined_rows = df, None, 0
    removing = [
        r
        for r in runnable
        if r.severity == QUARANTINE and (results[r.name]["rows_failing"] or 0) > 0
    ]
    if removing:
        failing = reduce(lambda a, b: a | b, [conditions[r.name] for r in removing])
        passing = enriched.where(~failing).select(*df.columns)
        which = F.concat_ws(",", *[F.when(conditions[r.name], F.lit(r.name)) for r in removing])
        quarantined = enriched.where(failing).select(*df.columns, which.alias("rule"))
        quarantined_rows = sum(results[r.name]["rows_failing"] for r in removing)
        if len(removing) > 1:  # rows failing several rules count once
            quarantined_rows = int(enriched.where(failing).count())

    return QualityReport(
        table=table,
        policy=policy,
        rows=rows,
        results=[results[r.name] for r in rules],
        passing=passing,
        quarantined=quarantined,
        quarantined_rows=quarantined_rows,
        state={"unique": state, "groups": groups},
    )
