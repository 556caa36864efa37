"""raw -> landing: find the exports, split them into records, normalize to the canonical schema, account.

Every record read ends in exactly one of: landed, quarantined (with a reason), or
dropped as an exact duplicate (counted). `IntakeResult.accounting` states the
identity `read = landed + quarantined + duplicates`; `check_accounting` fails when
it does not hold.

How a table is read (each file once):

1. Every export file is read whole (`wholetext`; gzip decompressed by Spark): one
   row per file.
2. In the JVM (`file_units`), each file is checked: a file whose every line is
   exactly one flat JSON object is *clean* (JSON lines, with CRLF endings or a
   byte-order mark or not) and takes the fast path: it is cut into its lines,
   which are the records, parsed by `from_json`. Any other file stays whole.
3. `classify_records`, one DataFrame function for every record: parsed with the
   declared types; a record that parse does not settle is parsed again as a JSON
   object into a map, keys matched to the canonical columns case-insensitively
   (`timeStamp` is `timestamp`), values coerced to the declared types
   (`1655564376361.0` is a bigint, a phone written as a number is a string);
   required keys checked, exact duplicates dropped, for customers the latest
   version per email kept. The result is stored (on the local disk) and counted.
   When every file was clean, that is all: one Spark job.
4. Files that were not clean (objects run together `}{`, separated by commas, a
   JSON array, pretty-printed, a truncated last record, lines that are not JSON,
   ...) come out of step 3 whole, in the cache. `split_records`, a pure Python
   function, cuts each into records in a UDF on the executors (one file per call,
   files in parallel), marking what is not a record; then every record is
   classified again, so that duplicates and customer versions are found across
   all files.

`position` is the 1-based ordinal of a record in its file: records counted in file
order, where a record is one JSON object, one truncated object or one run of text
that is not JSON (up to the end of its line); blank lines and the separators
between objects (`,`, `[`, `]`, whitespace) are not records. In a JSON-lines file
without blank lines this is the line number.

The raw directory is only ever read.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from stedi.core import storage
from stedi.core.tables import REQUIRED_COLUMNS, SOURCES, landing_table, table

RAW_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")

# What a piece of an export file is, as `split_records` sees it.
RECORD = "record"  # one complete JSON object (whether it holds usable values is decided later)
TRUNCATED = "truncated"  # an object that starts but never closes: the file (or its line) ends first
NOT_JSON = "not_json"  # text that is not a JSON object
UNSPLIT = "unsplit"  # a whole file that is not clean JSON lines, still to be cut by split_records

# Why a record is quarantined.
REASONS = ("truncated", "not_json", "missing_required_field", "bad_type", "superseded")

# Outcome of a record (UNSPLIT: a whole file waiting for split_records, never in a result).
LANDED, QUARANTINED, DUPLICATE = "landed", "quarantined", "duplicate"

# JSON whitespace, plus the byte-order mark (tolerated anywhere between records).
_WS = " \t\r\n\ufeff"
_SEPARATORS = re.compile(r"[ \t\r\n\ufeff,\[\]]*")
# A line whose first non-blank character opens an object: the start of the next record.
_RECORD_LINE = re.compile(r"\n[ \t\r\ufeff]*\{")
# Strings (an unterminated one stops at the end of its line) and braces, for finding
# where a broken object ends.
_BROKEN_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"?|[{}]')
_DECODER = json.JSONDecoder()
_GLOB = re.compile(r"([{}\[\]*?\\])")  # Hadoop glob characters in a path

# The fast-path test, in Java regex syntax: a line (and its line end) that is exactly
# one flat JSON object: `{...}` with strings (which cannot span lines) and anything
# but braces, brackets and quotes between (all canonical columns are scalars; a
# stray quote is an unterminated string). A file is clean when removing such lines
# leaves nothing. Possessive quantifiers: linear, no backtracking, and no recursion
# per repetition (a long line cannot overflow the stack).
_JAVA_FLAT_LINE = (
    r'(?md)^[ \t\r]*+\{(?:[^{}\[\]"\n]++|"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+")*+\}[ \t\r]*+(?:\n|\z)'
)
_SQL_BLANKS = "' \\t\\r\\n'"  # a Spark SQL literal: space, tab, CR, LF
# Spark's JSON parser accepts 'single quotes' by default; Python's json (split_records)
# does not. Both must agree on what is JSON.
_JSON_OPTIONS = "map('allowSingleQuotes', 'false')"
_CORRUPT = "_stedi_corrupt_record"  # the struct parse's column for text that is not JSON

_UNITS = T.ArrayType(
    T.StructType(
        [
            T.StructField("position", T.LongType(), False),
            T.StructField("kind", T.StringType(), False),
            T.StructField("raw", T.StringType(), False),
        ]
    )
)

# Where the classified records are kept between the tally, the checks and the writes: on
# the local disk. Building the compressed in-memory cache cost more than reading the disk
# copy back (accelerometer at N=100, intake and landing: 55 s against 59 s), and three
# tables landed at once no longer compete for the driver's heap.
_CACHE_LEVEL = StorageLevel.DISK_ONLY

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class RawInputError(ValueError):
    """The raw directory cannot be used (missing, empty, a table without files)."""


class IntakeAccountingError(RuntimeError):
    """read = landed + quarantined + duplicates does not hold for a table."""


# -- finding the exports --------------------------------------------------------


def raw_files(raw_dir: str | Path, source: str) -> list[str]:
    """The export files of `source`: `<raw>/<source>/*.json` or `<raw>/<source>/landing/*.json`.

    `.jsonl` and gzip-compressed `.json.gz` / `.jsonl.gz` files count too. Names
    starting with `.` or `_` are hidden files (Hadoop's convention, which Spark
    applies even to files named explicitly) and are not exports. `raw_dir` is a
    local folder or an `s3://bucket/prefix` URI (on AWS Glue).
    """
    base = f"{str(raw_dir).rstrip('/')}/{source}"
    if not storage.folder_exists(base):
        raise RawInputError(f"raw directory {raw_dir} has no folder {source}/")
    files = sorted(
        path
        for folder in (base, f"{base}/landing")
        for path in storage.list_files(folder)
        if _is_export(path.rsplit("/", 1)[-1])
    )
    if not files:
        raise RawInputError(f"raw directory {base} has no export files ({', '.join(RAW_SUFFIXES)})")
    return files


def _is_export(name: str) -> bool:
    return name.endswith(RAW_SUFFIXES) and not name.startswith((".", "_"))


def check_raw_dir(raw_dir: str | Path) -> dict[str, list[str]]:
    """Every source's files, or a RawInputError naming what is missing."""
    if not storage.folder_exists(str(raw_dir)):
        raise RawInputError(f"raw directory {raw_dir} does not exist")
    return {source: raw_files(raw_dir, source) for source in SOURCES}


