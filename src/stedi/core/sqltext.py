"""SQL text: the statements of a .sql file, as both `stedi sql` (Spark) and `stedi aws query`
(Athena) run them."""

from __future__ import annotations

import re

# The pieces of SQL text a `;` inside does not end a statement: quoted strings and identifiers
# (a doubled quote, or a backslash as Spark reads strings, escapes one; one never closed runs
# to the end), line comments and block comments. Anything else is matched a run at a time.
_PIECES = re.compile(
    r"""'(?:[^'\\]|\\.|'')*'?"""
    r"""|"(?:[^"\\]|\\.|"")*"?"""
    r"|`(?:[^`]|``)*`?"
    r"|--[^\n]*"
    r"|/\*.*?(?:\*/|\Z)"
    r"|;"
    r"|[^'\"`;/-]+|.",
    re.S,
)


def statements(text: str) -> list[str]:
    """The statements of a SQL text, split on each `;` outside strings, quoted names and comments,
    each without its leading blank and `--` comment lines; statements left empty are dropped."""
    found, current = [], []
    for piece in _PIECES.finditer(text):
        if piece.group() == ";":
            found.append("".join(current))
            current = []
        else:
            current.append(piece.group())
    found.append("".join(current))
    return [s for s in (_without_leading_comments(chunk) for chunk in found) if s]


def _without_leading_comments(chunk: str) -> str:
    lines = chunk.strip().splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines.pop(0)
    return "\n".join(lines).strip()
