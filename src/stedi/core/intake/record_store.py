"""The intake's store in the lake: each landed file's parsed records, and deciding from it.

`parse_into_store` writes the normalized records of new and changed files into their store
folders (stedi.core.intake.ledger); `read_store` reads them back; `landing_mode` says whether
a landing table can be kept or added to; `seen_before` decides the new files' records against
the ones stored before; `purge` rewrites a file's folder without the records of erased customers.
"""

from __future__ import annotations

import functools
import hashlib

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from stedi.core import storage
from stedi.core.intake.classify import DUPLICATE, LANDED, normalize_records
from stedi.core.intake.erasure import Erasures
from stedi.core.intake.ledger import STORE_KEY, Ledger, Plan, file_key, staging_folder
from stedi.core.intake.notext import NOT_TEXT, file_content, not_text_units
from stedi.core.intake.record_units import file_units, read_texts, split_file_records
from stedi.core.intake.split import RECORD, UNSPLIT
from stedi.core.raw_files import reported_path
from stedi.core.schemas import spark_schema
from stedi.core.tables import landing_table, table

# Files parsed into the store per write (see parse_into_store).
STORE_BATCH = 200


def store_columns(source: str) -> list[str]:
    names = [f"`{n}`" for n, _ in table(landing_table(source)).columns]
    return [
        *names,
        "reason",
        "kind",
        "source_file",
        "position",
        "CAST(_file_records AS bigint) AS _file_records",
        "raw",
    ]


def parse_into_store(
    spark: SparkSession, source: str, files: list[str], plan: Plan, ledger: Ledger
) -> None:
    """Normalize every record of `files` into each file's store folder (`file=<key>`).

    The usable records of a table whose records cannot be superseded keep no raw text: their
    columns are the record. A file that is not clean JSON lines is cut by split_records first;
    a file that is not UTF-8 text (the ledger's `text`) is not read by the engine: its lines are
    quarantined as `not_text` (`not_text_file`).
    """
    keys = plan.keys
    # Each record's store folder, by a broadcast join on its file (a literal map of hundreds of
    # paths looked up per record cost Sail a minute per million records).
    folders = spark.createDataFrame(
        [(reported_path(p), keys[reported_path(p)]) for p in files],
        f"source_file string, {STORE_KEY} string",
    )
    raw = (
        "raw"
        if source == "customer"
        else f"CASE WHEN reason IS NULL AND kind = '{RECORD}' THEN NULL ELSE raw END AS raw"
    )

    def stored(frame: DataFrame) -> DataFrame:
        cols = store_columns(source)
        return frame.selectExpr(*cols[:-1], raw).join(F.broadcast(folders), "source_file")

    staging = staging_folder(ledger, source)
    try:
        # A few hundred files per write: the engine keeps a Parquet writer open per store
        # folder of a write, and Sail's memory pool (stedi.engine.session) counts their buffers.
        texts = [p for p in files if plan.entries[reported_path(p)].get("text", True)]
        for start in range(0, len(texts), STORE_BATCH):
            batch = texts[start : start + STORE_BATCH]
            units = normalize_records(file_units(read_texts(spark, batch)), source)
            stored(units).write.mode("append").partitionBy(STORE_KEY).parquet(staging)
        for path in sorted(set(files) - set(texts)):  # never given to the engine: notext
            units = normalize_records(not_text_file(spark, path), source)
            stored(units).write.mode("append").partitionBy(STORE_KEY).parquet(staging)
        plan.repaired = []
        if not storage.list_folders(staging):  # nothing but blank files
            return
        whole = (
            spark.read.parquet(staging)
            .where(F.col("kind") == UNSPLIT)
            .select("source_file", "raw", STORE_KEY)
        )
        repaired = sorted(
            {row["source_file"] for row in whole.select("source_file").distinct().collect()}
        )
        if repaired:
            pieces = normalize_records(
                split_file_records(whole.select("source_file", "raw")), source
            )
            scratch = f"{staging}-repaired"
            stored(pieces).write.partitionBy(STORE_KEY).parquet(scratch)
            for path in repaired:
                key = keys[path]
                storage.remove_folder(f"{staging}/{STORE_KEY}={key}")
                if storage.folder_exists(f"{scratch}/{STORE_KEY}={key}"):
                    storage.move_folder(
                        f"{scratch}/{STORE_KEY}={key}", f"{staging}/{STORE_KEY}={key}"
                    )
            storage.remove_folder(scratch)
        plan.repaired = repaired
        for path in files:
            key = keys[reported_path(path)]
            if storage.folder_exists(f"{staging}/{STORE_KEY}={key}"):
                target = ledger.store_folder(source, key)
                storage.remove_folder(target)  # a killed run's leftover under the same key
                storage.move_folder(f"{staging}/{STORE_KEY}={key}", target)
    finally:
        storage.remove_folder(staging)


