"""Reading the exports with Spark and cutting them into record units: `source_file`, `position`, `kind`, `raw`.

Every export file is read whole (`wholetext`; gzip decompressed by the engine): one
row per file, named by its path. In the engine (`file_units`), a file whose every line is exactly one flat
JSON object is *clean* (JSON lines, with CRLF endings or a byte-order mark or not)
and is cut into its lines, which are the records. Any other file stays whole (kind
UNSPLIT) until `split_file_records` cuts it with `split_records` in a Python UDF on
the executors (one file per call, files in parallel).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from stedi.core.intake.engines import flat_line_pattern, texts_by_file
from stedi.core.intake.split import RECORD, UNSPLIT, split_records

_SQL_BLANKS = "' \\t\\r\\n'"  # a Spark SQL literal: space, tab, CR, LF

# What split_records returns, as Spark stores it.
_UNITS = T.ArrayType(
    T.StructType(
        [
            T.StructField("position", T.LongType(), False),
            T.StructField("kind", T.StringType(), False),
            T.StructField("raw", T.StringType(), False),
        ]
    )
)


def _split_for_spark(text: str | None) -> list[tuple[int, str, str]]:
    return [tuple(r) for r in split_records(text or "")]


def read_texts(spark: SparkSession, files: list[str]) -> DataFrame:
    """One row per non-empty file: `source_file` (its path) and `text` (its whole content).

    `source_file` is the path as listed, made absolute (engines.reported_path). gzip
    files are decompressed by the engine; a leading byte-order mark is removed. Glob
    characters in the names are escaped: `export[1].json` is that file, not the
    pattern matching `export1.json`.
    """
    return texts_by_file(spark, files).select("source_file", F.regexp_replace("value", "^\ufeff", "").alias("text"))


def file_units(texts: DataFrame) -> DataFrame:
    """The fast path, in the engine: clean files cut into their lines; any other file left whole.

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
        (F.length(F.regexp_replace("_body", flat_line_pattern(texts), "")) == 0).alias("_clean"),
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