# -- splitting a file into records (pure Python, runs on the executors) ---------


class RawRecord(NamedTuple):
    position: int  # 1-based ordinal in the file
    kind: str  # RECORD, TRUNCATED or NOT_JSON
    raw: str  # the record's text, exactly as in the file (trailing whitespace removed)


def split_records(text: str) -> list[RawRecord]:
    """Cut the text of one export file into records, whatever its layout.

    Handles JSON lines, objects run together (`}{`), objects separated by commas
    and newlines, JSON arrays (compact or pretty-printed), CRLF line endings and
    byte-order marks. Between records, whitespace, `,`, `[` and `]` are separators.
    A `{` starts an object: if it parses, it is a RECORD; if it does not, it is
    TRUNCATED when its braces never close (before the end of its line, or for a
    pretty-printed object before the next object or the end of the file),
    NOT_JSON otherwise. Any other text, up to the end of its line, is NOT_JSON.
    Nothing is dropped: the records' texts and the separators between them make up
    the whole file.
    """
    records: list[RawRecord] = []
    n = len(text)
    i = 0
    while True:
        i = _SEPARATORS.match(text, i).end()
        if i >= n:
            return records
        if text[i] == "{":
            try:
                _, end = _DECODER.raw_decode(text, i)
                kind = RECORD
            except (json.JSONDecodeError, RecursionError):
                end, closed = _broken_object_end(text, i)
                kind = NOT_JSON if closed else TRUNCATED
        else:
            end = text.find("\n", i)
            end = n if end < 0 else end
            kind = NOT_JSON
        records.append(RawRecord(len(records) + 1, kind, text[i:end].rstrip(_WS)))
        i = end


