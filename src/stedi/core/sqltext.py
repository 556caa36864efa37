"""SQL text: the statements of a .sql file, as both `stedi sql` (Spark) and `stedi aws query` (Athena) run them."""

from __future__ import annotations


def statements(text: str) -> list[str]:
    """The statements of a SQL text (split on `;`), each without its leading blank and comment lines."""
    found = []
    for chunk in text.split(";"):
        lines = chunk.strip().splitlines()
        while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
            lines.pop(0)
        statement = "\n".join(lines).strip()
        if statement:
            found.append(statement)
    return found
