"""Landing a source: read its exports once, classify every record, count the outcomes; every source
at once.

`land_source` returns an IntakeResult: the classified records (kept on the local
disk: spark_or_sail.Storage) and their counts. `land_all` lands several sources at the same time and
hands each result to the caller's `write`, in the order the tables depend on each
other.
"""

from __future__ import annotations

import graphlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from stedi.core import storage
from stedi.core.intake.accounting import tally
from stedi.core.intake.classify import (
    DUPLICATE,
    ERASED,
    LANDED,
    QUARANTINED,
    decide_records,
)
from stedi.core.intake.erasure import Erasures
from stedi.core.intake.erasure_sql import erased_sql, mentions_column
from stedi.core.intake.ledger import STORE_KEY, Ledger, Plan
from stedi.core.intake.record_store import (
    landing_mode,
    parse_into_store,
    purge,
    read_store,
    seen_before,
)
from stedi.core.intake.spark_or_sail import Storage
from stedi.core.raw_files import RawInputError, raw_files, reported_path
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
    plan: Plan | None = (
        None  # the files landed before, now, changed and missing (stedi.core.intake.ledger)
    )
    # "full", "append" (classified: the new files' records only) or "keep" (nothing to write)
    mode: str = "full"
    base: dict | None = None  # the current landing table's marker (land_source)

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
        erased = self.counts.get(ERASED, 0)
        reasons = dict(sorted(self.reasons.items()))
        return {
            "source": self.source,
            "read": read,
            "landed": landed,
            "quarantined": quarantined,
            "duplicates_dropped": duplicates,
            "erased": erased,
            "quarantine_reasons": reasons,
            "balanced": read == landed + quarantined + duplicates + erased
            and sum(reasons.values()) == quarantined,
            "seconds": round(self.seconds, 2),
            "files": len(self.files),
            "repaired_files": len(self.repaired_files),
            **(
                {"run": {**self.plan.summary(), "mode": self.mode}} if self.plan is not None else {}
            ),
        }

    def unpersist(self) -> None:
        """Drop the kept records (the cache, or the scratch copy): call once the result is
        written."""
        if self.storage is not None:
            self.storage.release()
        elif self.classified is not None:
            self.classified.unpersist()


def land_source(
    spark: SparkSession,
    raw_dir: str | Path,
    source: str,
    *,
    scratch: str | os.PathLike | None = None,
    ledger: Ledger | None = None,
    full: bool = False,
    run_id: str = "",
    erasures: Erasures | None = None,
    base: dict | None = None,
) -> IntakeResult:
    """Read the new exports of `source` once into the store, then decide every record's outcome and
    count them.

    `ledger` (stedi.core.intake.ledger): the lake's memory of the files landed before and
    their parsed records; only new and changed files are read and parsed (`full`: every
    file, the store rebuilt). Without one, a throw-away store: every file is new.

    Parsing a file: one pass when it is clean JSON lines (read whole, cut into lines,
    parsed, normalized); a file that is not clean comes out of that pass whole and is cut
    by `split_records` on the executors, then normalized. Each file's records go to its
    own store folder. Then every record of every live file is decided at once (duplicates
    across files, the latest customer record, erasures) and kept (spark_or_sail.Storage) for the
    tally, the checks and the writes that follow; `unpersist()` drops them.

    `counts["read"]`: the records cut from each live file (those erased from the store
    before this run included); landed, quarantined, duplicate and erased are counted on
    the decided rows (and the ledger, for records erased in earlier runs).

    `base`: what the current landing table was made from (its version's marker: `keys`, the
    hash of the store folders it holds, and its accounting). When it holds exactly the files
    still live and nothing changed, `mode` is "keep" (nothing to write); when only new
    files came (not for customers, whose latest record may change), "append": only the new
    files' records are decided, a record whose values an earlier file already holds being a
    duplicate, and `classified` holds just them. Otherwise "full".
    """
    started = time.monotonic()
    own = ledger is None
    ledger = ledger if ledger is not None else Ledger.temporary()
    kept = Storage(spark, scratch)
    try:
        plan = ledger.plans.get(source) or prepare_source(
            spark, raw_dir, source, ledger, full=full, run_id=run_id
        )
        return _land(spark, source, plan, ledger, kept, started, erasures, base)
    except BaseException:
        kept.release()
        if own:
            ledger.release()
        raise
    finally:
        if own:
            kept.on_release(ledger.release)


def prepare_source(
    spark: SparkSession,
    raw_dir: str | Path,
    source: str,
    ledger: Ledger,
    *,
    full: bool = False,
    run_id: str = "",
) -> Plan:
    """Plan `source` against the ledger and parse its new and changed files into the store; returns
    the plan."""
    started = time.monotonic()
    listed = {reported_path(path): path for path in raw_files(raw_dir, source)}
    plan = ledger.plan(source, list(listed), full=full, run_id=run_id)
    if plan.todo:
        parse_into_store(spark, source, [listed[path] for path in plan.todo], plan, ledger)
    plan.seconds = time.monotonic() - started
    return plan