def _broken_object_end(text: str, start: int) -> tuple[int, bool]:
    """Where an object that does not parse ends, and whether its braces close.

    An object that begins with content on its first line (JSON lines, objects run
    together) ends with that line; one whose first line is a bare `{` (pretty-printed)
    ends before the next line that begins with `{`, the next record. Within that, it
    ends at its closing brace (strings taken into account), if it has one. So a
    record cut short never swallows the records after it.
    """
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    if text[start + 1 : line_end].strip(_WS):
        limit = line_end
    else:
        following = _RECORD_LINE.search(text, start + 1)
        limit = following.start() if following else len(text)
    depth = 0
    for token in _BROKEN_TOKENS.finditer(text, start, limit):
        brace = token.group()
        if brace == "{":
            depth += 1
        elif brace == "}":
            depth -= 1
            if depth == 0:
                return token.end(), True
    return limit, False


def _split_for_spark(text: str | None) -> list[tuple[int, str, str]]:
    return [tuple(r) for r in split_records(text or "")]


# -- reading (Spark) ------------------------------------------------------------


def read_texts(spark: SparkSession, files: list[str]) -> DataFrame:
    """One row per non-empty file: `source_file` (its path) and `text` (its whole content).

    gzip files are decompressed by Spark; a leading byte-order mark is removed. Glob
    characters in the names are escaped: Spark would read `export[1].json` as the
    pattern matching `export1.json`.
    """
    literal = [_GLOB.sub(r"\\\1", f) for f in files]
    # input_file_name() is a percent-encoded URI (`file:///...`, `s3://...`); `+` is literal in it.
    path = F.regexp_replace(F.expr("url_decode(replace(input_file_name(), '+', '%2B'))"), "^file:(//)?", "")
    return spark.read.text(literal, wholetext=True).select(
        path.alias("source_file"), F.regexp_replace("value", "^\ufeff", "").alias("text")
    )


def file_units(texts: DataFrame) -> DataFrame:
    """The fast path, in the JVM: clean files cut into their lines; any other file left whole.

    A file is clean when every line is exactly one flat JSON object: JSON lines,
    possibly with CRLF endings, a byte-order mark (already removed by read_texts)
    and blank lines at the end. Each of its lines is a record (`kind` RECORD, `raw`
    the line without its line ending and surrounding blanks) and its position is
    its line number. Any other file (blank lines inside included) is one row of
    kind UNSPLIT holding the whole text, for `split_file_records`.

    Columns: source_file, position, kind, raw, and `_file_records`: the number of
    records of a clean file, counted on the text (the accounting's `read`).
    """
    body = F.expr(f"rtrim({_SQL_BLANKS}, text)")
    newlines = F.length("_body") - F.length(F.replace(F.col("_body"), F.lit("\n"), F.lit("")))
    surveyed = texts.select("source_file", "text", body.alias("_body")).select(
        "source_file",
        "text",
        "_body",
        F.when(F.col("_body") == "", 0).otherwise(newlines + 1).alias("_lines"),
        (F.length(F.regexp_replace("_body", _JAVA_FLAT_LINE, "")) == 0).alias("_clean"),
    )
    clean = F.col("_clean")
    pieces = (
        F.when(~clean, F.array("text"))
        .when(F.col("_body") == "", F.array().cast("array<string>"))
        .otherwise(F.split("_body", "\n"))
    )
    exploded = surveyed.select(
        "source_file", clean.alias("_clean"), "_lines", F.posexplode(pieces).alias("_pos", "_piece")
    )
    return exploded.select(
        "source_file",
        F.when(F.col("_clean"), F.col("_pos") + 1).otherwise(0).cast("long").alias("position"),
        F.when(F.col("_clean"), F.lit(RECORD)).otherwise(F.lit(UNSPLIT)).alias("kind"),
        F.when(F.col("_clean"), F.expr(f"trim(BOTH {_SQL_BLANKS} FROM _piece)")).otherwise(F.col("_piece")).alias("raw"),
        F.when(F.col("_clean"), F.col("_lines")).cast("long").alias("_file_records"),
    )


