"""What `stedi run` prints: its step lines, the row counts and what the run held out or erased.

`step_line` and `step_outcome` make a step's line (`  [2/7] 01_customer_landing_to_trusted ...
succeeded (3.2 s)`), also for the steps of a deployed workflow (stedi.aws.status);
`format_counts` and `outcome_lines` make the end of a run, from its manifest.
"""

from __future__ import annotations

from stedi.run.pipeline import ZONE_STEPS


def step_line(number: int, total: int, name: str) -> str:
    """The start of a step's line in the run's step table: `  [2/7] 01_customer_landing_to_trusted
    ...`."""
    return f"  [{number}/{total}] {name} ..."


def step_outcome(status: str, seconds: float | None) -> str:
    """The end of a step's line: ` succeeded (3.2 s)`, or the status alone when it has no
    duration."""
    return f" {status}" if seconds is None else f" {status} ({seconds:.1f} s)"


def format_counts(manifest: dict) -> str:
    """The row counts of the manifest's tables, one line each (a table built by an earlier run names
    it); "" when the manifest has no table. A count that could not be read shows as "unknown"."""
    tables = manifest.get("tables") or {}
    if not tables:
        return ""
    lines = [f"  {'table':<26}{'zone':<10}{'rows':>10}"]
    for name, t in tables.items():
        rows = "unknown" if t.get("rows") is None else f"{t['rows']:,}"
        line = f"  {name:<26}{t.get('zone') or '':<10}{rows:>10}"
        built = t.get("run")
        if built is not None and built != manifest.get("run_id"):
            line += f"  built by run {built}" if built else "  built outside stedi run"
        lines.append(line)
    return "\n".join(lines)


def outcome_lines(manifest: dict) -> list[str]:
    """What the end of a run says besides the counts: the records the landing tables' quarantine
    holds, by table and reason, and the erasure requests the run applied."""
    lines = []
    intake = manifest.get("intake") or {}
    if intake:
        held = {name: acc for name, acc in intake.items() if acc.get("quarantined")}
        if held:
            total = sum(acc["quarantined"] for acc in held.values())
            parts = "; ".join(
                f"{name} {acc['quarantined']:,}"
                + (
                    ": "
                    + ", ".join(
                        f"{r} {n:,}" for r, n in (acc.get("quarantine_reasons") or {}).items()
                    )
                    if acc.get("quarantine_reasons")
                    else ""
                )
                for name, acc in held.items()
            )
            lines.append(
                f"  quarantine: {total:,} records held out of the landing tables ({parts})"
            )
        else:
            lines.append("  quarantine: no record held out of the landing tables")
    erasures = manifest.get("erasures") or []
    if erasures:
        # Each request applied by the same intake carries that intake's rows erased per landing
        # table.
        rows: dict[str, int] = {}
        for e in erasures:
            rows.update(e.get("rows") or {})
        ids = ", ".join(e.get("id", "?") for e in erasures)
        per_table = ", ".join(f"{name} {n:,}" for name, n in rows.items())
        ran = {entry.get("name") for entry in manifest.get("steps") or []}
        lines.append(
            f"  erasures applied: {len(erasures)} request{'s' if len(erasures) != 1 else ''} "
            f"({ids}); "
            f"{sum(rows.values()):,} rows removed from the landing tables ({per_table})"
            + (
                ", and their trusted and curated rows"
                if {step.name for step in ZONE_STEPS} <= ran
                else ""
            )
        )
    return lines
