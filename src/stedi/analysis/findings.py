"""The run's intake and data-quality results, read from its manifest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stedi.analysis.formatting import count
from stedi.core.tables import TABLES
from stedi.run.folder import RunFolder


def load_manifest(run_dir: str | Path | None) -> dict | None:
    """The run's manifest, or None when there is no run folder or no manifest yet."""
    return RunFolder(run_dir).read_manifest() if run_dir else None


def intake_findings(manifest: dict | None) -> pd.DataFrame:
    """One row per landing table: read, landed, quarantined, duplicates_dropped, reasons."""
    columns = ["table", "read", "landed", "quarantined", "duplicates_dropped", "reasons"]
    rows = []
    for name, acc in ((manifest or {}).get("intake") or {}).items():
        reasons = acc.get("quarantine_reasons") or {}
        rows.append({
            "table": name,
            **{k: int(acc.get(k) or 0) for k in ("read", "landed", "quarantined", "duplicates_dropped")},
            "reasons": ", ".join(f"{r}: {n:,}" for r, n in reasons.items()),
        })
    return pd.DataFrame(rows, columns=columns)


def quality_findings(manifest: dict | None) -> pd.DataFrame:
    """One row per evaluated rule: table, rule, severity, rows_checked, rows_failing, outcome, detail."""
    columns = ["table", "rule", "severity", "rows_checked", "rows_failing", "outcome", "detail"]
    rows = [
        {"table": name, **{c: result.get(c) for c in columns[1:]}}
        for name, results in ((manifest or {}).get("quality") or {}).items()
        for result in results
    ]
    return pd.DataFrame(rows, columns=columns)


def quality_outcomes(quality: pd.DataFrame) -> pd.DataFrame:
    """Rules per table (rows, in lake order) and outcome (columns: passed, warned, quarantined, failed, as present)."""
    if not len(quality):
        return pd.DataFrame()
    table = quality.pivot_table(index="table", columns="outcome", values="rule", aggfunc="count", fill_value=0)
    order = [t for t in TABLES if t in table.index] + sorted(t for t in table.index if t not in TABLES)
    outcomes = [o for o in ("passed", "warned", "quarantined", "failed") if o in table.columns]
    outcomes += sorted(c for c in table.columns if c not in outcomes)
    return table.reindex(index=order, columns=outcomes)


def findings_sentence(intake: pd.DataFrame, quality: pd.DataFrame, have_manifest: bool) -> str:
    if not have_manifest:
        return "No data-quality findings recorded: this analysis ran outside a run folder (no manifest.json)."
    parts = []
    if len(intake):
        parts.append(
            f"Intake read {count(intake['read'].sum())} records into {len(intake)} landing tables: "
            f"{count(intake['landed'].sum())} landed, {count(intake['quarantined'].sum())} quarantined and "
            f"{count(intake['duplicates_dropped'].sum())} exact duplicates dropped."
        )
    else:
        parts.append("No intake accounting recorded in this run's manifest.")
    if len(quality):
        outcomes = quality["outcome"].value_counts()
        counted = ", ".join(f"{count(n)} {o}" for o, n in outcomes.items())
        parts.append(f"{count(len(quality))} data-quality rules were evaluated on {quality['table'].nunique()} tables: {counted}.")
        flagged = quality[quality["outcome"] != "passed"]
        if len(flagged):
            worst = flagged.sort_values("rows_failing", ascending=False, na_position="last").head(3)
            parts.append(
                "Most rows flagged: "
                + "; ".join(
                    f"{r.table}.{r.rule} ({r.outcome}, {count(r.rows_failing) if pd.notna(r.rows_failing) else 'n/a'} rows)"
                    for r in worst.itertuples()
                )
                + "."
            )
    else:
        parts.append("No data-quality rule results recorded in this run's manifest.")
    return " ".join(parts)