def split_file_records(files: DataFrame) -> DataFrame:
    """The repair path: `split_records` over each file's text, in a Python UDF on the executors.

    `files` has `source_file` and `raw` (a whole file). Returns source_file, position,
    kind, raw and `_file_records` (how many records `split_records` cut from the file).
    """
    split = F.udf(_split_for_spark, _UNITS)
    units = files.select("source_file", split("raw").alias("_units")).select(
        "source_file", "_units", F.size("_units").cast("long").alias("_file_records")
    )
    # The count is taken before the explode: an expression over the array next to the
    # explode would make every exploded row carry a copy of the whole array.
    exploded = units.select("source_file", "_file_records", F.explode("_units").alias("_r"))
    return exploded.select("source_file", "_r.position", "_r.kind", "_r.raw", "_file_records")


# -- classifying (DataFrame -> DataFrame) ---------------------------------------


def _value_sql(name: str) -> str:
    """The text of key `name` in the parsed record `_m`; keys match case-insensitively (`timeStamp`)."""
    same_name = f"filter(map_entries(_m), e -> lower(e.key) = '{name.lower()}' AND e.value IS NOT NULL)"
    return f"coalesce(element_at(_m, '{name}'), get({same_name}, 0).value)"


def _coerced_sql(text: str, typ: str) -> tuple[str, str]:
    """(typed value, value present but unusable) for the text column `text` and a declared type."""
    if typ == "string":
        return text, "false"
    if typ == "double":
        number = f"try_cast({text} AS double)"
        usable = f"({number} IS NOT NULL AND NOT isnan({number}) AND abs({number}) != double('infinity'))"
        return f"CASE WHEN {usable} THEN {number} END", f"({text} IS NOT NULL AND NOT {usable})"
    low, high = (_LONG_MIN, _LONG_MAX) if typ == "bigint" else (_INT_MIN, _INT_MAX)
    # An integer written as such converts directly (the common case); anything else goes
    # through a decimal: 1655564376361.0 and 1.655564376361E12 are the integer
    # 1655564376361, while 1.5, "abc" or an out-of-range number are not usable.
    direct = f"try_cast({text} AS {typ})"
    number = f"try_cast({text} AS decimal(38, 10))"
    value = (
        f"CASE WHEN {direct} IS NOT NULL AND NOT contains({text}, '.') THEN {direct} "
        f"WHEN {number} = floor({number}) AND {number} BETWEEN {low} AND {high} THEN CAST({number} AS {typ}) END"
    )
    return value, f"({text} IS NOT NULL AND ({value}) IS NULL)"


