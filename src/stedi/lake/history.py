"""`stedi history TABLE` and `stedi sql --as-of RUN`: the lake's snapshots for users.

Every commit names its run, step and policy in its snapshot's summary (stedi.lake.iceberg);
`history_lines` lists a table's snapshots, `as_of_views` registers every table as it stood
after a run. Time travel stops at an erasure (the run that applied it forgets every older
snapshot) and, for a copied lake, at the copy (its tables start from their current snapshots).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from stedi import config
from stedi.core import storage
from stedi.core.tables import TABLES
from stedi.errors import UsageError


def _opened(lake_dir: str, database: str = config.DEFAULT_DATABASE):
    """The Iceberg lake at `lake_dir` (no engine), or one line when there is none."""
    from stedi.lake.iceberg import IcebergLake

    root = config.resolve(lake_dir)
    if not storage.is_s3(root) and not Path(root, config.ICEBERG_CATALOG_FILE).is_file():
        raise UsageError(
            f"no lake at {lake_dir} (no {config.ICEBERG_CATALOG_FILE}); build one with `stedi run "
            f"--lake-dir {lake_dir}`"
        )
    return IcebergLake(None, root, database=database)


def history_lines(table: str, lake_dir: str, database: str = config.DEFAULT_DATABASE) -> list[str]:
    """One line per snapshot of `table` (a declared table or `<table>_quarantine`), oldest first."""
    from stedi.lake.catalogs import is_quarantine

    if table not in TABLES and not is_quarantine(table):
        raise UsageError(
            f"unknown table {table!r}; the lake's tables: {', '.join(TABLES)} (and "
            f"<table>{config.QUARANTINE_SUFFIX})"
        )
    lake = _opened(lake_dir, database)
    found = lake.history(table)
    if not found:
        raise UsageError(
            f"table {table} has no snapshot in the lake at {lake_dir}; run the step that writes it"
        )
    lines = [
        f"{'time (UTC)':<20}{'run id':<34}{'step':<38}{'operation':<11}"
        f"{'added':>11}{'deleted':>11}{'total':>11}"
    ]
    for h in found:
        when = dt.datetime.fromtimestamp(h["timestamp_ms"] / 1000, dt.UTC).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        lines.append(
            f"{when:<20}{h['run_id'] or '-':<34}{h['step'] or '-':<38}{h['operation']:<11}"
            f"{h['rows_added']:>11,}{h['rows_deleted']:>11,}{h['rows_total']:>11,}"
        )
    return lines


def as_of_views(lake, run_id: str) -> list[str]:
    """Register every table of `lake` (stedi.lake.icelake.IcebergTables) as it stood after run
    `run_id`; returns their names. A run no snapshot names, and no later one either, is refused in
    one line."""
    if not lake.exists_at_all():
        raise UsageError(
            f"no lake at {lake.root} (no {config.ICEBERG_CATALOG_FILE}); build one with `stedi run`"
        )
    known = {
        h["run_id"] for name in lake.lake.names() for h in lake.lake.history(name) if h["run_id"]
    }
    if run_id not in known and not any(other > run_id for other in known):
        raise UsageError(
            f"no run {run_id} in the lake at {lake.root}; `stedi history TABLE` lists the runs it "
            "keeps"
        )
    if run_id not in known and not any(other < run_id for other in known):
        raise UsageError(
            f"run {run_id} is older than every snapshot the lake keeps (time travel stops at an "
            "erasure "
            f"or a copy); `stedi history TABLE` lists the runs it keeps"
        )
    return list(lake.register_as_of(run_id))
