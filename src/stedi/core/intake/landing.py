"""Landing a source: read its exports once, classify every record, count the outcomes; every source at once.

`land_source` returns an IntakeResult: the classified records (kept on the local
disk: engines.Storage) and their counts. `land_all` lands several sources at the same time and
hands each result to the caller's `write`, in the order the tables depend on each
other.
"""

from __future__ import annotations

import graphlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from stedi.core import storage
from stedi.core.intake.accounting import tally
from stedi.core.intake.classify import DUPLICATE, LANDED, QUARANTINED, classify_records, decide_records, normalize_records
from stedi.core.intake.engines import Storage, reported_path
from stedi.core.intake.exports import RawInputError, raw_files
from stedi.core.intake.split import RECORD, UNSPLIT
from stedi.core.intake.units import file_units, read_texts, split_file_records
from stedi.core.tables import landing_table, table


@dataclass
class IntakeResult:
    """What the intake of one table made of its exports.

    `classified` holds every record read (kept: `storage`): canonical columns, status,
    reason, source_file, position, raw. `counts`: read, landed, quarantined,
    duplicate; `reasons`: quarantined records per reason; `read_by_file`: records
    cut from each file; `repaired_files`: the files that were not clean JSON lines.
    """

    source: str
    classified: DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    repaired_files: list[str] = field(default_factory=list)  # the files that took the repair path
    read_by_file: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)  # seconds: read_and_classify, repair
    storage: Storage | None = None  # where `classified` is kept; released by unpersist()

    @property
    def landed(self) -> DataFrame:
        """The landing table: exactly its declared columns and types, in order."""
        columns = table(landing_table(self.source)).columns
        landed = self.classified.where(F.col("status") == LANDED)
        return landed.select(*[F.col(n).cast(t).alias(n) for n, t in columns])

    @property
    def quarantined(self) -> DataFrame:
        """source_file, position, reason, raw (lake.QUARANTINE_COLUMNS)."""
        return self.classified.where(F.col("status") == QUARANTINED).select(
            F.col("source_file").cast("string"),
            F.col("position").cast("long"),
            F.col("reason").cast("string"),
            F.col("raw").cast("string"),
        )

    def accounting(self) -> dict:
        read = self.counts.get("read", 0)
        landed = self.counts.get(LANDED, 0)
        quarantined = self.counts.get(QUARANTINED, 0)
        duplicates = self.counts.get(DUPLICATE, 0)
        reasons = dict(sorted(self.reasons.items()))
        return {
            "source": self.source,
            "read": read,
            "landed": landed,
            "quarantined": quarantined,
            "duplicates_dropped": duplicates,
            "quarantine_reasons": reasons,
            "balanced": read == landed + quarantined + duplicates and sum(reasons.values()) == quarantined,
            "seconds": round(self.seconds, 2),
            "files": len(self.files),
            "repaired_files": len(self.repaired_files),
        }

    def unpersist(self) -> None:
        """Drop the kept records (the cache, or the scratch copy): call once the result is written."""
        if self.storage is not None:
            self.storage.release()
        else:
            self.classified.unpersist()


def land_source(
    spark: SparkSession, raw_dir: str | Path, source: str, *, scratch: str | os.PathLike | None = None
) -> IntakeResult:
    """Read every export of `source` once, split and classify each record, and count the outcomes.

    One pass when every file is clean JSON lines: files read whole, cut into lines,
    parsed, classified, kept, counted. Files that are not clean come out of that
    pass as whole texts (status `unsplit`, kept: the files are not read again); a
    second pass cuts them with `split_records` on the executors and classifies
    everything again (duplicates and customer versions across files).

    The classified records are kept for the tally, the checks and the writes that follow
    (engines.Storage): in Spark's disk cache on a classic session, as Parquet in a folder
    under `scratch` when it is given, or on a Spark Connect session (Sail, whose cache does
    nothing), under the system's temporary folder by default. `unpersist()` drops them.

    `counts["read"]` is the number of records cut from each file, counted on the
    file (its lines, or what `split_records` returned) before classification;
    landed, quarantined and duplicate are counted on the classified rows.
    """
    started = time.monotonic()
    files = raw_files(raw_dir, source)
    kept = Storage(spark, scratch)
    try:
        return _land(spark, source, files, kept, started)
    except BaseException:
        kept.release()
        raise