def classify_records(records: DataFrame, source: str, *, raw_for: str = "all") -> DataFrame:
    """Normalize records to the canonical columns and decide each one's outcome.

    `records` has `source_file`, `position`, `raw` (the record's text; `value` is
    accepted for it) and optionally `kind` (`record`, `truncated` or `not_json`;
    `record` when absent). The result has the canonical columns of the landing
    table, `status` (`landed`, `quarantined` or `duplicate`), `reason` (for
    quarantined rows: `truncated`, `not_json`, `missing_required_field`,
    `bad_type` or `superseded`), `source_file`, `position` and `raw`, then any
    other column of `records`, carried through unchanged.

    - `truncated`, `not_json`: as `split_records` marked them; a `record` that is not
      a JSON object (including valid JSON that is not an object) is `not_json`.
    - Keys match the canonical columns case-insensitively (`timeStamp` is
      `timestamp`); other keys are ignored; an explicit null is the same as absent.
    - Values are coerced to the declared type: numbers written as strings, integers
      written as floats (`1655564376361.0`), numbers for string columns (a phone).
    - `missing_required_field`: a required column (tables.REQUIRED_COLUMNS) absent,
      null, or a blank string.
    - `bad_type`: a value that cannot be coerced to its column's type (`"x": "abc"`,
      a non-integral or out-of-range number for an integer column, NaN, infinity).
    - duplicates: the same canonical record again; the first by (file, position) is
      kept, the others are `duplicate` (dropped, counted).
    - `superseded` (customer): older versions of a customer (same email); the one
      with the latest lastUpdateDate lands (ties: the later in file order).
    - A row of kind `unsplit` (a whole file, see `file_units`) gets status `unsplit`
      and takes no part in the rest.

    `raw_for="kept"` keeps `raw` only where it is still needed (quarantined and
    unsplit rows, and every row of a table whose records can be superseded); it
    is null for the others, which makes what is cached and shuffled much smaller.

    Written as SQL expressions: one analysis per step, whatever the number of columns.
    """
    return decide_records(normalize_records(records, source), source, raw_for=raw_for)


def normalize_records(records: DataFrame, source: str) -> DataFrame:
    """Records -> the canonical columns (typed), `reason` (why unusable, or null), kind,
    source_file, position, raw, then the other columns of `records`.

    Each record is parsed once into a struct of the canonical columns with their
    declared types. A record that parses cleanly with every column present and usable
    (no NaN or infinity) is settled: nothing else is computed for it. Only the others
    (a column absent or null, a key written in another case, a value of another JSON
    type such as a number written as a string, not an object, not JSON) are parsed
    again into a map, where keys are matched case-insensitively and values coerced;
    that second parse decides.
    """
    if "raw" not in records.columns and "value" in records.columns:
        records = records.withColumnRenamed("value", "raw")
    kind = "kind" if "kind" in records.columns else f"'{RECORD}'"
    base = ("source_file", "position", "kind", "raw")
    carried = [f"`{c}`" for c in records.columns if c not in base]
    columns = table(landing_table(source)).columns
    required = REQUIRED_COLUMNS[source]

    fields = ", ".join(f"`{name}`: {typ}" for name, typ in columns)
    struct_options = f"map('allowSingleQuotes', 'false', 'columnNameOfCorruptRecord', '{_CORRUPT}')"
    settled = [f"_s.`{name}` IS NOT NULL" for name, _ in columns] + [
        f"NOT isnan(_s.`{name}`) AND abs(_s.`{name}`) != double('infinity')" for name, typ in columns if typ == "double"
    ]
    parsed = records.selectExpr(
        "source_file",
        "CAST(position AS bigint) AS position",
        f"{kind} AS kind",
        "raw",
        *carried,
        f"CASE WHEN {kind} = '{RECORD}' AND startswith(raw, '{{') "
        f"THEN from_json(raw, 'struct<{fields}, `{_CORRUPT}`: string>', {struct_options}) END AS _s",
    ).selectExpr("*", f"coalesce(_s.`{_CORRUPT}` IS NULL AND {' AND '.join(settled)}, false) AS _fast")
    # CASE is evaluated lazily: the map parse and the coercions run only for the records
    # the typed struct did not settle.
    with_map = parsed.selectExpr(
        "*",
        f"CASE WHEN NOT _fast AND kind = '{RECORD}' THEN from_json(raw, 'map<string,string>', {_JSON_OPTIONS}) END AS _m",
    )
    texts = with_map.selectExpr(
        "*", *[f"CASE WHEN NOT _fast THEN {_value_sql(name)} END AS `_t{i}`" for i, (name, _) in enumerate(columns)]
    )
    typed, bad, missing = [], [], []
    for i, (name, typ) in enumerate(columns):
        text = f"`_t{i}`"
        value, unusable = _coerced_sql(text, typ)
        typed.append(f"CASE WHEN _fast THEN _s.`{name}` ELSE {value} END AS `{name}`")
        bad.append(unusable)
        if name in required:
            missing.append(f"{text} IS NULL" + (f" OR trim({text}) = ''" if typ == "string" else ""))
    # A settled record is unusable only when a required text is blank.
    blank = [f"trim(_s.`{name}`) = ''" for name, typ in columns if name in required and typ == "string"]
    settled_reason = f"CASE WHEN {' OR '.join(blank)} THEN 'missing_required_field' END" if blank else "NULL"
    reason = (
        f"CASE WHEN _fast THEN {settled_reason} "
        f"WHEN kind = '{UNSPLIT}' THEN NULL "
        f"WHEN kind = '{TRUNCATED}' THEN 'truncated' "
        f"WHEN kind = '{NOT_JSON}' OR _m IS NULL THEN 'not_json' "
        f"WHEN {' OR '.join(missing)} THEN 'missing_required_field' "
        f"WHEN {' OR '.join(bad)} THEN 'bad_type' END"
    )
    return texts.selectExpr(*typed, f"{reason} AS reason", "kind", "source_file", "position", "raw", *carried)


