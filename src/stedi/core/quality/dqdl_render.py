"""Each rule kind rendered as AWS Glue DQDL text (`rule_dqdl`, used by stedi.core.quality.dqdl)."""

from __future__ import annotations

import re

from stedi import config
from stedi.core.quality.rules import Rule, group_size_sql, sql_tables


def _q(text: str) -> str:
    """A DQDL quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _all(parts: list[str]) -> str:
    """One rule, or a composite that holds when all hold (one part per line when long)."""
    if len(parts) == 1:
        return parts[0]
    text = " and ".join(f"({p})" for p in parts)
    return text if len(text) <= 100 else "\n    and ".join(f"({p})" for p in parts)


def _number(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _literal(v) -> str:
    return _number(v) if isinstance(v, (int, float)) else _q(str(v))


def _custom_sql_count_zero(query: str, database: str, tables: set[str]) -> str:
    # Placeholders are replaced literally: an expression may hold braces of its own (regex `{4}`).
    names = {"primary": "primary", **{t: f"{database}.{t}" for t in tables}}
    for placeholder, name in names.items():
        query = query.replace("{" + placeholder + "}", name)
    return f"CustomSql {_q(query)} = 0"


def _dqdl_completeness(rule: Rule, database: str) -> str:
    return _all([f"IsComplete {_q(c)}" for c in rule.columns])


def _dqdl_uniqueness(rule: Rule, database: str) -> str:
    return "IsUnique " + " ".join(_q(c) for c in rule.columns)


def _not_null(column: str) -> str:
    return f"where {_q(f'`{column}` is not null')}"


def _dqdl_allowed(rule: Rule, database: str) -> str:
    if "values" in rule.params:
        values = ", ".join(_literal(v) for v in rule.params["values"])
        return _all([f"ColumnValues {_q(c)} in [{values}] {_not_null(c)}" for c in rule.columns])
    return _all(
        [
            f"ColumnValues {_q(c)} matches {_q(rule.params['pattern'])} {_not_null(c)}"
            for c in rule.columns
        ]
    )


def _dqdl_range(rule: Rule, database: str) -> str:
    parts = []
    for c in rule.columns:
        if "min" in rule.params:
            parts.append(f"ColumnValues {_q(c)} >= {_number(rule.params['min'])} {_not_null(c)}")
        if "max" in rule.params:
            parts.append(f"ColumnValues {_q(c)} <= {_number(rule.params['max'])} {_not_null(c)}")
    return _all(parts)


def _dqdl_expression(rule: Rule, database: str) -> str:
    query = (
        f"select count(*) from {{primary}} where not coalesce({rule.params['expression']}, false)"
    )
    return _custom_sql_count_zero(query, database, set())


def _dqdl_referential(rule: Rule, database: str) -> str:
    ref = rule.params["table_columns"]
    ref_text = ref[0] if len(ref) == 1 else "{" + ",".join(ref) + "}"
    return (
        f"ReferentialIntegrity {_q(','.join(rule.columns))} "
        f"{_q(rule.params['table'] + '.' + ref_text)} = 1.0"
    )


def _dqdl_schema(rule: Rule, database: str) -> str:
    declared = rule.params["declared"]
    return _all([f"ColumnCount = {len(declared)}"] + [f"ColumnExists {_q(n)}" for n, _ in declared])


def _dqdl_forbidden(rule: Rule, database: str) -> str:
    names = "|".join(re.escape(n) for n in rule.params["forbidden"])
    return f"ColumnNamesMatchPattern {_q(f'^(?!({names})$).*$')}"


def _dqdl_row_count(rule: Rule, database: str) -> str:
    op = rule.params["compare"]
    dq_op = "=" if op == "==" else op
    distinct = rule.params.get("distinct")
    if "value" in rule.params and not distinct:
        return f"RowCount {dq_op} {rule.params['value']}"
    if "reference" in rule.params and not distinct:
        return f"RowCountMatch {_q(rule.params['reference'])} {dq_op} 1.0"
    measure = f"select count(distinct `{distinct}`) from primary"
    if "value" in rule.params:
        return f"CustomSql {_q(measure)} {dq_op} {rule.params['value']}"
    reference = f"{database}.{rule.params['reference']}"
    query = f"select ({measure}) - (select count(*) from {reference})"
    return f"CustomSql {_q(query)} {dq_op} 0"


def _dqdl_group_size(rule: Rule, database: str) -> str:
    # The statistics the evaluation computes, reduced to the number of unusual groups.
    return _custom_sql_count_zero(
        f"select unusual_groups from ({group_size_sql(rule)})", database, set()
    )


def _dqdl_sql(rule: Rule, database: str) -> str:
    query = f"select count(*) from ({rule.params['query']})"
    return _custom_sql_count_zero(query, database, sql_tables(rule.params["query"]))


RENDERERS = {
    "completeness": _dqdl_completeness,
    "uniqueness": _dqdl_uniqueness,
    "allowed_values": _dqdl_allowed,
    "range": _dqdl_range,
    "expression": _dqdl_expression,
    "referential_integrity": _dqdl_referential,
    "schema": _dqdl_schema,
    "forbidden_columns": _dqdl_forbidden,
    "row_count": _dqdl_row_count,
    "group_size": _dqdl_group_size,
    "sql": _dqdl_sql,
}


def rule_dqdl(rule: Rule, database: str = config.DEFAULT_DATABASE) -> str | None:
    """`rule` in AWS Glue DQDL, or None when DQDL cannot express it.

    Reference datasets (ReferentialIntegrity, RowCountMatch) are aliased by
    their table name; free SQL names other tables `<database>.<table>`, as
    Glue Data Quality does for Data Catalog tables.
    """
    return RENDERERS[rule.kind](rule, database)
