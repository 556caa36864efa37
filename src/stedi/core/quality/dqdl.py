"""The declared rules as AWS Glue DQDL rulesets (`stedi quality --dqdl`).

One ruleset per table. DQDL has no severities and no quarantine: each rule is
preceded by a comment naming it, its severity and what it means. Reference
datasets (ReferentialIntegrity, RowCountMatch) are aliased by table name; free
SQL names other tables `<database>.<table>` (Data Catalog tables).
"""

from __future__ import annotations

from stedi import config
from stedi.core.quality.dqdl_render import rule_dqdl
from stedi.core.quality.rules_of import rules_for
from stedi.core.tables import TABLES, table


def dqdl_ruleset(name: str, policy: str, database: str = config.DEFAULT_DATABASE) -> str:
    """The DQDL ruleset of table `name` under `policy`, with the rules DQDL cannot express listed
    after it."""
    rules = rules_for(name, policy)
    expressible = [(r, rule_dqdl(r, database)) for r in rules]
    body = []
    for rule, text in expressible:
        if text is None:
            continue
        comment = f"# {rule.name} [{rule.severity}]: {rule.description}"
        note = rule.dqdl_note()
        lines = [comment] + ([f"# ({note})"] if note else []) + text.split("\n")
        body.append("\n    ".join(lines))
    needs = sorted({t for r in rules for t in r.needs})
    header = [f"# {name} ({table(name).zone} zone, policy {policy})"]
    if needs:
        header.append(
            f"# reference datasets: {', '.join(needs)} (aliases = table names, database {database})"
        )
    out = "\n".join(header) + "\nRules = [\n    " + ",\n    ".join(body) + "\n]"
    missing = [r for r, text in expressible if text is None]
    if missing:
        out += "\n# No DQDL equivalent:\n" + "\n".join(
            f"#   {r.name} [{r.severity}]: {r.description}" for r in missing
        )
    return out


HEADER = """\
# STEDI data-quality rules in AWS Glue DQDL, policy {policy}: one ruleset per table,
# each to be used as that table's Glue Data Quality ruleset. The severity in each
# comment is this project's (error fails the run, quarantine moves the failing rows
# to <lake>/quarantine/<table>/, warn reports); DQDL has none of its own."""


def dqdl_rulesets(policy: str, database: str = config.DEFAULT_DATABASE) -> str:
    """Every table's ruleset, in the order of stedi.core.tables, separated by blank lines."""
    rulesets = [dqdl_ruleset(name, policy, database) for name in TABLES]
    return "\n\n".join([HEADER.format(policy=policy), *rulesets]) + "\n"
