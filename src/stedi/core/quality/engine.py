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

from dataclasses import dataclass
from functools import reduce
from typing import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from stedi.core.quality.rules import ERROR, QUARANTINE, WARN, Rule, group_size_sql
from stedi.core.schemas import schema_difference

PASSED, FAILED, WARNED, QUARANTINED = "passed", "failed", "warned", "quarantined"
OUTCOMES = (PASSED, FAILED, WARNED, QUARANTINED)
RESULT_KEYS = ("rule", "kind", "severity", "rows_checked", "rows_failing", "outcome", "detail")
EXAMPLES = 3

_FAILED_OUTCOME = {ERROR: FAILED, QUARANTINE: QUARANTINED, WARN: WARNED}


class QualityError(Exception):
    """Error-severity rules failed; `failures` holds their results."""

    def __init__(self, table: str, failures: list[dict]):
        self.table = table
        self.failures = failures
        lines = [f"{r['rule']}: {r['detail']}" for r in failures]
        super().__init__(
            f"{table}: {len(failures)} quality rule(s) failed: {', '.join(r['rule'] for r in failures)}\n  "
            + "\n  ".join(lines)
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

    def raise_for_errors(self) -> "QualityReport":
        """Raise QualityError naming the failed rules; otherwise return the report."""
        if self.errors:
            raise QualityError(self.table, self.errors)
        return self

    def to_pandas(self):
        """The results as a table for display: rule, kind, severity, rows checked/failing, outcome, detail."""
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
        """The quarantined rows in the lake's quarantine layout (source_file, position, reason, raw).

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
            f"quality rules of {table or 'the table'} need {', '.join(missing_tables)}; pass them in `others`"
        )
    names = [r.name for r in rules]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"rule names must be unique per table: {', '.join(duplicated)}")

    results: dict[str, dict] = {}
    runnable: list[Rule] = []
    for rule in rules:
        reason = _cannot_run(rule, df, others)
        if reason:
            results[rule.name] = _not_evaluated(rule, reason)
        else:
            runnable.append(rule)

    # One pass: lookups for referential integrity, then a single aggregation.
    enriched, conditions = _with_row_conditions(df, [r for r in runnable if r.row_level], others)
    aggregates = [F.count(F.lit(1)).alias("__rows")]
    for i, rule in enumerate(runnable):
        if rule.row_level:
            aggregates.append(F.sum(F.when(conditions[rule.name], 1).otherwise(0)).alias(f"__r{i}"))
        elif rule.kind == "row_count" and "distinct" in rule.params:
            aggregates.append(F.count_distinct(F.col(rule.params["distinct"])).alias(f"__r{i}"))
    counted = enriched.agg(*aggregates).first().asDict()
    rows = int(counted["__rows"])

    known_rows: dict[str, int] = dict(reference_rows or {})
    for i, rule in enumerate(runnable):
        value = counted.get(f"__r{i}")
        if rule.row_level:
            results[rule.name] = _row_level_result(rule, enriched, conditions[rule.name], rows, int(value or 0), examples)
        elif rule.kind == "uniqueness":
            results[rule.name] = _uniqueness_result(rule, df, rows)
        elif rule.kind == "row_count":
            results[rule.name] = _row_count_result(rule, rows, value, others, known_rows)
        elif rule.kind == "schema":
            problems = schema_difference(df.schema, rule.params["declared"])
            results[rule.name] = _result(rule, None, None, failed=bool(problems), detail="; ".join(problems))
        elif rule.kind == "forbidden_columns":
            present = [c for c in df.columns if c in rule.params["forbidden"]]
            detail = f"present: {', '.join(present)}" if present else ""
            results[rule.name] = _result(rule, None, None, failed=bool(present), detail=detail)
        elif rule.kind == "group_size":
            results[rule.name] = _group_size_result(rule, df, rows)
        elif rule.kind == "sql":
            results[rule.name] = _sql_result(rule, df, others, rows, examples)
        else:  # pragma: no cover - every kind is handled above
            raise AssertionError(rule.kind)

    passing, quarantined, quarantined_rows = df, None, 0
    removing = [r for r in runnable if r.severity == QUARANTINE and (results[r.name]["rows_failing"] or 0) > 0]
    if removing:
        failing = reduce(lambda a, b: a | b, [conditions[r.name] for r in removing])
        passing = enriched.where(~failing).select(*df.columns)
        which = F.concat_ws(",", *[F.when(conditions[r.name], F.lit(r.name)) for r in removing])
        quarantined = enriched.where(failing).select(*df.columns, which.alias("rule"))
        quarantined_rows = sum(results[r.name]["rows_failing"] for r in removing)
        if len(removing) > 1:  # rows failing several rules count once
            quarantined_rows = enriched.where(failing).count()

    return QualityReport(
        table=table,
        policy=policy,
        rows=rows,
        results=[results[r.name] for r in rules],
        passing=passing,
        quarantined=quarantined,
        quarantined_rows=quarantined_rows,
    )


# -- helpers --------------------------------------------------------------------


def _result(rule: Rule, rows_checked, rows_failing, *, failed: bool, detail: str = "") -> dict:
    outcome = _FAILED_OUTCOME[rule.severity] if failed else PASSED
    return {
        "rule": rule.name,
        "kind": rule.kind,
        "severity": rule.severity,
        "rows_checked": rows_checked,
        "rows_failing": rows_failing,
        "outcome": outcome,
        "detail": detail,
    }


def _not_evaluated(rule: Rule, reason: str) -> dict:
    """A rule that could not run: a warning for warn rules, a failure otherwise
    (a quarantine rule that cannot run has removed nothing)."""
    result = _result(rule, None, None, failed=True, detail=f"not evaluated: {reason}")
    result["outcome"] = WARNED if rule.severity == WARN else FAILED
    return result


def _cannot_run(rule: Rule, df: DataFrame, others: Mapping[str, DataFrame]) -> str:
    missing = [c for c in rule.columns if c not in df.columns]
    if missing:
        return f"missing column(s) {', '.join(missing)}"
    if rule.kind == "referential_integrity":
        ref = others[rule.params["table"]]
        absent = [c for c in rule.params["table_columns"] if c not in ref.columns]
        if absent:
            return f"{rule.params['table']} has no column(s) {', '.join(absent)}"
    return ""


def _with_row_conditions(
    df: DataFrame, rules: list[Rule], others: Mapping[str, DataFrame]
) -> tuple[DataFrame, dict[str, Column]]:
    """The frame with one marker column per referential-integrity lookup, and each rule's failing condition."""
    enriched = df
    conditions: dict[str, Column] = {}
    for i, rule in enumerate(rules):
        cols = [F.col(c) for c in rule.columns]
        if rule.kind == "completeness":
            condition = reduce(lambda a, b: a | b, [c.isNull() for c in cols])
        elif rule.kind == "allowed_values" and "values" in rule.params:
            values = list(rule.params["values"])
            condition = reduce(lambda a, b: a | b, [c.isNotNull() & ~c.isin(values) for c in cols])
        elif rule.kind == "allowed_values":
            pattern = rule.params["pattern"]
            condition = reduce(lambda a, b: a | b, [c.isNotNull() & ~c.rlike(pattern) for c in cols])
        elif rule.kind == "range":
            parts = []
            for c in cols:
                if "min" in rule.params:
                    parts.append(c < F.lit(rule.params["min"]))
                if "max" in rule.params:
                    parts.append(c > F.lit(rule.params["max"]))
            condition = reduce(lambda a, b: a | b, parts)
        elif rule.kind == "expression":
            condition = ~F.coalesce(F.expr(rule.params["expression"]), F.lit(False))
        elif rule.kind == "referential_integrity":
            marker = f"__ref{i}"
            keys = [f"__ref{i}_{j}" for j in range(len(rule.columns))]
            lookup = (
                others[rule.params["table"]]
                .select(*[F.col(c).alias(k) for c, k in zip(rule.params["table_columns"], keys)])
                .distinct()
                .withColumn(marker, F.lit(True))
            )
            on = reduce(lambda a, b: a & b, [c == F.col(k) for c, k in zip(cols, keys)])
            enriched = enriched.join(F.broadcast(lookup), on, "left").drop(*keys)
            # A null key references nothing (completeness rules judge nulls).
            known = reduce(lambda a, b: a & b, [c.isNotNull() for c in cols])
            condition = known & F.col(marker).isNull()
        else:  # pragma: no cover
            raise AssertionError(rule.kind)
        conditions[rule.name] = F.coalesce(condition, F.lit(False))
    return enriched, conditions


def _examples(frame: DataFrame, columns: tuple[str, ...] | list[str], n: int) -> str:
    if n <= 0:
        return ""
    shown = []
    for row in frame.select(*columns).limit(n).collect():
        values = row.asDict()
        shown.append(", ".join(f"{k}={v!r}" for k, v in values.items()) if len(values) > 1 else repr(row[0]))
    return "; e.g. " + " | ".join(shown) if shown else ""


def _row_level_result(rule: Rule, enriched: DataFrame, condition: Column, rows: int, failing: int, examples: int) -> dict:
    if not failing:
        return _result(rule, rows, 0, failed=False)
    if rule.kind == "expression" and rule.description:
        what = f"fail: {rule.description}"
    else:
        what = _row_failure_text(rule)
    detail = f"{failing:,} of {rows:,} rows {what}" + _examples(enriched.where(condition), rule.columns, examples)
    return _result(rule, rows, failing, failed=True, detail=detail)


def _row_failure_text(rule: Rule) -> str:
    return {
        "completeness": f"with a null {' or '.join(rule.columns)}",
        "allowed_values": (
            f"with a value not in {list(rule.params.get('values', ()))}"
            if "values" in rule.params
            else f"not matching {rule.params.get('pattern')}"
        ),
        "range": f"outside [{rule.params.get('min', '-inf')}, {rule.params.get('max', 'inf')}]",
        "expression": f"where {rule.params.get('expression')} does not hold",
        "referential_integrity": (
            f"whose {', '.join(rule.columns)} is not in "
            f"{rule.params.get('table')}.{', '.join(rule.params.get('table_columns', ()))}"
        ),
    }[rule.kind]


def _uniqueness_result(rule: Rule, df: DataFrame, rows: int) -> dict:
    """One grouping by the rule's columns gives the distinct keys and, when some repeat, the detail.

    (A count of distinct keys inside the table's main aggregation would make Spark expand
    every row once per distinct aggregate.)"""
    repeated = F.col("count") > 1
    stats = (
        df.groupBy(*rule.columns)
        .count()
        .agg(
            F.count(F.lit(1)).alias("distinct"),
            F.sum(F.when(repeated, F.col("count"))).alias("rows"),
            F.count(F.when(repeated, 1)).alias("keys"),
            F.max("count").alias("top_rows"),
            F.max_by(F.struct(*rule.columns), "count").alias("top"),
        )
        .first()
    )
    distinct = int(stats["distinct"])
    if distinct == rows:
        return _result(rule, rows, 0, failed=False)
    failing = int(stats["rows"])
    top = ", ".join(f"{k}={v!r}" for k, v in stats["top"].asDict().items())
    detail = (
        f"{failing:,} of {rows:,} rows share their {', '.join(rule.columns)} with another row "
        f"({stats['keys']:,} repeated value(s), {rows - distinct:,} surplus rows); "
        f"most repeated: {top} ({stats['top_rows']:,} rows)"
    )
    return _result(rule, rows, failing, failed=True, detail=detail)


_COMPARE = {
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "==": lambda a, b: a == b,
}


def _row_count_result(rule: Rule, rows: int, distinct, others, reference_rows: dict[str, int]) -> dict:
    op = rule.params["compare"]
    measure = int(distinct) if "distinct" in rule.params else rows
    what = f"distinct {rule.params['distinct']}" if "distinct" in rule.params else "rows"
    if "reference" in rule.params:
        ref = rule.params["reference"]
        if ref not in reference_rows:
            reference_rows[ref] = others[ref].count()
        bound = reference_rows[ref]
        bound_text = f"{bound:,} (rows of {ref})"
    else:
        bound = rule.params["value"]
        bound_text = f"{bound:,}"
    holds = _COMPARE[op](measure, bound)
    detail = f"{measure:,} {what} {op} {bound_text}: {'holds' if holds else 'does not hold'}"
    return _result(rule, rows, None, failed=not holds, detail=detail)


def _group_size_result(rule: Rule, df: DataFrame, rows: int) -> dict:
    stats = df.sparkSession.sql(group_size_sql(rule), primary=df).first()
    if not stats["groups"]:
        return _result(rule, rows, 0, failed=False, detail="no groups")
    unit = rule.params["unit"]
    usual = f"{stats['low']:g} to {stats['high']:g} rows per {unit.rstrip('s')}"
    spread = f"quartiles {stats['q1']:g}/{stats['q3']:g}, counts {stats['smallest']}..{stats['largest']}"
    unusual = int(stats["unusual_groups"])
    if not unusual:
        return _result(rule, rows, 0, failed=False, detail=f"all {stats['groups']:,} {unit} within {usual} ({spread})")
    failing = int(stats["unusual_rows"])
    detail = (
        f"{unusual:,} of {stats['groups']:,} {unit} outside the usual {usual} ({spread}); "
        f"they hold {failing:,} of {rows:,} rows"
    )
    return _result(rule, rows, failing, failed=True, detail=detail)


def _sql_result(rule: Rule, df: DataFrame, others: Mapping[str, DataFrame], rows: int, examples: int) -> dict:
    frames = {"primary": df, **{t: others[t] for t in rule.needs}}
    try:
        failing_rows = df.sparkSession.sql(rule.params["query"], **frames)
    except AnalysisException as problem:
        return _not_evaluated(rule, str(problem).splitlines()[0])
    failing = failing_rows.count()
    if not failing:
        return _result(rule, rows, 0, failed=False)
    detail = f"{failing:,} of {rows:,} rows returned" + _examples(failing_rows, failing_rows.columns[:4], examples)
    if rule.description:
        detail = f"{detail} ({rule.description})"
    return _result(rule, rows, failing, failed=True, detail=detail)