def not_text_file(spark: SparkSession, path: str) -> DataFrame:
    """The record units of a file that is not UTF-8 text (stedi.core.intake.notext), built on the
    driver: one per non-blank line, kind `not_text`, `raw` the escaped line."""
    units = not_text_units(file_content(path))
    rows = [(reported_path(path), number, NOT_TEXT, raw, None, len(units)) for number, raw in units]
    schema = (
        "source_file string, position bigint, kind string, raw string, json string, "
        "_file_records bigint"
    )
    return spark.createDataFrame(rows, schema)


def read_store(
    spark: SparkSession, ledger: Ledger, source: str, plan: Plan, only: list[str] | None = None
) -> DataFrame:
    """The stored records of every live file of `source` (replaced and leftover folders left out),
    or of the files whose store keys are `only`."""
    live = sorted(set(plan.keys.values()) if only is None else set(only))
    folders = {f.rstrip("/").rsplit("/", 1)[-1] for f in storage.list_folders(ledger.store(source))}
    present = [key for key in live if f"{STORE_KEY}={key}" in folders]
    if not present:
        extra = [(c, "string") for c in ("reason", "kind", "source_file")] + [
            ("position", "bigint"),
            ("_file_records", "bigint"),
            ("raw", "string"),
            (STORE_KEY, "string"),
        ]
        return spark.createDataFrame(
            [], spark_schema((*table(landing_table(source)).columns, *extra))
        )
    rows = spark.read.parquet(ledger.store(source))
    if len(present) < len(folders):
        rows = rows.where(F.col(STORE_KEY).isin(present))
    return rows


def keys_hash(keys) -> str:
    """A short hash of a set of store folders (what a landing table version was made from)."""
    return hashlib.sha256(",".join(sorted(keys)).encode("utf-8")).hexdigest()[:16]


def landing_mode(source: str, plan: Plan, base: dict | None, erasures: Erasures | None) -> str:
    """ "keep", "append" or "full" (see land_source)."""
    if not base or plan.full or plan.changed or (erasures and erasures.pending):
        return "full"
    if not plan.todo and base.get("keys") == keys_hash(plan.keys.values()):
        return "keep"
    old = [e["key"] for p, e in plan.entries.items() if p not in plan.todo]
    if source != "customer" and base.get("keys") == keys_hash(old):
        return "append"
    return "full"


def seen_before(decided: DataFrame, old: DataFrame, source: str) -> DataFrame:
    """`decided` (the new files' records), where a landed record whose values a usable record of
    an earlier file holds becomes a duplicate: as if every file were decided at once (the landing
    table holds each value once, whichever file came first)."""
    columns = table(landing_table(source)).columns

    def normal(frame: DataFrame, name: str, typ: str):
        # -0.0 and 0.0 are one value, as in decide_records.
        return frame[name] + F.lit(0.0) if typ in ("double", "float") else frame[name]

    new = (
        decided.where(F.col("status") == LANDED)
        .select("source_file", "position", *[n for n, _ in columns])
        .alias("n")
    )
    usable = old.where(F.col("reason").isNull() & (F.col("kind") == RECORD)).select(
        *[n for n, _ in columns]
    )
    condition = functools.reduce(
        lambda a, b: a & b, [normal(new, n, t).eqNullSafe(normal(usable, n, t)) for n, t in columns]
    )
    seen = new.join(usable, condition, "left_semi").select(
        "source_file", "position", F.lit(True).alias("_seen")
    )
    marked = decided.join(seen, ["source_file", "position"], "left")
    status = F.when(
        F.col("_seen").isNotNull() & (F.col("status") == LANDED), F.lit(DUPLICATE)
    ).otherwise(F.col("status"))
    return marked.withColumn("status", status).drop("_seen")


def purge(
    spark: SparkSession,
    source: str,
    plan: Plan,
    ledger: Ledger,
    erased: dict[str, int],
    condition: Column,
) -> None:
    """Rewrite the store folder of every file that held erased records, without them, under a new
    key.

    The ledger names the new folder once the run commits it; until then the old one stays,
    so a run killed here erases again on resume.
    """
    for path, count in sorted(erased.items()):
        entry = plan.entries[path]
        old = entry["key"]
        new = file_key(path, f"{entry['sha256']}:erased:{entry.get('erased', 0) + count}")
        rows = spark.read.parquet(ledger.store_folder(source, old)).withColumn(
            STORE_KEY, F.lit(old)
        )
        staging = staging_folder(ledger, source)
        try:
            rows.where(~condition).selectExpr(*store_columns(source)).write.parquet(staging)
            target = ledger.store_folder(source, new)
            storage.remove_folder(target)
            if storage.list_files(
                staging
            ):  # an engine may write nothing at all when every record went
                storage.move_folder(staging, target)
        finally:
            storage.remove_folder(staging)
        entry["key"] = new  # the old folder is swept once the ledger names the new one
        entry["erased"] = entry.get("erased", 0) + count