def decide_records(normalized: DataFrame, source: str, *, raw_for: str = "all") -> DataFrame:
    """Normalized records (normalize_records) -> each one's status: landed, quarantined,
    duplicate (or unsplit, for a whole file still to be cut). See classify_records."""
    if raw_for not in ("all", "kept"):
        raise ValueError(f"raw_for must be 'all' or 'kept', not {raw_for!r}")
    base = ("source_file", "position", "kind", "raw", "reason")
    columns = table(landing_table(source)).columns
    names = [f"`{name}`" for name, _ in columns]
    carried = [f"`{c}`" for c in normalized.columns if c not in base and c not in {n for n, _ in columns}]
    usable = f"(reason IS NULL AND kind != '{UNSPLIT}')"
    raw = "raw"
    if raw_for == "kept" and source != "customer":
        # A usable record lands or is a dropped duplicate: its text is not kept anywhere.
        raw = f"CASE WHEN {usable} THEN NULL ELSE raw END AS raw"
    slim = normalized.selectExpr(*names, "reason", "kind", "source_file", "position", raw, *carried)

    # Exact duplicates among the usable records: the first by (file, position) is kept. The
    # window sorts the records by their values (user, timestamp, ...): the landing tables are
    # written in that order, which every later step profits from (do not lead the key with a
    # hash: that saved 2 s here and cost 30 s downstream at N=100, see notes.md).
    copy = f"row_number() OVER (PARTITION BY {usable}, {', '.join(names)} ORDER BY source_file, position)"
    status = (
        f"CASE WHEN kind = '{UNSPLIT}' THEN '{UNSPLIT}' WHEN reason IS NOT NULL THEN '{QUARANTINED}' "
        f"WHEN {copy} > 1 THEN '{DUPLICATE}' ELSE '{LANDED}' END"
    )
    tail = ["source_file", "position", "raw", *carried]
    classified = slim.selectExpr(*names, f"{status} AS status", "reason", *tail)

    if source == "customer":
        # The same customer (email) more than once: the latest lastUpdateDate wins.
        latest = (
            f"row_number() OVER (PARTITION BY status = '{LANDED}', email "
            "ORDER BY lastUpdateDate DESC NULLS LAST, source_file DESC, position DESC)"
        )
        classified = classified.selectExpr(
            "*", f"status = '{LANDED}' AND {latest} > 1 AS _superseded"
        ).selectExpr(
            *names,
            f"CASE WHEN _superseded THEN '{QUARANTINED}' ELSE status END AS status",
            "CASE WHEN _superseded THEN 'superseded' ELSE reason END AS reason",
            *tail,
        )
    return classified


# -- the result and its accounting ----------------------------------------------


