"""A table's rules after rows were appended to it: their results on the whole table, computed from
the results its previous version recorded and the added rows, wherever a rule allows it exactly.

An incremental run adds a day's rows to tables of millions; evaluating every rule on the whole
table again took most of such a run. Here, for the table `old + added` (a bag union):

- a per-row rule (completeness, allowed values, range, expression, referential integrity, and a
  SQL rule of the form `select p.* from {primary} p left semi|anti join ...`, which judges each row
  alone) whose looked-up tables are unchanged since the previous evaluation: its failing rows are
  the old ones and the added ones; only the added rows are evaluated. So too for a rule that fails
  a row lacking a partner in the looked-up tables (referential integrity, or a SQL `left anti join`
  with a subquery of inner joins and row filters only) when no old row failed and those tables
  only had rows added: partners only came, so no old row fails now;
- a uniqueness rule: its grouping's figures (distinct keys, rows sharing a key, repeated keys, the
  most repeated key) merged with the keys of the added rows and their counts among the old rows
  (one join of the old rows with the added keys instead of a grouping of the whole table);
- a group-size rule: the groups' counts, kept per count (a histogram), moved for the groups the
  added rows fall in (the same join), then judged as before;
- a row-count rule without `distinct`: from the row counts (and its reference's, as before);
- every other rule (distinct counts, a SQL rule of another form, a rule whose
  looked-up table changed, a rule the previous version did not record as it is now) is evaluated
  on the whole table, as before.

The previous results are used only when they were computed on exactly the rows the table holds
(their `rows_checked` is its row count: no row was quarantined after they were computed) and for
the same rule (a fingerprint of its declaration). When a quarantine rule fails on the added rows,
None is returned: the caller evaluates the whole table (its passing rows and quarantine).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stedi.core.quality.checks import (
    group_size_from,
    plain,
    result_row,
    row_count_result,
    uniqueness_from,
)
from stedi.core.quality.evaluation import QualityReport, evaluate_rules
from stedi.core.quality.kinds import QUARANTINE
from stedi.core.quality.rules import Rule
from stedi.core.quality.rules_of import rules_for

# A SQL rule returning the rows of {primary} that a semi or anti join keeps: each row judged alone.
_PER_ROW_SQL = re.compile(
    r"select (/\*\+[^*]*\*/ )?(?P<alias>\w+)\.\* from \{primary\} (?P=alias) "
    r"left (semi|anti) join ",
    re.IGNORECASE,
)
_COUNTS = re.compile(r"^[\d,]+ of [\d,]+ rows")


def fingerprint(rule: Rule) -> str:
    """A short hash of a rule's declaration: a recorded result counts only for the same rule."""
    return hashlib.sha256(repr(rule).encode("utf-8")).hexdigest()[:16]


def per_row(rule: Rule) -> bool:
    """Whether the rule judges each row alone, given the tables it looks up."""
    if rule.row_level:
        return True
    if rule.kind != "sql":
        return False
    query = rule.params["query"]
    return (
        query.count("{primary}") == 1
        and _PER_ROW_SQL.match(query) is not None
        and not re.search(r"\blimit\b", query, re.IGNORECASE)
    )


# What may make a subquery lose rows when its tables gain some.
_NOT_MONOTONE = re.compile(
    r"\b(anti|semi|not|except|minus|intersect|group|having|distinct|limit|over|exists|left|right|"
    r"full|outer|count|sum|min|max|avg|first|last|rank|row_number)\b",
    re.IGNORECASE,
)


def partner_rule(rule: Rule) -> bool:
    """Whether a row fails the rule exactly when the looked-up tables hold no partner for it, and
    more rows in them can only bring partners."""
    if rule.kind == "referential_integrity":
        return True
    if rule.kind != "sql" or not per_row(rule):
        return False
    query = rule.params["query"]
    found = _PER_ROW_SQL.match(query)
    if found is None or found.group(3).lower() != "anti":
        return False
    return _NOT_MONOTONE.search(query[found.end() :]) is None


