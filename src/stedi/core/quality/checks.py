"""The evaluation of each rule kind on a frame: one result row per rule (used by the engine)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import reduce

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from stedi.core.quality.kinds import ERROR, QUARANTINE, WARN
from stedi.core.quality.rules import Rule

PASSED, FAILED, WARNED, QUARANTINED = "passed", "failed", "warned", "quarantined"
OUTCOMES = (PASSED, FAILED, WARNED, QUARANTINED)
RESULT_KEYS = ("rule", "kind", "severity", "rows_checked", "rows_failing", "outcome", "detail")
EXAMPLES = 3

_FAILED_OUTCOME = {ERROR: FAILED, QUARANTINE: QUARANTINED, WARN: WARNED}


def result_row(rule: Rule, rows_checked, rows_failing, *, failed: bool, detail: str = "") -> dict:
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


def not_evaluated(rule: Rule, reason: str) -> dict:
    """A rule that could not run: a warning for warn rules, a failure otherwise
    (a quarantine rule that cannot run has removed nothing)."""
    result = result_row(rule, None, None, failed=True, detail=f"not evaluated: {reason}")
    result["outcome"] = WARNED if rule.severity == WARN else FAILED
    return result


def cannot_run(rule: Rule, df: DataFrame, others: Mapping[str, DataFrame]) -> str:
    missing = [c for c in rule.columns if c not in df.columns]
    if missing:
        return f"missing column(s) {', '.join(missing)}"
    if rule.kind == "referential_integrity":
        ref = others[rule.params["table"]]
        absent = [c for c in rule.params["table_columns"] if c not in ref.columns]
        if absent:
            return f"{rule.params['table']} has no column(s) {', '.join(absent)}"
    return ""


def with_row_conditions(
    df: DataFrame, rules: list[Rule], others: Mapping[str, DataFrame]
) -> tuple[DataFrame, dict[str, Column]]:
    """The frame with one marker column per referential-integrity lookup, and each rule's failing
    condition."""
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
            condition = reduce(
                lambda a, b: a | b, [c.isNotNull() & ~c.rlike(pattern) for c in cols]
            )
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
        shown.append(
            ", ".join(f"{k}={v!r}" for k, v in values.items()) if len(values) > 1 else repr(row[0])
        )
    return "; e.g. " + " | ".join(shown) if shown else ""


def row_level_result(
    rule: Rule, enriched: DataFrame, condition: Column, rows: int, failing: int, examples: int
) -> dict:
    if not failing:
        return result_row(rule, rows, 0, failed=False)
    if rule.kind == "expression" and rule.description:
        what = f"fail: {rule.description}"
    else:
        what = _row_failure_text(rule)
    detail = f"{failing:,} of {rows:,} rows {what}" + _examples(
        enriched.where(condition), rule.columns, examples
    )
    return result_row(rule, rows, failing, failed=True, detail=detail)


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


def uniqueness_result(rule: Rule, df: DataFrame, rows: int, state: dict | None = None) -> dict:
    """One grouping by the rule's columns gives the distinct keys and, when some repeat, the detail.

    (A count of distinct keys inside the table's main aggregation would make Spark expand
    every row once per distinct aggregate.) `state`, when given, receives the grouping's figures
    under the rule's name (stedi.core.quality.appended merges them with added rows').
    """
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
    figures = {
        "distinct": int(stats["distinct"]),
        "rows": int(stats["rows"] or 0),
        "keys": int(stats["keys"] or 0),
        "top_rows": None if stats["top_rows"] is None else int(stats["top_rows"]),
        "top": None if stats["top"] is None else plain(stats["top"].asDict()),
    }
    if state is not None:
        state[rule.name] = figures
    return uniqueness_from(rule, rows, figures)


def plain(values: dict) -> dict:
    """Values as JSON keeps them (a Spark Connect client may return numpy scalars)."""
    return {k: v.item() if hasattr(v, "item") else v for k, v in values.items()}


def uniqueness_from(rule: Rule, rows: int, figures: dict) -> dict:
    """The result of a uniqueness rule from its grouping's figures (uniqueness_result)."""
    distinct = figures["distinct"]
    if distinct == rows:
        return result_row(rule, rows, 0, failed=False)
    failing = figures["rows"]
    top = ", ".join(f"{k}={v!r}" for k, v in (figures["top"] or {}).items())
    detail = (
        f"{failing:,} of {rows:,} rows share their {', '.join(rule.columns)} with another row "
        f"({figures['keys']:,} repeated value(s), {rows - distinct:,} surplus rows); "
        f"most repeated: {top} ({figures['top_rows']:,} rows)"
    )
    return result_row(rule, rows, failing, failed=True, detail=detail)


_COMPARE = {
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "==": lambda a, b: a == b,
}


