"""The intake's accounting: every record read is landed, quarantined (with a reason) or a dropped
duplicate.

`tally` counts the classified records per file and outcome in one Spark job;
`check_accounting` fails unless `read = landed + quarantined + duplicates` holds
and the quarantine reasons add up.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stedi.core.intake.classify import REASONS


class IntakeAccountingError(RuntimeError):
    """read = landed + quarantined + duplicates does not hold for a table."""


def tally(classified: DataFrame) -> list:
    """Rows per (file, status, reason), with the file's record count as read (one job)."""
    return (
        classified.groupBy("source_file", "status", "reason")
        .agg(F.count(F.lit(1)).alias("rows"), F.max("_file_records").alias("file_records"))
        .collect()
    )


def check_accounting(accounting: dict) -> dict:
    """Fail unless read = landed + quarantined + duplicates_dropped and the reasons add up.

    Returns the accounting unchanged, so that a notebook can show it.
    """
    source = accounting.get("source", "table")
    read, landed = accounting["read"], accounting["landed"]
    quarantined, duplicates = accounting["quarantined"], accounting["duplicates_dropped"]
    erased = accounting.get("erased", 0)
    reasons = accounting.get("quarantine_reasons", {})
    if read != landed + quarantined + duplicates + erased:
        raise IntakeAccountingError(
            f"intake of {source} does not balance: read {read} != landed {landed} + quarantined "
            f"{quarantined} + duplicates {duplicates} + erased {erased} "
            f"({read - landed - quarantined - duplicates - erased:+d} unaccounted)"
        )
    if sum(reasons.values()) != quarantined:
        raise IntakeAccountingError(
            f"intake of {source}: quarantine reasons {reasons} add up to {sum(reasons.values())}, "
            f"not to the {quarantined} quarantined"
        )
    # Rows a landing table's quality rules move out carry `quality:<rule>`
    # (stedi.run.step.Step.land).
    unknown = sorted(r for r in set(reasons) - set(REASONS) if not r.startswith("quality:"))
    if unknown:
        raise IntakeAccountingError(f"intake of {source}: unknown quarantine reasons {unknown}")
    return accounting


def summed(base: dict, delta: dict) -> dict:
    """The accounting of a landing table added to: its rows so far (`base`) and the new files'
    (`delta`)."""
    summed = dict(delta)
    for key in ("read", "landed", "quarantined", "duplicates_dropped", "erased", "repaired_files"):
        summed[key] = base.get(key, 0) + delta.get(key, 0)
    reasons = dict(base.get("quarantine_reasons", {}))
    for reason, n in delta.get("quarantine_reasons", {}).items():
        reasons[reason] = reasons.get(reason, 0) + n
    summed["quarantine_reasons"] = dict(sorted(reasons.items()))
    summed["balanced"] = (
        summed["read"]
        == summed["landed"]
        + summed["quarantined"]
        + summed["duplicates_dropped"]
        + summed["erased"]
        and sum(reasons.values()) == summed["quarantined"]
    )
    return summed