def record(report: QualityReport, policy: str) -> dict:
    """What a later `evaluate_appended` needs of this evaluation, besides its results: the rules'
    fingerprints and the uniqueness figures (JSON)."""
    return {
        "rules": {rule.name: fingerprint(rule) for rule in rules_for(report.table, policy)},
        "unique": report.state.get("unique", {}),
        "groups": report.state.get("groups", {}),
    }


def _merged_count(rule: Rule, before: dict, after: dict, rows: int) -> dict:
    failing = before["rows_failing"] + after["rows_failing"]
    if not failing:
        return result_row(rule, rows, 0, failed=False)
    # The detail of the part that failed (its examples), with the whole table's counts.
    source = after if after["rows_failing"] else before
    detail = _COUNTS.sub(f"{failing:,} of {rows:,} rows", source["detail"], count=1)
    return result_row(rule, rows, failing, failed=True, detail=detail)


def _key_counts(columns: list[str], old: DataFrame, added: DataFrame) -> DataFrame:
    """Per key of the added rows (the values of `columns`): its rows among the old ones (`_old`)
    and the added ones (`_added`); the old rows are only joined with the added keys."""
    new = added.groupBy(*columns).agg(F.count(F.lit(1)).alias("_added"))
    keys = new.select(*[F.col(c).alias(f"_k{i}") for i, c in enumerate(columns)])
    matches = reduce(
        lambda a, b: a & b, [F.col(c).eqNullSafe(F.col(f"_k{i}")) for i, c in enumerate(columns)]
    )
    before = (
        old.select(*columns)
        .join(F.broadcast(keys), matches, "left_semi")
        .groupBy(*columns)
        .agg(F.count(F.lit(1)).alias("_old"))
        .select(*[F.col(c).alias(f"_o{i}") for i, c in enumerate(columns)], "_old")
    )
    same = reduce(
        lambda a, b: a & b, [F.col(c).eqNullSafe(F.col(f"_o{i}")) for i, c in enumerate(columns)]
    )
    return new.join(before, same, "left").select(
        *columns, F.coalesce(F.col("_old"), F.lit(0)).alias("_old"), "_added"
    )


def _merged_groups(
    rule: Rule, histogram: dict, old: DataFrame, added: DataFrame, rows: int
) -> tuple[dict, dict]:
    """(result, histogram) of a group-size rule on old + added, from old's {count: groups}."""
    merged = {int(n): g for n, g in histogram.items()}
    counts = _key_counts(list(rule.columns), old, added)
    moved = (
        counts.groupBy("_old", (F.col("_old") + F.col("_added")).alias("_now"))
        .agg(F.count(F.lit(1)).alias("groups"))
        .collect()
    )
    for row in moved:  # each group with added rows leaves its old count for its new one
        before, now, groups = int(row["_old"]), int(row["_now"]), int(row["groups"])
        if before:
            merged[before] = merged.get(before, 0) - groups
        merged[now] = merged.get(now, 0) + groups
    merged = {n: g for n, g in sorted(merged.items()) if g}
    return group_size_from(rule, rows, merged), {str(n): g for n, g in merged.items()}


def _merged_unique(
    rule: Rule, figures: dict, old: DataFrame, added: DataFrame, rows: int
) -> tuple[dict, dict]:
    """(result, figures) of a uniqueness rule on old + added, from old's `figures`."""
    columns = list(rule.columns)
    counts = _key_counts(columns, old, added)
    total = F.col("_old") + F.col("_added")
    stats = counts.agg(
        F.count(F.when(F.col("_old") == 0, 1)).alias("new_keys"),
        F.sum(F.when(total > 1, total)).alias("repeated_now"),
        F.sum(F.when(F.col("_old") > 1, F.col("_old"))).alias("repeated_before"),
        F.count(F.when((total > 1) & (F.col("_old") <= 1), 1)).alias("newly_repeated"),
        F.max(total).alias("top_rows"),
        F.max_by(F.struct(*columns), total).alias("top"),
    ).first()
    merged = {
        "distinct": figures["distinct"] + int(stats["new_keys"]),
        "rows": figures["rows"]
        + int(stats["repeated_now"] or 0)
        - int(stats["repeated_before"] or 0),
        "keys": figures["keys"] + int(stats["newly_repeated"]),
        "top_rows": figures["top_rows"],
        "top": figures["top"],
    }
    if stats["top_rows"] is not None and (
        figures["top_rows"] is None or int(stats["top_rows"]) > figures["top_rows"]
    ):
        merged["top_rows"] = int(stats["top_rows"])
        merged["top"] = plain(stats["top"].asDict())
    return uniqueness_from(rule, rows, merged), merged