def row_count_result(
    rule: Rule, rows: int, distinct, others, reference_rows: dict[str, int]
) -> dict:
    op = rule.params["compare"]
    measure = int(distinct) if "distinct" in rule.params else rows
    what = f"distinct {rule.params['distinct']}" if "distinct" in rule.params else "rows"
    if "reference" in rule.params:
        ref = rule.params["reference"]
        if ref not in reference_rows:
            reference_rows[ref] = int(others[ref].count())
        bound = reference_rows[ref]
        bound_text = f"{bound:,} (rows of {ref})"
    else:
        bound = rule.params["value"]
        bound_text = f"{bound:,}"
    holds = _COMPARE[op](measure, bound)
    detail = f"{measure:,} {what} {op} {bound_text}: {'holds' if holds else 'does not hold'}"
    return result_row(rule, rows, None, failed=not holds, detail=detail)


@contextmanager
def query_on(query: str, frames: Mapping[str, DataFrame]) -> Iterator[DataFrame]:
    """`query` with each `{name}` placeholder standing for `frames[name]`; use the result inside the
    block.

    Each frame is a temporary view with a name of its own (rules run concurrently in one
    session), dropped when the block ends. Temporary views work on a classic session and on
    Spark Connect alike (`spark.sql(query, name=df)` needs a 4.x Connect client). A Connect
    frame is resolved again at each action, so every action on the result happens inside.
    """
    tag = uuid.uuid4().hex[:12]
    views = {name: f"stedi_{name}_{tag}" for name in frames}
    spark = next(iter(frames.values())).sparkSession
    try:
        for name, frame in frames.items():
            frame.createOrReplaceTempView(views[name])
        yield spark.sql(query.format(**{name: f"`{view}`" for name, view in views.items()}))
    finally:
        for view in views.values():
            spark.catalog.dropTempView(view)


def group_size_result(rule: Rule, df: DataFrame, rows: int, state: dict | None = None) -> dict:
    """The groups' row counts, counted per count (a few hundred values), then judged on the driver
    as `rules.group_size_sql` states it. `state`, when given, receives those counts under the
    rule's name (stedi.core.quality.appended merges them with added rows')."""
    counts = (
        df.groupBy(*rule.columns)
        .agg(F.count(F.lit(1)).alias("n"))
        .groupBy("n")
        .agg(F.count(F.lit(1)).alias("groups"))
        .collect()
    )
    histogram = {int(row["n"]): int(row["groups"]) for row in counts}
    if state is not None:
        state[rule.name] = {str(n): g for n, g in sorted(histogram.items())}
    return group_size_from(rule, rows, histogram)


def percentile(histogram: dict[int, int], p: float) -> float:
    """Spark's exact `percentile` of values given as {value: how many}: linear interpolation between
    the two values around position p * (count - 1)."""
    values = sorted(histogram)
    total = sum(histogram.values())
    position = p * (total - 1)
    lower, higher = math.floor(position), math.ceil(position)

    def at(index: int) -> int:
        seen = 0
        for value in values:
            seen += histogram[value]
            if seen > index:
                return value
        raise AssertionError(index)  # pragma: no cover

    low, high = at(lower), at(higher)
    if higher == lower or low == high:
        return float(low)
    return (higher - position) * low + (position - lower) * high


def group_size_from(rule: Rule, rows: int, histogram: dict[int, int]) -> dict:
    """The result of a group-size rule from {row count of a group: groups with it}."""
    histogram = {n: g for n, g in histogram.items() if g}
    groups = sum(histogram.values())
    if not groups:
        return result_row(rule, rows, 0, failed=False, detail="no groups")
    k = float(rule.params["fence"])
    q1, q3 = percentile(histogram, 0.25), percentile(histogram, 0.75)
    low, high = q1 - k * (q3 - q1), q3 + k * (q3 - q1)
    unit = rule.params["unit"]
    usual = f"{low:g} to {high:g} rows per {unit.rstrip('s')}"
    spread = f"quartiles {q1:g}/{q3:g}, counts {min(histogram)}..{max(histogram)}"
    outside = {n: g for n, g in histogram.items() if n < low or n > high}
    unusual = sum(outside.values())
    if not unusual:
        return result_row(
            rule, rows, 0, failed=False, detail=f"all {groups:,} {unit} within {usual} ({spread})"
        )
    failing = sum(n * g for n, g in outside.items())
    detail = (
        f"{unusual:,} of {groups:,} {unit} outside the usual {usual} ({spread}); "
        f"they hold {failing:,} of {rows:,} rows"
    )
    return result_row(rule, rows, failing, failed=True, detail=detail)


def sql_result(
    rule: Rule, df: DataFrame, others: Mapping[str, DataFrame], rows: int, examples: int
) -> dict:
    frames = {"primary": df, **{t: others[t] for t in rule.needs}}
    try:
        with query_on(rule.params["query"], frames) as failing_rows:
            failing = int(failing_rows.count())
            shown = _examples(failing_rows, failing_rows.columns[:4], examples) if failing else ""
    except AnalysisException as problem:
        return not_evaluated(rule, str(problem).splitlines()[0])
    if not failing:
        return result_row(rule, rows, 0, failed=False)
    detail = f"{failing:,} of {rows:,} rows returned" + shown
    if rule.description:
        detail = f"{detail} ({rule.description})"
    return result_row(rule, rows, failing, failed=True, detail=detail)
