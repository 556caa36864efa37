"""The rules that hold for a table under a policy: the two common rules every table has
(`common_rules`) and the ones declared for it in stedi.core.quality.table_rules (`RULES`), and
the other tables they read (`tables_needed`, `row_count_references`)."""

from __future__ import annotations

from stedi.context import Policy
from stedi.core.quality.kinds import ERROR, WARN
from stedi.core.quality.rules import Rule, matches_schema, row_count
from stedi.core.quality.table_rules import RULES
from stedi.core.tables import table


def common_rules(name: str, policy: str) -> tuple[Rule, ...]:
    """The rules every table has: its declared schema (for `policy`) and not being empty."""
    t = table(name)
    return (
        matches_schema(t.columns_for(policy)),
        row_count(
            ">",
            value=0,
            severity=ERROR if t.zone == "landing" else WARN,
            name="not_empty",
            description="the table has rows",
        ),
    )


def rules_for(name: str, policy: Policy) -> list[Rule]:
    """The rules that hold for table `name` under `policy`, in declaration order."""
    declared = RULES.get(table(name).name, ())
    return [r for r in (*common_rules(name, policy), *declared) if r.applies_to(policy)]


def tables_needed(name: str, policy: str) -> set[str]:
    """The other tables the rules of `name` read: pass exactly these to `evaluate` in `others`."""
    return {t for rule in rules_for(name, policy) for t in rule.needs}


def row_count_references(name: str, policy: str) -> set[str]:
    """The tables whose row counts the rules of `name` compare with (pass them as
    `reference_rows`)."""
    return {
        rule.params["reference"]
        for rule in rules_for(name, policy)
        if rule.kind == "row_count" and "reference" in rule.params
    }