def evaluate_appended(
    table: str,
    whole: DataFrame,
    old: DataFrame,
    added: DataFrame,
    policy: str,
    others: Mapping[str, DataFrame],
    *,
    results: list[dict],
    recorded: dict,
    unchanged: set[str],
    grown: set[str] = frozenset(),
    old_rows: int,
    added_report: QualityReport | None = None,
    reference_rows: Mapping[str, int] | None = None,
) -> QualityReport | None:
    """The QualityReport of `whole` (= `old` + `added`, `old` holding `old_rows` rows) as `table`,
    from `results` and `recorded` (`record`) of `old`'s evaluation (see the module docstring);
    `unchanged`: the tables the rules look up that are as they were then; `grown`: those that only
    had rows added since. `added_report`: the
    rules already evaluated on `added`, if they were. None: evaluate `whole` instead."""
    rules = rules_for(table, policy)
    before = {r["rule"]: r for r in results}
    prints = recorded.get("rules") or {}
    figures = recorded.get("unique") or {}
    histograms = recorded.get("groups") or {}

    def holds(rule: Rule) -> bool:
        result = before.get(rule.name)
        return (
            result is not None
            and prints.get(rule.name) == fingerprint(rule)
            and result.get("rows_checked") == old_rows
            and (
                set(rule.needs) <= unchanged
                or (
                    set(rule.needs) <= unchanged | grown
                    and partner_rule(rule)
                    and result.get("rows_failing") == 0
                )
            )
        )

    merging = [r for r in rules if per_row(r) and holds(r)]
    if added_report is None or not {r.name for r in merging} <= {
        r["rule"] for r in added_report.results
    }:
        added_report = evaluate_rules(added, merging, others, table=table, policy=policy)
    after = {r["rule"]: r for r in added_report.results}
    rows = old_rows + added_report.rows
    if any(r.severity == QUARANTINE and after[r.name]["rows_failing"] for r in merging):
        return None
    merged: dict[str, dict] = {}
    unique: dict[str, dict] = {}
    groups: dict[str, dict] = {}
    for rule in merging:
        merged[rule.name] = _merged_count(rule, before[rule.name], after[rule.name], rows)
    for rule in rules:
        if rule.kind == "uniqueness" and holds(rule) and rule.name in figures:
            merged[rule.name], unique[rule.name] = _merged_unique(
                rule, figures[rule.name], old, added, rows
            )
        elif rule.kind == "group_size" and holds(rule) and rule.name in histograms:
            merged[rule.name], groups[rule.name] = _merged_groups(
                rule, histograms[rule.name], old, added, rows
            )
        elif rule.kind == "row_count" and "distinct" not in rule.params:
            known = dict(reference_rows or {})
            merged[rule.name] = row_count_result(rule, rows, None, others, known)
    rest = [r for r in rules if r.name not in merged]
    report = (
        evaluate_rules(
            whole, rest, others, table=table, policy=policy, reference_rows=reference_rows
        )
        if rest
        else None
    )
    if report is not None and report.quarantined is not None:
        return None
    if report is not None and report.rows != rows:
        raise RuntimeError(
            f"{table}: {report.rows} rows read, {old_rows} recorded and {added_report.rows} added"
        )
    found = {**merged, **({r["rule"]: r for r in report.results} if report else {})}
    return QualityReport(
        table=table,
        policy=policy,
        rows=rows,
        results=[found[r.name] for r in rules],
        passing=whole,
        state={
            "unique": {**(report.state.get("unique", {}) if report else {}), **unique},
            "groups": {**(report.state.get("groups", {}) if report else {}), **groups},
        },
    )