@dataclass
class IntakeResult:
    """What the intake of one table made of its exports.

    `classified` holds every record read (cached): canonical columns, status,
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
        self.classified.unpersist()


def check_accounting(accounting: dict) -> dict:
    """Fail unless read = landed + quarantined + duplicates_dropped and the reasons add up.

    Returns the accounting unchanged, so that a notebook can show it.
    """
    source = accounting.get("source", "table")
    read, landed = accounting["read"], accounting["landed"]
    quarantined, duplicates = accounting["quarantined"], accounting["duplicates_dropped"]
    reasons = accounting.get("quarantine_reasons", {})
    if read != landed + quarantined + duplicates:
        raise IntakeAccountingError(
            f"intake of {source} does not balance: read {read} != landed {landed} + quarantined "
            f"{quarantined} + duplicates {duplicates} ({read - landed - quarantined - duplicates:+d} unaccounted)"
        )
    if sum(reasons.values()) != quarantined:
        raise IntakeAccountingError(
            f"intake of {source}: quarantine reasons {reasons} add up to {sum(reasons.values())}, "
            f"not to the {quarantined} quarantined"
        )
    # Rows a landing table's quality rules move out carry `quality:<rule>` (stedi.run.step.Step.land).
    unknown = sorted(r for r in set(reasons) - set(REASONS) if not r.startswith("quality:"))
    if unknown:
        raise IntakeAccountingError(f"intake of {source}: unknown quarantine reasons {unknown}")
    return accounting


# -- the intake of one table ----------------------------------------------------


def _tally(classified: DataFrame) -> list:
    """Rows per (file, status, reason), with the file's record count as read (one job)."""
    return (
        classified.groupBy("source_file", "status", "reason")
        .agg(F.count(F.lit(1)).alias("rows"), F.max("_file_records").alias("file_records"))
        .collect()
    )


def land_source(spark: SparkSession, raw_dir: str | Path, source: str) -> IntakeResult:
    """Read every export of `source` once, split and classify each record, and count the outcomes.

    One pass when every file is clean JSON lines: files read whole, cut into lines,
    parsed, classified, cached, counted. Files that are not clean come out of that
    pass as whole texts (status `unsplit`, in the cache: the files are not read
    again); a second pass cuts them with `split_records` on the executors and
    classifies everything again (duplicates and customer versions across files).

    `counts["read"]` is the number of records cut from each file, counted on the
    file (its lines, or what `split_records` returned) before classification;
    landed, quarantined and duplicate are counted on the classified rows.
    """
    started = time.monotonic()
    phases: dict[str, float] = {}
    files = raw_files(raw_dir, source)
    classified = classify_records(file_units(read_texts(spark, files)), source, raw_for="kept").persist(_CACHE_LEVEL)
    tallies = _tally(classified)
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
        reclassified = decide_records(units, source, raw_for="kept").persist(_CACHE_LEVEL)
        tallies = _tally(reclassified)
        classified.unpersist()
        classified = reclassified
        phases["repair"] = time.monotonic() - started - phases["read_and_classify"]

    read_by_file: dict[str, int] = {}
    counts: dict[str, int] = {LANDED: 0, QUARANTINED: 0, DUPLICATE: 0}
    reasons: dict[str, int] = {}
    for row in tallies:
        read_by_file[row["source_file"]] = max(read_by_file.get(row["source_file"], 0), row["file_records"] or 0)
        counts[row["status"]] = counts.get(row["status"], 0) + row["rows"]
        if row["reason"]:
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + row["rows"]
    counts["read"] = sum(read_by_file.values())
    # Every file listed must have been read: those without a record are blank, or hold
    # nothing but separators (`[]`).
    for path in repaired:
        read_by_file.setdefault(path, 0)
    unread = []
    for path in files:
        read_as = path if storage.is_s3(path) else os.path.abspath(path)
        if read_as not in read_by_file:
            if not storage.is_blank(path):
                unread.append(path)
            read_by_file[read_as] = 0
    if unread:
        classified.unpersist()
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
    )
