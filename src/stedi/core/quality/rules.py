"""A data-quality rule: what must hold for a table, how to check it, and its DQDL form.

A `Rule` is plain data (name, kind, severity, columns, params, description); the
engine (stedi.core.quality.evaluation) knows how to evaluate each kind and the catalog
(stedi.core.quality.table_rules) declares which rules hold for which table. The
constructors below (`complete`, `unique`, `allowed`, ...) are the vocabulary the
catalog is written in.

Kinds and severities: stedi.core.quality.kinds.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stedi.core.quality.kinds import (
    ALL_POLICIES,
    COMPARISONS,
    ERROR,
    KINDS,
    NEEDS_COLUMNS,
    QUARANTINE,
    REQUIRED_PARAMS,
    ROW_LEVEL,
    SEVERITIES,
    WARN,
)
from stedi.core.tables import Columns


@dataclass(frozen=True)
class Rule:
    """One rule for one table. Build rules with the constructors of this module."""

    name: str
    kind: str
    severity: str
    columns: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    policies: tuple[str, ...] = ALL_POLICIES

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", self.name):
            raise ValueError(f"rule name {self.name!r} must be an identifier")
        if self.kind not in KINDS:
            raise ValueError(
                f"rule {self.name}: unknown kind {self.kind!r}; expected one of {', '.join(KINDS)}"
            )
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"rule {self.name}: unknown severity {self.severity!r}; expected one of "
                f"{', '.join(SEVERITIES)}"
            )
        if self.severity == QUARANTINE and self.kind not in ROW_LEVEL:
            raise ValueError(
                f"rule {self.name}: only row-level kinds ({', '.join(ROW_LEVEL)}) can quarantine, "
                f"not {self.kind}"
            )
        unknown = set(self.policies) - set(ALL_POLICIES)
        if unknown or not self.policies:
            raise ValueError(f"rule {self.name}: policies must be among {', '.join(ALL_POLICIES)}")
        if self.kind in NEEDS_COLUMNS and not self.columns:
            raise ValueError(f"rule {self.name}: a {self.kind} rule needs columns")
        missing = [p for p in REQUIRED_PARAMS.get(self.kind, ()) if p not in self.params]
        if missing:
            raise ValueError(
                f"rule {self.name}: a {self.kind} rule needs params {', '.join(missing)}"
            )
        if self.kind == "allowed_values" and ("values" in self.params) == (
            "pattern" in self.params
        ):
            raise ValueError(f"rule {self.name}: give exactly one of values or pattern")
        if self.kind == "range" and "min" not in self.params and "max" not in self.params:
            raise ValueError(f"rule {self.name}: a range needs min and/or max")
        if self.kind == "referential_integrity" and len(self.params["table_columns"]) != len(
            self.columns
        ):
            raise ValueError(f"rule {self.name}: as many table_columns as columns")
        if self.kind == "row_count":
            if self.params["compare"] not in COMPARISONS:
                raise ValueError(
                    f"rule {self.name}: compare must be one of {', '.join(COMPARISONS)}"
                )
            if ("reference" in self.params) == ("value" in self.params):
                raise ValueError(
                    f"rule {self.name}: give exactly one of reference (a table) or value"
                )

    # -- what the rule needs -------------------------------------------------
    @property
    def row_level(self) -> bool:
        return self.kind in ROW_LEVEL

    @property
    def needs(self) -> tuple[str, ...]:
        """The other tables this rule reads (pass them to `evaluate` in `others`)."""
        if self.kind == "referential_integrity":
            return (self.params["table"],)
        if self.kind == "row_count" and "reference" in self.params:
            return (self.params["reference"],)
        if self.kind == "sql":
            return tuple(sorted(sql_tables(self.params["query"])))
        return ()

    def applies_to(self, policy: str) -> bool:
        return policy in self.policies

    # -- DQDL (the text itself: stedi.core.quality.dqdl_render.rule_dqdl) -----
    def dqdl_note(self) -> str:
        """What the DQDL form leaves out, if anything."""
        if self.kind == "schema":
            return (
                "DQDL checks the column names and count; the column types are declared by the "
                "catalog table"
            )
        return ""


def sql_tables(query: str) -> set[str]:
    """The `{table}` placeholders of a free SQL query, except `{primary}` (the table being
    checked)."""
    names = {f for _, f, _, _ in string.Formatter().parse(query) if f}
    return names - {"primary"}


# -- constructors: the vocabulary of the catalog -------------------------------


def complete(
    *columns: str,
    severity: str = ERROR,
    name: str | None = None,
    description: str = "",
    policies=ALL_POLICIES,
) -> Rule:
    """No null in any of `columns`."""
    return Rule(
        name or f"{'_'.join(columns)}_complete",
        "completeness",
        severity,
        tuple(columns),
        {},
        description or f"{', '.join(columns)} never null",
        tuple(policies),
    )


def unique(
    *columns: str,
    severity: str = ERROR,
    name: str | None = None,
    description: str = "",
    policies=ALL_POLICIES,
) -> Rule:
    """No two rows share the values of `columns` (a compound key when several)."""
    return Rule(
        name or f"{'_'.join(columns)}_unique",
        "uniqueness",
        severity,
        tuple(columns),
        {},
        description or f"no two rows share {', '.join(columns)}",
        tuple(policies),
    )


def allowed(
    *columns: str,
    values: tuple | None = None,
    pattern: str | None = None,
    severity: str = ERROR,
    name: str,
    description: str = "",
    policies=ALL_POLICIES,
) -> Rule:
    """Every non-null value of `columns` is one of `values`, or matches the regular expression
    `pattern`."""
    params: dict[str, Any] = {}
    if values is not None:
        params["values"] = tuple(values)
    if pattern is not None:
        params["pattern"] = pattern
    return Rule(
        name, "allowed_values", severity, tuple(columns), params, description, tuple(policies)
    )


def in_range(
    *columns: str,
    min: float | None = None,
    max: float | None = None,
    severity: str = ERROR,
    name: str,
    description: str = "",
    policies=ALL_POLICIES,
) -> Rule:
    """Every non-null value of `columns` lies in [min, max] (either bound may be left open)."""
    params = {k: v for k, v in (("min", min), ("max", max)) if v is not None}
    return Rule(name, "range", severity, tuple(columns), params, description, tuple(policies))


def holds(
    name: str,
    expression: str,
    *,
    columns: tuple[str, ...],
    severity: str = ERROR,
    description: str = "",
    policies=ALL_POLICIES,
) -> Rule:
    """The Spark SQL boolean `expression` is true for every row (a null result fails).

    `columns` are the columns the expression reads (checked to exist before it runs).
    """
    return Rule(
        name,
        "expression",
        severity,
        tuple(columns),
        {"expression": expression},
        description,
        tuple(policies),
    )


def references(
    columns: str | tuple[str, ...],
    table: str,
    table_columns: str | tuple[str, ...],
    *,
    severity: str = ERROR,
    name: str,
    description: str = "",
    policies=ALL_POLICIES,
) -> Rule:
    """Every row's (non-null) `columns` value is present in `table`.`table_columns`."""
    cols = (columns,) if isinstance(columns, str) else tuple(columns)
    ref = (table_columns,) if isinstance(table_columns, str) else tuple(table_columns)
    return Rule(
        name,
        "referential_integrity",
        severity,
        cols,
        {"table": table, "table_columns": ref},
        description or f"{', '.join(cols)} present in {table}.{', '.join(ref)}",
        tuple(policies),
    )


