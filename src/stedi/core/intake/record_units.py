"""Reading the exports with Spark and cutting them into record units: `source_file`, `position`,
`kind`, `raw`, `json`.

Every export file is read whole (`wholetext`; gzip decompressed by the engine): one
row per file, named by its path. In the engine (`file_units`), a file whose every line is exactly
one flat JSON object is *clean* (JSON lines, with CRLF endings or a byte-order mark or not)
and is cut into its lines, which are the records; so is a CSV file (`*.csv`, `*.csv.gz`)
without quotes or blank lines, whose rows become JSON objects there (`json`). Any other
file stays whole (kind UNSPLIT) until `split_file_records` cuts it with `split_records`
(JSON) or `csvtext.split_csv` (CSV) in a Python UDF on the executors (one file per call,
files in parallel).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from stedi.core.intake.csvtext import CSV_NAME, DELIMITERS, FIELD_COUNT, is_csv, split_csv
from stedi.core.intake.spark_or_sail import flat_lines, texts_by_file
from stedi.core.intake.split import RECORD, UNSPLIT, split_records

_SQL_BLANKS = "' \\t\\r\\n'"  # a Spark SQL literal: space, tab, CR, LF
_SQL_CHAR = {",": ",", ";": ";", "\t": "\\t"}  # each delimiter inside a Spark SQL literal

# What split_records returns, as Spark stores it.
_UNITS = T.ArrayType(
    T.StructType(
        [
            T.StructField("position", T.LongType(), False),
            T.StructField("kind", T.StringType(), False),
            T.StructField("raw", T.StringType(), False),
            T.StructField("json", T.StringType(), True),
        ]
    )
)


def _split_for_spark(path: str, text: str | None) -> list[tuple]:
    if is_csv(path):
        return [tuple(r) for r in split_csv(text or "")]
    return [(*r, None) for r in split_records(text or "")]


def read_texts(spark: SparkSession, files: list[str]) -> DataFrame:
    """One row per non-empty file: `source_file` (its path) and `text` (its whole content).

    `source_file` is the path as listed, made absolute (spark_or_sail.reported_path). gzip
    files are decompressed by the engine; a leading byte-order mark is removed. Glob
    characters in the names are escaped: `export[1].json` is that file, not the
    pattern matching `export1.json`.
    """
    return texts_by_file(spark, files).select(
        "source_file", F.regexp_replace("value", "^\ufeff", "").alias("text")
    )


def file_units(texts: DataFrame) -> DataFrame:
    """The fast path, in the engine: clean files cut into their lines; any other file left whole.

    A JSON file is clean when every line is exactly one flat JSON object: JSON lines,
    possibly with CRLF endings, a byte-order mark (already removed by read_texts)
    and blank lines at the end. Each of its lines is a record (`kind` RECORD, `raw`
    the line without its line ending and surrounding blanks) and its position is
    its line number.

    A CSV file (csvtext.is_csv) is clean when it holds no quote character, no blank line
    (but at its end) and no lone CR, has a header line and at least one row, and its header
    has no empty name and names no column twice (case-insensitively). Each line after the
    header is a row, cut at the delimiter (csvtext.delimiter_of, from the header line): a
    record when it has as many fields as the header (`json`: the JSON object of header names
    and fields, an empty field null), else of kind csvtext.FIELD_COUNT; `raw` is the line
    without its line ending, `position` its ordinal after the header (as csvtext.split_csv
    numbers rows, which gives the same rows for such a file).

    Any other file (blank lines inside included) is one row of kind UNSPLIT holding the
    whole text, for `split_file_records`.

    Columns: source_file, position, kind, raw, json (null but for CSV records), and
    `_file_records`: the number of records of a clean file, counted on the text (the
    accounting's `read`).
    """
    newlines = "length({0}) - length(replace({0}, '\\n', ''))"
    surveyed = (
        texts.selectExpr("source_file", "text", f"source_file RLIKE '{CSV_NAME}' AS _csv")
        .selectExpr(
            "source_file",
            "text",
            "_csv",
            f"CASE WHEN NOT _csv THEN rtrim({_SQL_BLANKS}, text) END AS _body",
            "CASE WHEN _csv THEN rtrim('\\r\\n', text) END AS _cbody",
        )
        .selectExpr(
            # (The header line by regexp_extract: Sail's split refuses what its substring_index
            # returns.)
            "*",
            "CASE WHEN _csv THEN rtrim('\\r', regexp_extract(_cbody, '^[^\\n]*', 0)) END AS _head",
        )
    )
    most = f"greatest({', '.join(_count('_head', d) for d in DELIMITERS)})"
    # The delimiter the header holds most of; ties go to the first in DELIMITERS
    # (csvtext.delimiter_of).
    cases = [f"WHEN {_count('_head', d)} >= {most} THEN '{_SQL_CHAR[d]}'" for d in DELIMITERS]
    delimiter = f"CASE {' '.join(cases)} END"
    surveyed = surveyed.selectExpr(
        "*", f"CASE WHEN _csv THEN {delimiter} END AS _delim"
    ).selectExpr(
        "*", f"CASE WHEN _csv THEN transform({_split_sql('_head')}, h -> trim(h)) END AS _names"
    )
    csv_clean = (
        "NOT contains(text, '\"') AND contains(_cbody, '\\n') "
        "AND NOT _cbody RLIKE '(^|\\n)[ \\t\\r]*(\\n|$)' AND NOT _cbody RLIKE '\\r[^\\n]' "
        "AND NOT array_contains(_names, '') AND size(array_distinct(transform(_names, n -> "
        "lower(n)))) = size(_names)"
    )
    json_clean = flat_lines(texts, "_body")
    surveyed = surveyed.select(
        "*",
        F.when(F.col("_csv"), F.expr(csv_clean)).otherwise(json_clean).alias("_clean"),
        F.expr(
            f"CASE WHEN _csv THEN {newlines.format('_cbody')} WHEN _body = '' THEN 0 "
            f"ELSE {newlines.format('_body')} + 1 END AS _lines"
        ),
    )
    exploded = surveyed.selectExpr(
        "source_file",
        "_csv",
        "_clean",
        "_lines",
        "_delim",
        "_names",
        "posexplode(CASE WHEN NOT _clean THEN array(text) WHEN _csv THEN slice(split(_cbody, "
        "'\\n'), 2, _lines) "
        "WHEN _body = '' THEN CAST(array() AS array<string>) ELSE split(_body, '\\n') END) AS "
        "(_pos, _piece)",
    ).selectExpr("*", "CASE WHEN _clean AND _csv THEN rtrim('\\r', _piece) END AS _line")
    rows = exploded.selectExpr(
        "*", f"CASE WHEN _clean AND _csv THEN {_split_sql('_line')} END AS _fields"
    )
    csv_kind = f"CASE WHEN size(_fields) = size(_names) THEN '{RECORD}' ELSE '{FIELD_COUNT}' END"
    return rows.selectExpr(
        "source_file",
        "CAST(CASE WHEN _clean THEN _pos + 1 ELSE 0 END AS bigint) AS position",
        f"CASE WHEN NOT _clean THEN '{UNSPLIT}' WHEN _csv THEN {csv_kind} ELSE '{RECORD}' END AS "
        "kind",
        f"CASE WHEN NOT _clean THEN _piece WHEN _csv THEN _line ELSE trim(BOTH {_SQL_BLANKS} FROM "
        "_piece) END AS raw",
        "CASE WHEN _clean AND _csv AND size(_fields) = size(_names) "
        "THEN to_json(map_from_arrays(_names, transform(_fields, f -> nullif(f, '')))) END AS json",
        "CAST(CASE WHEN _clean THEN _lines END AS bigint) AS _file_records",
    )


def _count(column: str, char: str) -> str:
    """SQL: how many times `char` (a delimiter) occurs in `column`."""
    return f"(length({column}) - length(replace({column}, '{_SQL_CHAR[char]}', '')))"


def _split_sql(column: str) -> str:
    """SQL: `column` split at its file's delimiter (`_delim`), empty fields kept (a literal pattern
    per delimiter)."""
    cases = " ".join(
        f"WHEN '{_SQL_CHAR[d]}' THEN split({column}, '{_SQL_CHAR[d]}', -1)" for d in DELIMITERS
    )
    return f"CASE _delim {cases} END"


def split_file_records(files: DataFrame) -> DataFrame:
    """The repair path: `split_records` over each file's text, in a Python UDF on the executors.

    `files` has `source_file` and `raw` (a whole file): a CSV file (csvtext.is_csv) is cut by
    `csvtext.split_csv`, any other by `split_records`. Returns source_file, position, kind,
    raw, json and `_file_records` (how many records were cut from the file).
    """
    split = F.udf(_split_for_spark, _UNITS)
    units = files.select("source_file", split("source_file", "raw").alias("_units")).select(
        "source_file", "_units", F.size("_units").cast("long").alias("_file_records")
    )
    # The count is taken before the explode: an expression over the array next to the
    # explode would make every exploded row carry a copy of the whole array.
    exploded = units.select("source_file", "_file_records", F.explode("_units").alias("_r"))
    return exploded.select(
        "source_file", "_r.position", "_r.kind", "_r.raw", "_r.json", "_file_records"
    )
