"""Where the intake's work differs between a classic Spark session and a Spark Connect session.

The intake runs on a classic SparkSession (local Spark, AWS Glue) and on a Spark Connect
session (Sail, the fast local engine). Everything else in the package is written once for
both; these are the places where the classic session keeps a formulation that only Spark
accepts, because it is faster or safer there, and the Connect session gets one that any
engine accepts:

- `texts_by_file`: each export read whole with its path. Classic: one read of every file,
  the path from `input_file_name()` (which Sail lacks). Connect: one read per file, the
  path attached as a literal (a union of per-file reads cost Spark 11 s instead of 3 s
  for 82 files; Sail reads 814 files, 700 MB, in 2 s).
- `flat_lines`: whether every line of a text is one flat JSON object. Classic: Java syntax
  with possessive quantifiers, which do not recurse per repetition (a file that is one long
  line cannot overflow the stack), each line removed. Connect: the same expression without
  them (Sail's Rust regular expressions have none, and are linear), matched once over the
  whole text.
- `Storage`: where the classified records are kept between the tally, the checks and the
  writes. Classic without a scratch folder: Spark's disk cache (`persist`). Otherwise
  (Sail ignores `persist`: every action would parse everything again): written once as
  Parquet to a scratch folder and read back.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from stedi.context import Engine
from stedi.core import storage
from stedi.core.raw_files import reported_path

# Glob characters in a path, each written as a one-character class: `[\[]`, `[\*]`, ...
# (Spark's Hadoop globs and Sail's both read that as the character; `]` alone is literal
# to both). Without it, `export[1].json` would be read as the pattern matching `export1.json`.
_GLOB = re.compile(r"([\\\[{}*?])")

# The classic session's storage: building the compressed in-memory cache cost more than
# reading the disk copy back (accelerometer at N=100, intake and landing: 55 s against 59 s),
# and three tables landed at once no longer compete for the driver's heap.
_CACHE_LEVEL = StorageLevel.DISK_ONLY


def literal_path(path: str) -> str:
    """`path` as a pattern that matches only that file, on Spark and on Sail."""
    return _GLOB.sub(r"[\\\1]", path)


def texts_by_file(spark: SparkSession, files: list[str]) -> DataFrame:
    """`source_file` (reported_path) and `value` (the file's whole text, gzip decompressed) per
    file."""
    if Engine.of(spark) == Engine.SPARK:
        # input_file_name() is a percent-encoded URI (`file:///...`, `s3://...`); `+` is literal in
        # it.
        path = F.regexp_replace(
            F.expr("url_decode(replace(input_file_name(), '+', '%2B'))"), "^file:(//)?", ""
        )
        texts = spark.read.text([literal_path(f) for f in files], wholetext=True)
        return texts.select(path.alias("source_file"), "value")
    reads = [_whole_file(spark, f) for f in files]
    # A balanced tree of unions: a chain of hundreds of files would nest the plan too deep to send.
    while len(reads) > 1:
        reads = [
            reads[i].union(reads[i + 1]) if i + 1 < len(reads) else reads[i]
            for i in range(0, len(reads), 2)
        ]
    return reads[0]


def _whole_file(spark: SparkSession, path: str) -> DataFrame:
    """One file's text, as one row, on an engine whose whole-text read may cut it in pieces.

    Sail (0.7) reads a file of more than about 1 MiB in pieces, one row each, cut after a
    line separator: `\\n` by default, so `lineSep` is set to NUL, which text files do not
    hold (Spark ignores `lineSep` when it reads whole texts). A file that does hold NULs may
    still come in pieces, which cannot be put back in order (Sail numbers the rows of a
    union in no stable order): each piece is then cut into records of its own, and the
    file's accounting does not balance (IntakeAccountingError) rather than land wrong rows.
    """
    texts = spark.read.text(literal_path(path), wholetext=True, lineSep="\x00")
    return texts.select(F.lit(reported_path(path)).alias("source_file"), "value")


# A line (and its line end) that is exactly one flat JSON object: `{...}` with strings (which
# cannot span lines) and anything but braces, brackets and quotes between (all canonical
# columns are scalars; a stray quote is an unterminated string). `.` and `^` mean the same in
# both syntaxes: any character but `\n` (Java's `d` flag), a line start after `\n`.
_JAVA_FLAT_LINE = (
    r'(?md)^[ \t\r]*+\{(?:[^{}\[\]"\n]++|"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+")*+\}[ \t\r]*+(?:\n|\z)'
)


def flat_lines(frame: DataFrame, column: str) -> Column:
    """Whether every line of the text `column` is one flat JSON object (see _JAVA_FLAT_LINE); an
    empty text is. Classic: every such line removed by Java's `regexp_replace`, nothing must be
    left (possessive quantifiers: no recursion per repetition, so a file that is one long line
    cannot overflow the stack). Connect: one match of the whole text by a sequence of such
    lines, in Rust's syntax (no possessive quantifiers; its engine is linear): half the time
    of the replace, which finds and copies every line (the accelerometer at N=100: 0.7 s
    against 1.4 s).
    """
    if Engine.of(frame) == Engine.SPARK:
        return F.length(F.regexp_replace(column, _JAVA_FLAT_LINE, "")) == 0
    line = (
        _JAVA_FLAT_LINE.replace("(?md)^", "")
        .replace("*+", "*")
        .replace("++", "+")
        .removesuffix(r"(?:\n|\z)")
    )
    return F.col(column).rlike(rf"\A(?:{line}(?:\n|\z))*\z")


# Sail's window keeps state per partition: a window partitioned by all the values has one
# partition per record (8 million at N=100) and cost more than the parse. A few coarse
# partitions, sorted by the values, find the same copies with `lag`.
_COPY_BUCKETS = 16


def later_copies(frame: DataFrame, usable: str, values: list[tuple[str, str]]) -> DataFrame:
    """`frame` with `_later_copy`: whether the record is usable (the SQL condition `usable`) and
    another usable record with the same values (`values`: the columns' names and SQL types)
    comes first by (source_file, position). -0.0 and 0.0 are the same value, as in Spark's
    grouping.

    Classic: `row_number()` over the values, ordered by (source_file, position). The window
    sorts the records by their values (user, timestamp, ...), and the landing tables are
    written in that order, which every later Spark step profits from (do not lead the key with
    a hash: that saved 2 s here and cost 30 s downstream at N=100, see notes.md).

    Connect: one job first counts the usable records per hash of their values (an aggregation
    over one 64-bit column) and brings back the hashes held more than once. Only the records
    with such a hash can be copies: they are sorted by (values, source_file, position) inside a
    few hash buckets, and a record is a later copy when the one before it has the same values
    (`lag`, null-safe); a collision of hashes only adds candidates. Without repeated hashes (the
    usual export) nothing is sorted at all. The accelerometer at N=100 on Sail: 3.4 s against
    9.8 s for sorting every record (notes.md).
    """
    if Engine.of(frame) == Engine.SPARK:
        keys = ", ".join(f"`{name}`" for name, _ in values)
        copy = f"row_number() OVER (PARTITION BY {usable}, {keys} ORDER BY source_file, position)"
        return frame.selectExpr("*", f"coalesce({usable} AND {copy} > 1, false) AS _later_copy")
    # Adding 0.0 turns -0.0 into 0.0 (IEEE 754): Sail sorts and hashes the two apart.
    normal = [
        f"(`{name}` + 0.0)" if typ in ("double", "float") else f"`{name}`" for name, typ in values
    ]
    keys = ", ".join(normal)
    hashed = frame.selectExpr("*", f"CASE WHEN {usable} THEN xxhash64({keys}) END AS _values_hash")
    repeated = (
        hashed.where("_values_hash IS NOT NULL")
        .groupBy("_values_hash")
        .count()
        .where("count > 1")
        .select("_values_hash")
        .toPandas()["_values_hash"]
        .to_numpy()  # Arrow both ways (numpy back): fast even when most records repeat
    )
    if not len(repeated):
        return frame.selectExpr("*", "false AS _later_copy")
    repeated = F.broadcast(frame.sparkSession.createDataFrame(repeated, ["_values_hash"]))
    single = hashed.join(repeated, "_values_hash", "left_anti").drop("_values_hash")
    # Every candidate is usable (only usable records have a hash), and its hash gives its bucket.
    candidates = hashed.join(repeated, "_values_hash", "left_semi")
    window = (
        f"OVER (PARTITION BY pmod(_values_hash, {_COPY_BUCKETS}) ORDER BY {keys}, "
        "source_file, position)"
    )
    same = " AND ".join(f"lag({v}) {window} <=> {v}" for v in normal)
    marked = candidates.selectExpr(
        "*", f"coalesce(lag(true) {window} AND {same}, false) AS _later_copy"
    )
    return single.selectExpr("*", "false AS _later_copy").unionByName(marked.drop("_values_hash"))


class Storage:
    """Keeps DataFrames computed once (the classified records) for the actions that follow.

    `keep(frame)` returns a frame to use instead of `frame`: on a classic session without a
    scratch folder, `frame` persisted on the local disk (filled by the first action); otherwise
    `frame` written as Parquet under `scratch` (now: one job) and read back. `release()` drops
    everything kept. Without `scratch`, a Connect session writes under the system's temporary
    folder: the local engine's disk.
    """

    def __init__(self, spark: SparkSession, scratch: str | os.PathLike | None = None):
        self.spark = spark
        self.scratch = None if scratch is None else str(scratch)
        self.folders: list[str] = []
        self.cached: list[DataFrame] = []
        self._own_scratch: str | None = None
        self._on_release: list = []

    def on_release(self, callback) -> None:
        """Call `callback()` when the kept frames are released (a throw-away store goes with
        them)."""
        self._on_release.append(callback)

    @property
    def writes(self) -> bool:
        """Whether kept frames are written to the scratch folder (else: cached by Spark)."""
        return self.scratch is not None or Engine.of(self.spark) == Engine.SAIL

    def keep(self, frame: DataFrame) -> DataFrame:
        if not self.writes:
            kept = frame.persist(_CACHE_LEVEL)
            self.cached.append(kept)
            return kept
        folder = f"{self._base().rstrip('/')}/{uuid.uuid4().hex}"
        frame.write.parquet(folder)
        self.folders.append(folder)
        return self.spark.read.parquet(folder)

    def release(self) -> None:
        for frame in self.cached:
            frame.unpersist()
        self.cached.clear()
        for folder in self.folders:
            if not storage.is_s3(folder):  # an S3 scratch prefix is its owner's to expire
                shutil.rmtree(folder, ignore_errors=True)
        self.folders.clear()
        if self._own_scratch is not None:
            shutil.rmtree(self._own_scratch, ignore_errors=True)
            self._own_scratch = None
        while self._on_release:
            self._on_release.pop()()

    def _base(self) -> str:
        if self.scratch is not None:
            return self.scratch
        if self._own_scratch is None:
            self._own_scratch = storage.temporary_folder("stedi-intake-")
        return self._own_scratch
