"""raw -> landing: find the exports, parse them, normalize to the canonical schema, account.

Every record read ends in exactly one of: landed, quarantined (with a reason), or
dropped as an exact duplicate (counted). `IntakeResult.accounting` states the
identity `read = landed + quarantined + duplicates`.

The raw directory is only ever read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from stedi.schemas import spark_schema
from stedi.tables import REQUIRED_COLUMNS, SOURCES, landing_table, table

RAW_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
CORRUPT = "_corrupt_record"


class RawInputError(ValueError):
    """The raw directory cannot be used (missing, empty, a table without files)."""


def raw_files(raw_dir: str | Path, source: str) -> list[str]:
    """The export files of `source`: `<raw>/<source>/*.json` or `<raw>/<source>/landing/*.json`."""
    base = Path(raw_dir) / source
    if not base.is_dir():
        raise RawInputError(f"raw directory {raw_dir} has no folder {source}/")
    files = sorted(
        str(p)
        for folder in (base, base / "landing")
        if folder.is_dir()
        for p in folder.iterdir()
        if p.is_file() and p.name.endswith(RAW_SUFFIXES)
    )
    if not files:
        raise RawInputError(f"raw directory {base} has no export files ({', '.join(RAW_SUFFIXES)})")
    return files


def check_raw_dir(raw_dir: str | Path) -> dict[str, list[str]]:
    """Every source's files, or a RawInputError naming what is missing."""
    if not Path(raw_dir).is_dir():
        raise RawInputError(f"raw directory {raw_dir} does not exist")
    return {source: raw_files(raw_dir, source) for source in SOURCES}


def classify_records(lines: DataFrame, source: str) -> DataFrame:
    """Parse JSON-lines text into the canonical columns plus `status` and `reason`.

    `lines` has `value` (one line of text), `source_file` and `position` (line number).
    status is `landed`, `quarantined` or `duplicate`; quarantined rows carry a reason:
    `not_json`, `missing_required_field`, or `superseded` (an older version of a customer).
    """
    columns = table(landing_table(source)).columns
    schema = T.StructType(spark_schema(columns).fields + [T.StructField(CORRUPT, T.StringType())])
    parsed = lines.where(F.trim("value") != "").withColumn(
        "_rec", F.from_json("value", schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT})
    )
    names = [name for name, _ in columns]
    flat = parsed.select("value", "source_file", "position", *[F.col(f"_rec.{n}").alias(n) for n in names], F.col(f"_rec.{CORRUPT}").alias(CORRUPT))
    missing = F.lit(False)
    for name in REQUIRED_COLUMNS[source]:
        missing = missing | F.col(name).isNull()
    reason = F.when(F.col(CORRUPT).isNotNull(), "not_json").when(missing, "missing_required_field")
    flat = flat.withColumn("reason", reason)

    # Exact duplicates: the same canonical record again; the first by (file, position) is kept.
    first = Window.partitionBy(*names).orderBy("source_file", "position")
    flat = flat.withColumn(
        "_copy", F.when(F.col("reason").isNull(), F.row_number().over(first)).otherwise(F.lit(1))
    )
    status = F.when(F.col("reason").isNotNull(), "quarantined").when(F.col("_copy") > 1, "duplicate")
    flat = flat.withColumn("status", F.coalesce(status, F.lit("landed")))

    if source == "customer":
        # The same customer (email) more than once: the latest lastUpdateDate wins.
        latest = Window.partitionBy("email").orderBy(
            F.col("lastUpdateDate").desc_nulls_last(), F.col("source_file").desc(), F.col("position").desc()
        )
        rank = F.when(F.col("status") == "landed", F.row_number().over(latest))
        flat = flat.withColumn("_rank", rank)
        superseded = (F.col("status") == "landed") & (F.col("_rank") > 1)
        flat = flat.withColumn("reason", F.when(superseded, "superseded").otherwise(F.col("reason")))
        flat = flat.withColumn("status", F.when(superseded, "quarantined").otherwise(F.col("status")))
    return flat.select(*names, "status", "reason", "source_file", "position", F.col("value").alias("raw"))


@dataclass
class IntakeResult:
    source: str
    classified: DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def landed(self) -> DataFrame:
        names = [n for n, _ in table(landing_table(self.source)).columns]
        return self.classified.where(F.col("status") == "landed").select(*names)

    @property
    def quarantined(self) -> DataFrame:
        return self.classified.where(F.col("status") == "quarantined").select(
            "source_file", "position", "reason", "raw"
        )

    def accounting(self) -> dict:
        read = self.counts.get("read", 0)
        landed = self.counts.get("landed", 0)
        quarantined = self.counts.get("quarantined", 0)
        duplicates = self.counts.get("duplicate", 0)
        return {
            "read": read,
            "landed": landed,
            "quarantined": quarantined,
            "duplicates_dropped": duplicates,
            "quarantine_reasons": dict(sorted(self.reasons.items())),
            "balanced": read == landed + quarantined + duplicates,
            "seconds": round(self.seconds, 2),
        }


def read_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """The files' lines with their file and line number (1-based).

    Line numbers need each file's lines in order: one file is read by one task
    (`wholetext` would hold whole files in memory; instead lines are numbered
    within the file's single split, which holds for files below the split size).
    """
    text = spark.read.option("lineSep", "\n").text(files)
    text = text.withColumn("source_file", F.input_file_name())
    in_file = Window.partitionBy("source_file").orderBy(F.monotonically_increasing_id())
    return text.withColumn("position", F.row_number().over(in_file).cast("long")).withColumn(
        "value", F.regexp_replace("value", "\r$", "")
    )


def land_source(spark: SparkSession, raw_dir: str | Path, source: str) -> IntakeResult:
    """Read every export of `source` once, classify each record, and count the outcomes."""
    started = time.monotonic()
    files = raw_files(raw_dir, source)
    classified = classify_records(read_lines(spark, files), source).cache()
    tallies = classified.groupBy("status", "reason").count().collect()
    counts: dict[str, int] = {"read": 0}
    reasons: dict[str, int] = {}
    for row in tallies:
        counts["read"] += row["count"]
        counts[row["status"]] = counts.get(row["status"], 0) + row["count"]
        if row["reason"]:
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + row["count"]
    return IntakeResult(source, classified, counts, reasons, time.monotonic() - started)