def matches_schema(
    declared: Columns, *, name: str = "schema_matches_declared", policies=ALL_POLICIES
) -> Rule:
    """The frame's columns, in order, with their types, are exactly `declared`."""
    return Rule(
        name,
        "schema",
        ERROR,
        (),
        {"declared": tuple(declared)},
        "columns, order and types equal the declared ones (stedi.core.tables)",
        tuple(policies),
    )


def forbids(
    *forbidden: str, name: str, description: str = "", severity: str = ERROR, policies=ALL_POLICIES
) -> Rule:
    """None of the `forbidden` columns is present."""
    return Rule(
        name,
        "forbidden_columns",
        severity,
        (),
        {"forbidden": tuple(forbidden)},
        description,
        tuple(policies),
    )


def row_count(
    compare: str,
    *,
    reference: str | None = None,
    value: int | None = None,
    distinct: str | None = None,
    severity: str = ERROR,
    name: str,
    description: str = "",
    policies=ALL_POLICIES,
) -> Rule:
    """rows (or distinct values of `distinct`) `compare` the rows of table `reference`, or the
    constant `value`."""
    params: dict[str, Any] = {"compare": compare}
    if reference is not None:
        params["reference"] = reference
    if value is not None:
        params["value"] = value
    if distinct is not None:
        params["distinct"] = distinct
    return Rule(
        name,
        "row_count",
        severity,
        (distinct,) if distinct else (),
        params,
        description,
        tuple(policies),
    )


def usual_group_size(
    *columns: str,
    unit: str,
    fence: float = 1.5,
    severity: str = WARN,
    name: str,
    description: str = "",
    policies=ALL_POLICIES,
) -> Rule:
    """Each group of `columns` has a row count within the Tukey fences of all groups' counts.

    The usual range is [Q1 - fence * IQR, Q3 + fence * IQR] of the per-group row counts;
    `unit` names a group in reports ("customers", "devices").
    """
    return Rule(
        name,
        "group_size",
        severity,
        tuple(columns),
        {"unit": unit, "fence": fence},
        description,
        tuple(policies),
    )


def sql(
    name: str, query: str, *, severity: str = ERROR, description: str = "", policies=ALL_POLICIES
) -> Rule:
    """Free Spark SQL returning the failing rows.

    Write `{primary}` for the table being checked and `{<table>}` for any other
    table (which the rule then needs); no other braces.
    """
    return Rule(
        name, "sql", severity, (), {"query": " ".join(query.split())}, description, tuple(policies)
    )


# -- SQL shared by evaluation and DQDL -----------------------------------------


def group_size_sql(rule: Rule) -> str:
    """Per-group row counts against their Tukey fences; one row of statistics.

    Placeholders: `{primary}`. Columns: groups, unusual_groups, unusual_rows,
    smallest, largest, q1, q3, low, high.
    """
    keys = ", ".join(f"`{c}`" for c in rule.columns)
    k = float(rule.params["fence"])
    return " ".join(
        f"""
        with groups as (select {keys}, count(*) as n from {{primary}} group by {keys}),
        quartiles as (select percentile(n, 0.25) as q1, percentile(n, 0.75) as q3 from groups),
        bounds as (select q1, q3, q1 - {k} * (q3 - q1) as low, q3 + {k} * (q3 - q1) as high
                   from quartiles)
        select count(*) as groups,
               count_if(n < low or n > high) as unusual_groups,
               coalesce(sum(case when n < low or n > high then n else 0 end), 0) as unusual_rows,
               min(n) as smallest, max(n) as largest,
               first(q1) as q1, first(q3) as q3, first(low) as low, first(high) as high
        from groups cross join bounds
        """.split()
    )
