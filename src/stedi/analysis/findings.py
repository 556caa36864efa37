"""The run's intake and data-quality results, read from its manifest.

Under `stedi run` the analysis reads its own run's manifest. Opened by hand (no run folder),
it reads the manifest of the latest run of the same lake that recorded findings: every run,
one that skipped every step included, records the intake and quality of the tables in force.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from stedi import config
from stedi.analysis.formatting import count
from stedi.core.tables import TABLES
from stedi.run.folder import LATEST, MANIFEST, RunFolder


def load_manifest(
    run_dir: str | Path | None, lake_dir: str | None = None, runs_dir: str | Path = config.RUNS_DIR
) -> dict | None:
    """The run's manifest; without a run folder, that of the latest run of `lake_dir` (when given)
    in `runs_dir` with findings (`latest_findings`); None when there is none."""
    if run_dir:
        return RunFolder(run_dir).read_manifest()
    return latest_findings(lake_dir, runs_dir) if lake_dir else None


def latest_findings(lake_dir: str, runs_dir: str | Path = config.RUNS_DIR) -> dict | None:
    """The manifest of the newest run of the lake at `lake_dir` that recorded intake or quality
    results: the newest that succeeded, else the newest of any status; None when there is none."""
    runs = Path(config.resolve(runs_dir))
    lake = os.path.realpath(config.resolve(lake_dir))
    found = []
    for path in runs.glob(f"*/{MANIFEST}") if runs.is_dir() else ():
        if path.parent.name == LATEST:
            continue
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        of_lake = manifest.get("lake_dir") and os.path.realpath(manifest["lake_dir"]) == lake
        if of_lake and (manifest.get("intake") or manifest.get("quality")):
            found.append(
                (
                    manifest.get("status") == "succeeded",
                    path.stat().st_mtime,
                    path.parent.name,
                    manifest,
                )
            )
    return max(found, key=lambda f: f[:3])[3] if found else None


def other_run(manifest: dict | None, run_id: str) -> str:
    """The id of the run `manifest` is of, when it is not run `run_id` (the analysis's own); else
    ""."""
    found = (manifest or {}).get("run_id") or ""
    return found if found != run_id else ""


def intake_findings(manifest: dict | None) -> pd.DataFrame:
    """One row per landing table: read, landed, quarantined, duplicates_dropped, reasons."""
    columns = ["table", "read", "landed", "quarantined", "duplicates_dropped", "reasons"]
    rows = []
    for name, acc in ((manifest or {}).get("intake") or {}).items():
        reasons = acc.get("quarantine_reasons") or {}
        rows.append(
            {
                "table": name,
                **{
                    k: int(acc.get(k) or 0)
                    for k in ("read", "landed", "quarantined", "duplicates_dropped")
                },
                "reasons": ", ".join(f"{r}: {n:,}" for r, n in reasons.items()),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def quality_findings(manifest: dict | None) -> pd.DataFrame:
    """One row per evaluated rule: table, rule, severity, rows_checked, rows_failing, outcome,
    detail."""
    columns = ["table", "rule", "severity", "rows_checked", "rows_failing", "outcome", "detail"]
    rows = [
        {"table": name, **{c: result.get(c) for c in columns[1:]}}
        for name, results in ((manifest or {}).get("quality") or {}).items()
        for result in results
    ]
    return pd.DataFrame(rows, columns=columns)


def quality_outcomes(quality: pd.DataFrame) -> pd.DataFrame:
    """Rules per table (rows, in lake order) and outcome (columns: passed, warned, quarantined,
    failed, as present)."""
    if not len(quality):
        return pd.DataFrame()
    table = quality.pivot_table(
        index="table", columns="outcome", values="rule", aggfunc="count", fill_value=0
    )
    order = [t for t in TABLES if t in table.index] + sorted(
        t for t in table.index if t not in TABLES
    )
    outcomes = [o for o in ("passed", "warned", "quarantined", "failed") if o in table.columns]
    outcomes += sorted(c for c in table.columns if c not in outcomes)
    return table.reindex(index=order, columns=outcomes)


def findings_sentence(
    intake: pd.DataFrame, quality: pd.DataFrame, have_manifest: bool, from_run: str = ""
) -> str:
    """The findings in a few sentences; `from_run`: the run they come from when it is not this
    analysis's."""
    if not have_manifest:
        return (
            "No data-quality findings recorded: this analysis ran outside a run folder and no run "
            "of this "
            "lake recorded any (no manifest.json)."
        )
    parts = (
        [f"From run {from_run}, the latest run of this lake that recorded findings."]
        if from_run
        else []
    )
    if len(intake):
        parts.append(
            f"Intake read {count(intake['read'].sum())} records into {len(intake)} landing tables: "
            f"{count(intake['landed'].sum())} landed, {count(intake['quarantined'].sum())} "
            "quarantined and "
            f"{count(intake['duplicates_dropped'].sum())} exact duplicates dropped."
        )
    else:
        parts.append("No intake accounting recorded in this run's manifest.")
    if len(quality):
        outcomes = quality["outcome"].value_counts()
        counted = ", ".join(f"{count(n)} {o}" for o, n in outcomes.items())
        parts.append(
            f"{count(len(quality))} data-quality rules were evaluated on "
            f"{quality['table'].nunique()} tables: {counted}."
        )
        flagged = quality[quality["outcome"] != "passed"]
        if len(flagged):
            worst = flagged.sort_values("rows_failing", ascending=False, na_position="last").head(3)
            parts.append(
                "Most rows flagged: "
                + "; ".join(
                    f"{r.table}.{r.rule} ({r.outcome}, "
                    f"{count(r.rows_failing) if pd.notna(r.rows_failing) else 'n/a'} rows)"
                    for r in worst.itertuples()
                )
                + "."
            )
    else:
        parts.append("No data-quality rule results recorded in this run's manifest.")
    return " ".join(parts)