def _land(
    spark: SparkSession,
    source: str,
    plan: Plan,
    ledger: Ledger,
    kept: Storage,
    started: float,
    erasures: Erasures | None,
    base: dict | None = None,
) -> IntakeResult:
    phases: dict[str, float] = {"parse": round(plan.seconds, 3)}
    erased = F.lit(False)
    fresh = sorted({plan.entries[p]["key"] for p in plan.todo})
    mode = landing_mode(source, plan, base, erasures)
    if mode == "keep":
        return IntakeResult(
            source, None, seconds=time.monotonic() - started, plan=plan, mode=mode, base=base
        )
    if mode == "append":
        old = [e["key"] for p, e in plan.entries.items() if p not in plan.todo]
        decided = seen_before(
            decide_records(
                read_store(spark, ledger, source, plan, only=fresh), source, raw_for="kept"
            ),
            read_store(spark, ledger, source, plan, only=old),
            source,
        )
    else:
        decided = decide_records(read_store(spark, ledger, source, plan), source, raw_for="kept")
    if erasures:
        # Records of erased customers: their columns name them, or their raw text does. Only the
        # files parsed now hold any, unless a request is new (the store is purged once applied).
        erased = F.expr(erased_sql(source, erasures)) | mentions_column(F.col("raw"), erasures)
        if not erasures.pending:
            erased = F.col(STORE_KEY).isin(fresh) & erased
        decided = decided.withColumn(
            "status", F.when(erased, F.lit(ERASED)).otherwise(F.col("status"))
        )
    classified = kept.keep(decided)
    tallies = tally(classified)
    phases["decide"] = round(time.monotonic() - started - phases["parse"], 3)

    read_by_file: dict[str, int] = {}
    erased_by_file: dict[str, int] = {}
    counts: dict[str, int] = {LANDED: 0, QUARANTINED: 0, DUPLICATE: 0, ERASED: 0}
    reasons: dict[str, int] = {}
    for row in tallies:
        # int(): a Spark Connect client returns numpy integers, which JSON (the manifest) refuses.
        rows, path = int(row["rows"]), row["source_file"]
        # A file's records as counted on its text when it was cut (not the rows that came out).
        read_by_file[path] = max(read_by_file.get(path, 0), int(row["file_records"] or 0))
        counts[row["status"]] = counts.get(row["status"], 0) + rows
        if row["status"] == ERASED:
            erased_by_file[path] = erased_by_file.get(path, 0) + rows
        if row["reason"] and row["status"] == QUARANTINED:
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + rows
    # Records erased in earlier runs are no longer in the store: the ledger counts them, and
    # the records each file held when it was parsed.
    for path, entry in plan.entries.items():
        if path not in plan.todo and mode == "full":
            read_by_file[path] = entry["records"]
            counts[ERASED] += entry.get("erased", 0)
    counts["read"] = sum(read_by_file.values())
    # Every file parsed now must have given records, unless it is blank or holds nothing but
    # separators (`[]`).
    unread = []
    for path in plan.todo:
        if path not in read_by_file:
            if path not in plan.repaired and not storage.is_blank(path):
                unread.append(path)
            read_by_file[path] = 0
    if unread:
        raise RawInputError(
            f"Spark did not read {len(unread)} export file(s) of {source}: {', '.join(unread)}"
        )
    for path in plan.todo:
        plan.entries[path]["records"] = read_by_file[path]
    plan.erased = sum(erased_by_file.values())
    if erased_by_file:
        purge(spark, source, plan, ledger, erased_by_file, erased)
        phases["erase"] = round(time.monotonic() - started - phases["parse"] - phases["decide"], 3)
    return IntakeResult(
        source,
        classified,
        counts,
        reasons,
        time.monotonic() - started,
        files=sorted(plan.entries),
        repaired_files=list(plan.repaired),
        read_by_file=read_by_file,
        phases=phases,
        storage=kept,
        plan=plan,
        mode=mode,
        base=base,
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
    ledger: Ledger | None = None,
    full: bool = False,
    run_id: str = "",
    erasures: Erasures | None = None,
    bases: Mapping[str, dict] | None = None,
) -> dict[str, object]:
    """Land every source in `sources` and hand each result to `write`; returns what `write`
    returned, per landing table.

    Every source's exports are read and classified at the same time, on threads sharing
    the Spark session: while one thread waits on the driver (planning, code generation,
    small jobs), another uses the cores. `needs` maps a landing table to the other landing
    tables that must be written before it (its quality rules look them up): its `write`
    is called once theirs returned, and not at all when one of them failed. The result
    follows the order of `sources`; the first failure (in that order) is raised, after
    every thread has stopped. With `concurrent=False` the sources are landed one after
    another, in dependency order. `scratch`, `ledger`, `full`, `run_id`, `erasures`: as for
    land_source (one ledger for every source: the caller commits it once all are written).
    """
    names = {landing_table(source): source for source in sources}  # landing table -> source
    after = {name: set((needs or {}).get(name, ())) & names.keys() for name in names}
    order = list(graphlib.TopologicalSorter(after).static_order())  # graphlib.CycleError on a cycle
    written = {name: threading.Event() for name in names}
    failed: set[str] = set()
    returned: dict[str, object] = {}

    def land_one(name: str) -> None:
        try:
            result = land_source(
                spark,
                raw_dir,
                names[name],
                scratch=scratch,
                ledger=ledger,
                full=full,
                run_id=run_id,
                erasures=erasures,
                base=(bases or {}).get(name),
            )
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