def _land(spark: SparkSession, source: str, files: list[str], kept: Storage, started: float) -> IntakeResult:
    phases: dict[str, float] = {}
    classified = kept.keep(classify_records(file_units(read_texts(spark, files)), source, raw_for="kept"))
    tallies = tally(classified)
    phases["read_and_classify"] = time.monotonic() - started

    repaired = sorted({row["source_file"] for row in tallies if row["status"] == UNSPLIT})
    if repaired:
        whole_files = classified.where(F.col("status") == UNSPLIT).select("source_file", "raw")
        # The lines of the clean files keep their parsed values; only the decisions that
        # look across files (duplicates, customer versions) are taken again.
        lines = classified.where(F.col("status") != UNSPLIT).select(
            *[name for name, _ in table(landing_table(source)).columns],
            F.when(F.col("reason") != "superseded", F.col("reason")).alias("reason"),
            F.lit(RECORD).alias("kind"),
            "source_file",
            "position",
            "raw",
            "_file_records",
        )
        pieces = normalize_records(split_file_records(whole_files), source)
        units = lines.unionByName(pieces)
        reclassified = kept.keep(decide_records(units, source, raw_for="kept"))
        tallies = tally(reclassified)
        kept.drop(classified)
        classified = reclassified
        phases["repair"] = time.monotonic() - started - phases["read_and_classify"]

    read_by_file: dict[str, int] = {}
    counts: dict[str, int] = {LANDED: 0, QUARANTINED: 0, DUPLICATE: 0}
    reasons: dict[str, int] = {}
    for row in tallies:
        # int(): a Spark Connect client returns numpy integers, which JSON (the manifest) refuses.
        rows, file_records = int(row["rows"]), int(row["file_records"] or 0)
        read_by_file[row["source_file"]] = max(read_by_file.get(row["source_file"], 0), file_records)
        counts[row["status"]] = counts.get(row["status"], 0) + rows
        if row["reason"]:
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + rows
    counts["read"] = sum(read_by_file.values())
    # Every file listed must have been read: those without a record are blank, or hold
    # nothing but separators (`[]`).
    for path in repaired:
        read_by_file.setdefault(path, 0)
    unread = []
    for path in files:
        read_as = reported_path(path)
        if read_as not in read_by_file:
            if not storage.is_blank(path):
                unread.append(path)
            read_by_file[read_as] = 0
    if unread:
        raise RawInputError(f"Spark did not read {len(unread)} export file(s) of {source}: {', '.join(unread)}")
    return IntakeResult(
        source,
        classified,
        counts,
        reasons,
        time.monotonic() - started,
        files=files,
        repaired_files=repaired,
        read_by_file=read_by_file,
        phases={k: round(v, 3) for k, v in phases.items()},
        storage=kept,
    )


def land_all(
    spark: SparkSession,
    raw_dir: str | Path,
    sources: tuple[str, ...],
    *,
    write: Callable[[IntakeResult], object],
    needs: Mapping[str, set[str]] | None = None,
    concurrent: bool = True,
    scratch: str | os.PathLike | None = None,
) -> dict[str, object]:
    """Land every source in `sources` and hand each result to `write`; returns what `write` returned, per landing table.

    Every source's exports are read and classified at the same time, on threads sharing
    the Spark session: while one thread waits on the driver (planning, code generation,
    small jobs), another uses the cores. `needs` maps a landing table to the other landing
    tables that must be written before it (its quality rules look them up): its `write`
    is called once theirs returned, and not at all when one of them failed. The result
    follows the order of `sources`; the first failure (in that order) is raised, after
    every thread has stopped. With `concurrent=False` the sources are landed one after
    another, in dependency order. `scratch`: as for land_source.
    """
    names = {landing_table(source): source for source in sources}  # landing table -> source
    after = {name: set((needs or {}).get(name, ())) & names.keys() for name in names}
    order = list(graphlib.TopologicalSorter(after).static_order())  # graphlib.CycleError on a cycle
    written = {name: threading.Event() for name in names}
    failed: set[str] = set()
    returned: dict[str, object] = {}

    def land_one(name: str) -> None:
        try:
            result = land_source(spark, raw_dir, names[name], scratch=scratch)
            for needed in sorted(after[name]):
                written[needed].wait()
                if needed in failed:
                    result.unpersist()
                    raise RuntimeError(f"{name} not written: {needed} failed")
            returned[name] = write(result)
        except BaseException:
            failed.add(name)
            raise
        finally:
            written[name].set()

    if concurrent and len(order) > 1:
        with ThreadPoolExecutor(len(order), thread_name_prefix="stedi-land") as pool:
            futures = {name: pool.submit(land_one, name) for name in order}
        for name in names:  # every thread has stopped: raise the first failure, if any
            futures[name].result()
    else:
        for name in order:
            land_one(name)
    return {name: returned[name] for name in names}
