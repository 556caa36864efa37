"""Numbers as the analysis's sentences print them."""

from __future__ import annotations


def count(n: float) -> str:
    """A count with thousands separators: 81273 -> '81,273'."""
    return f"{int(n):,}"


def percent(part: float, whole: float, digits: int = 1) -> str:
    return f"{100 * part / whole:.{digits}f}%" if whole else "n/a"
