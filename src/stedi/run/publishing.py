"""How a step's output table gets into the lake: staged, checked, committed.

`publish_output` is what a notebook's `step.publish(table, frame)` does (stedi.run.step):
- a landing table is checked on the frame as given, then committed with its quarantine;
- a Parquet table (trusted, curated) is staged once, as a version readers do not see yet, and the
  rules are evaluated on what was staged: the transform runs once. When only rows were added to
  its appendable inputs, only the new rows are computed and staged (stedi.run.incremental).
  That version is then committed as it is; when a `quarantine` rule took rows out, the passing
  rows are committed with the failing ones as the table's quarantine; a version computed whole
  that holds the current rows is not committed at all (the current one stays).
A failed `error` rule raises (QualityError naming the rule) and nothing is committed.

`commit_with_quarantine` commits a table and its quarantine, one after the other (a killed run
between the two is found by the lake's `unfinished_pairs`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame

from stedi.core.tables import table as declared_table
from stedi.lake.icelake import IcebergTables
from stedi.lake.staged import Staged
from stedi.run import checking, incremental, privacy


@dataclass
class Published:
    """What `publish_output` did: the quality report, the table as the lake now holds it, and the
    run's consent record (stedi.run.privacy.consent_changes) as this publish left it."""

    report: object  # stedi.core.quality.QualityReport
    table: dict  # {table, zone, rows, snapshot_id, path}
    consent: dict | None


def publish_output(
    lake: IcebergTables,
    table: str,
    df: DataFrame,
    *,
    check: Callable,
    declared,
    policy,
    consent: dict | None,
    run_dir: str | None,
) -> Published:
    """Stage, check and commit `df` as `table` (see the module docstring). `check(table, frame)`
    returns the QualityReport (raising for a failed `error` rule); `declared`: the pipeline's
    declaration of the step (None for a step outside it); `consent`: the step's consent record so
    far."""
    if declared_table(table).fmt != "parquet":
        report = check(table, df)
        described, _ = commit_with_quarantine(
            lake, table, report.passing, report.quarantine_records()
        )
        return Published(report, described, consent)
    meta = None
    if declared is not None and table in declared.writes:
        # What the version is made from: a later run adds rows to it when only these grew.
        meta = {"policy": policy, "inputs": {t: lake.version(t) for t in declared.reads}}
    added = incremental.added_rows(lake, declared, table, policy)
    staged = lake.stage(table, df if added is None else added, meta=meta, append=added is not None)
    try:
        appended = None
        if staged.append:  # the rules' results on the rows it had, merged with the added rows'
            added_only = lake.read_staged(staged, added_only=True)
            appended = checking.Appended(lake.read(table), added_only, lake.snapshot_meta(table))
        report = check(table, lake.read_staged(staged), appended)
        if report.rows != staged.rows:
            raise RuntimeError(
                f"{table}: {staged.rows} rows were written but {report.rows} read back from the "
                "staged version"
            )
    except BaseException:
        lake.discard(staged)
        raise
    if meta is not None:  # what a later append's check merges with (stedi.run.checking)
        staged.meta.update(quality=report.results, checked=report.state["checked"])
    consent = privacy.consent_changes(lake, table, staged, consent, run_dir)
    if report.quarantined is None:
        if incremental.same_as_current(lake, table, staged):
            # Nothing changed: the current version stays, so the steps reading it can add rows.
            lake.discard(staged)
            return Published(report, lake.described(table), consent)
        return Published(report, lake.publish(staged), consent)
    try:
        described, _ = commit_with_quarantine(
            lake, table, report.passing, report.quarantine_records()
        )
    finally:
        lake.discard(staged)
    return Published(report, described, consent)


def commit_with_quarantine(
    lake: IcebergTables,
    table: str,
    rows: DataFrame,
    quarantine: DataFrame | None,
    verify: Callable[[Staged, Staged], None] | None = None,
    *,
    meta: dict | None = None,
    append: bool = False,
) -> tuple[dict, str | None]:
    """Stage `rows` as `table` and `quarantine` (if any) as its quarantine; `verify(staged, held)`
    may refuse them (then both are removed); then commit both. Returns the table as committed and
    the quarantine's path (None without a quarantine)."""
    staged = lake.stage(table, rows, meta=meta, append=append)
    held = None
    try:
        if quarantine is not None:
            held = lake.stage_quarantine(table, quarantine, append=append)
        if verify is not None:
            verify(staged, held)
    except BaseException:
        lake.discard(staged)
        if held is not None:
            lake.discard(held)
        raise
    # With a quarantine, the table commits even of no new row: both commits name the run.
    described = lake.publish(staged, always=held is not None)
    return described, None if held is None else lake.publish_quarantine(held)
