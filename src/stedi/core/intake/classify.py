"""Classifying record units (DataFrame -> DataFrame, Spark SQL): parse, normalize to the canonical
columns, decide.

`normalize_records` parses each record with the declared types and, for the records
that parse does not settle, again as a map whose keys match the canonical columns
case-insensitively, with values coerced to the declared types; it gives each record
its `reason` when it cannot be used. `decide_records` gives each one its status:
landed, quarantined, or an exact duplicate (dropped, counted); for customers, the
latest version per email lands. `classify_records` is the two.
"""

from __future__ import annotations

import functools

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from stedi.context import Engine
from stedi.core.intake.csvtext import FIELD_COUNT, HEADER
from stedi.core.intake.notext import NOT_TEXT
from stedi.core.intake.spark_or_sail import later_copies
from stedi.core.intake.split import NOT_JSON, RECORD, TRUNCATED, UNSPLIT
from stedi.core.tables import REQUIRED_COLUMNS, landing_table, table

# Why a record is quarantined.
REASONS = (
    NOT_TEXT,
    "truncated",
    "not_json",
    FIELD_COUNT,
    HEADER,
    "missing_required_field",
    "bad_type",
    "inexact_number",
    "superseded",
)

# Outcome of a record (UNSPLIT: a whole file waiting for split_records, never in a result).
LANDED, QUARANTINED, DUPLICATE = "landed", "quarantined", "duplicate"
# A record of a customer who asked to be erased: neither landed nor quarantined, its text not kept.
ERASED = "erased"

# The struct parse's column for text it could not read. Spark fills it; Sail leaves it null,
# and needs it not: its typed parse of a record that is not JSON gives no column at all, so
# the record is not settled and the map parse decides. (A key given twice is read differently
# by the two engines, and by Spark's own parses: notes.md.)
_CORRUPT = "_stedi_corrupt_record"

# Spark's parser reads the non-numeric numbers NaN, Infinity, +Infinity and -Infinity (and
# numbers too large for a double) and renders them, as a map's text, in quotes ('"NaN"');
# Sail's rejects the whole record. On a Spark Connect session, a record whose map parse
# failed is parsed again with those values, outside strings, written as the strings Spark
# renders (`"\"NaN\""`; a number with a three-digit exponent as its own text, `"1E400"`): both
# engines then read it, and find those values unusable for a numeric column. (On Spark that
# second parse could never read what the first did not.) Each expression matches a string
# (kept as it is) or such a value; its replacement marks where the value's quotes go, as
# control characters (replacements are read differently by Java and Rust when they hold a
# backslash), which a plain replace then turns into quotes. A record holding a marker is not
# parsed again.
_STRING = r'"(?:[^"\\]|\\.)*"'
_MARKED = (
    # (expression, replacement, markers -> text)
    (
        rf"({_STRING})|(-?\d+(?:\.\d+)?[eE]\+?\d{{3,}})",
        "$1\x03$2\x03",
        (("\x03\x03", ""), ("\x03", '"')),
    ),
    (
        rf"({_STRING})|\+(Infinity)|(-?Infinity|NaN)",
        "$1\x01$2$3\x02",
        (("\x01\x02", ""), ("\x01", '"\\"'), ("\x02", '\\""')),
    ),
)
_MARKERS = ("\x01", "\x02", "\x03")

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _map_parse(raw: Column, *, non_numeric_again: bool) -> Column:
    """`raw` parsed as a JSON object into a map of texts; null when it is not one (see _MARKED)."""
    options = {"allowSingleQuotes": "false"}  # Spark's default accepts them; Python's json does not
    parsed = F.from_json(raw, "map<string,string>", options)
    if not non_numeric_again:
        return parsed
    rendered = raw
    for pattern, replacement, markers in _MARKED:
        rendered = F.regexp_replace(rendered, pattern, replacement)
        for marker, text in markers:
            rendered = F.replace(rendered, F.lit(marker), F.lit(text))
    unmarked = ~functools.reduce(lambda a, b: a | b, [raw.contains(m) for m in _MARKERS])
    return F.coalesce(
        parsed, F.when(unmarked, F.from_json(rendered, "map<string,string>", options))
    )


def _value_sql(name: str) -> str:
    """The text of key `name` in the parsed record `_m`; keys match case-insensitively
    (`timeStamp`)."""
    same_name = (
        f"filter(map_entries(_m), e -> lower(e.key) = '{name.lower()}' AND e.value IS NOT NULL)"
    )
    return f"coalesce(element_at(_m, '{name}'), get({same_name}, 0).value)"


def _coerced_sql(text: str, typ: str) -> tuple[str, str]:
    """(typed value, value present but unusable) for the text column `text` and a declared type."""
    if typ == "string":
        return text, "false"
    if typ == "double":
        number = f"try_cast({text} AS double)"
        usable = (
            f"({number} IS NOT NULL AND NOT isnan({number}) AND abs({number}) != "
            "double('infinity'))"
        )
        return f"CASE WHEN {usable} THEN {number} END", f"({text} IS NOT NULL AND NOT {usable})"
    low, high = (_LONG_MIN, _LONG_MAX) if typ == "bigint" else (_INT_MIN, _INT_MAX)
    # An integer written as such converts directly (the common case); anything else goes
    # through a decimal: 1655564376361.0 and 1.655564376361E12 are the integer
    # 1655564376361, while 1.5, "abc" or an out-of-range number are not usable.
    # Sail casts no exponent (`"1.655564376361E12"`, a string) to a decimal: such a text goes
    # through a double there (exact to 2^53: epoch milliseconds are far below; its bounds are
    # doubles, which Sail does not compare through a decimal). Spark casts it to the decimal,
    # and never reaches that branch.
    direct = f"try_cast({text} AS {typ})"
    number = f"try_cast({text} AS decimal(38, 10))"
    approx = f"try_cast({text} AS double)"
    value = (
        f"CASE WHEN {direct} IS NOT NULL AND NOT contains({text}, '.') THEN {direct} "
        f"WHEN {number} = floor({number}) AND {number} BETWEEN {low} AND {high} THEN CAST({number} "
        f"AS {typ}) "
        f"WHEN {number} IS NULL AND {text} RLIKE '^-?[0-9]+([.][0-9]+)?[eE][-+]?[0-9]+$' "
        f"AND {approx} = floor({approx}) AND {approx} >= double('{low}') AND {approx} < "
        f"double('{high + 1}') "
        f"THEN CAST({approx} AS {typ}) END"
    )
    return value, f"({text} IS NOT NULL AND ({value}) IS NULL)"


# A number in E-notation: the mantissa's digits (the sign and the exponent apart) in group 1.
_E_NOTATION = "^[-+]?([0-9]*[.]?[0-9]*)[eE][-+]?[0-9]+$"


def _inexact_sql(text: str, value: str) -> str:
    """SQL: whether the text of an integer column is an E-notation number whose mantissa shows
    fewer significant digits than its integer value has: `1.65556E+12` (1655560000000, 6
    digits shown of 13) is a number a spreadsheet rounded, not an exact epoch millisecond;
    `1.655564376361E+12` (13 of 13) and `2.18E2` are exact. Digits written as trailing zeros
    count as shown; zero is exact."""
    shown = (
        f"length(regexp_replace(replace(regexp_extract({text}, '{_E_NOTATION}', 1), '.', ''), "
        "'^0+', ''))"
    )
    digits = f"length(replace(CAST({value} AS string), '-', ''))"
    return f"({text} RLIKE '{_E_NOTATION}' AND ({value}) != 0 AND {shown} < {digits})"


def classify_records(records: DataFrame, source: str, *, raw_for: str = "all") -> DataFrame:
    """Normalize records to the canonical columns and decide each one's outcome.

    `records` has `source_file`, `position`, `raw` (the record's text; `value` is
    accepted for it) and optionally `kind` (`record`, `truncated` or `not_json`;
    `record` when absent; for a CSV row also `csvtext.FIELD_COUNT` or `csvtext.HEADER`),
    and optionally `json`: the record as a JSON object when `raw` is not one (a CSV
    row, see csvtext), parsed instead of `raw`. The result has the canonical columns
    of the landing table, `status` (`landed`, `quarantined` or `duplicate`), `reason` (for
    quarantined rows: `not_text`, `truncated`, `not_json`, `csv_field_count`, `csv_header`,
    `missing_required_field`, `bad_type`, `inexact_number` or `superseded`),
    `source_file`, `position` and `raw`, then any other column of `records` but `json`,
    carried through unchanged.

    - `truncated`, `not_json`: as `split_records` marked them; a `record` that is not
      a JSON object (including valid JSON that is not an object) is `not_json`.
    - `not_text`: a line of a file that is not UTF-8 text (kind `not_text`,
    stedi.core.intake.notext).
    - `csv_field_count`, `csv_header`: as `csvtext.split_csv` (or `record_units.file_units`)
      marked them.
    - Keys match the canonical columns case-insensitively (`timeStamp` is
      `timestamp`); other keys are ignored; an explicit null is the same as absent.
    - Values are coerced to the declared type: numbers written as strings, integers
      written as floats (`1655564376361.0`), numbers for string columns (a phone).
    - `missing_required_field`: a required column (tables.REQUIRED_COLUMNS) absent,
      null, or a blank string.
    - `bad_type`: a value that cannot be coerced to its column's type (`"x": "abc"`,
      a non-integral or out-of-range number for an integer column, NaN, infinity).
    - `inexact_number` (a CSV row): an integer column's field in E-notation that shows
      fewer significant digits than the integer has (`1.65556E+12`: see _inexact_sql).
      Not for a JSON record: a JSON number's digits as written are not kept by Sail's
      parser (`1.65556E12` reads as `1655560000000.0`), and a program writing JSON
      does not round a number to a spreadsheet's display.
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
    base = ("source_file", "position", "kind", "raw", "json")
    carried = [f"`{c}`" for c in records.columns if c not in base]
    # What is parsed: a CSV row's JSON object, else the record's own text.
    has_json = "json" in records.columns
    parse_text = F.coalesce(F.col("json"), F.col("raw")) if has_json else F.col("raw")
    columns = table(landing_table(source)).columns
    required = REQUIRED_COLUMNS[source]

    fields = ", ".join(f"`{name}`: {typ}" for name, typ in columns)
    # Spark's JSON parser accepts 'single quotes' by default; Python's json (split_records)
    # does not. Both must agree on what is JSON.
    struct_options = f"map('allowSingleQuotes', 'false', 'columnNameOfCorruptRecord', '{_CORRUPT}')"
    settled = [f"_s.`{name}` IS NOT NULL" for name, _ in columns] + [
        f"NOT isnan(_s.`{name}`) AND abs(_s.`{name}`) != double('infinity')"
        for name, typ in columns
        if typ == "double"
    ]
    parsed = records.selectExpr(
        "source_file",
        "CAST(position AS bigint) AS position",
        f"{kind} AS kind",
        "raw",
        *(["json"] if has_json else []),
        f"{'json IS NOT NULL' if has_json else 'false'} AS _csv_row",
        *carried,
        # A CSV row's values are all strings: the typed parse would settle none of them.
        f"CASE WHEN {kind} = '{RECORD}' AND {'json IS NULL' if has_json else 'true'} AND "
        f"startswith(raw, '{{') "
        f"THEN from_json(raw, 'struct<{fields}, `{_CORRUPT}`: string>', {struct_options}) END AS "
        "_s",
    ).selectExpr(
        "*", f"coalesce(_s.`{_CORRUPT}` IS NULL AND {' AND '.join(settled)}, false) AS _fast"
    )
    # CASE is evaluated lazily: the map parse and the coercions run only for the records
    # the typed struct did not settle (so the text to parse is chosen inside it: a column of
    # it would copy every record's text).
    map_parse = _map_parse(parse_text, non_numeric_again=Engine.of(records) == Engine.SAIL)
    with_map = parsed.select(
        "*", F.when(~F.col("_fast") & (F.col("kind") == RECORD), map_parse).alias("_m")
    )
    texts = with_map.selectExpr(
        "*",
        *[
            f"CASE WHEN NOT _fast THEN {_value_sql(name)} END AS `_t{i}`"
            for i, (name, _) in enumerate(columns)
        ],
    )
    typed, bad, inexact, missing = [], [], [], []
    for i, (name, typ) in enumerate(columns):
        text = f"`_t{i}`"
        value, unusable = _coerced_sql(text, typ)
        typed.append(f"CASE WHEN _fast THEN _s.`{name}` ELSE {value} END AS `{name}`")
        bad.append(unusable)
        if typ in ("bigint", "int"):
            inexact.append(_inexact_sql(text, value))
        if name in required:
            missing.append(
                f"{text} IS NULL" + (f" OR trim({text}) = ''" if typ == "string" else "")
            )
    # A settled record is unusable only when a required text is blank.
    blank = [
        f"trim(_s.`{name}`) = ''" for name, typ in columns if name in required and typ == "string"
    ]
    settled_reason = (
        f"CASE WHEN {' OR '.join(blank)} THEN 'missing_required_field' END" if blank else "NULL"
    )
    reason = (
        f"CASE WHEN _fast THEN {settled_reason} "
        f"WHEN kind = '{UNSPLIT}' THEN NULL "
        f"WHEN kind = '{TRUNCATED}' THEN 'truncated' "
        f"WHEN kind = '{NOT_TEXT}' THEN '{NOT_TEXT}' "
        f"WHEN kind IN ('{FIELD_COUNT}', '{HEADER}') THEN kind "
        f"WHEN kind = '{NOT_JSON}' OR _m IS NULL THEN 'not_json' "
        f"WHEN {' OR '.join(missing)} THEN 'missing_required_field' "
        f"WHEN {' OR '.join(bad)} THEN 'bad_type' "
        f"WHEN _csv_row AND ({' OR '.join(inexact) or 'false'}) THEN 'inexact_number' END"
    )
    return texts.selectExpr(
        *typed, f"{reason} AS reason", "kind", "source_file", "position", "raw", *carried
    )


def decide_records(normalized: DataFrame, source: str, *, raw_for: str = "all") -> DataFrame:
    """Normalized records (normalize_records) -> each one's status: landed, quarantined,
    duplicate (or unsplit, for a whole file still to be cut). See classify_records.

    On a Spark Connect session, building the frame runs one job (spark_or_sail.later_copies counts
    the values' hashes first): build it once and keep the result (spark_or_sail.Storage)."""
    if raw_for not in ("all", "kept"):
        raise ValueError(f"raw_for must be 'all' or 'kept', not {raw_for!r}")
    base = ("source_file", "position", "kind", "raw", "reason")
    columns = table(landing_table(source)).columns
    names = [f"`{name}`" for name, _ in columns]
    carried = [
        f"`{c}`" for c in normalized.columns if c not in base and c not in {n for n, _ in columns}
    ]
    usable = f"(reason IS NULL AND kind != '{UNSPLIT}')"
    raw = "raw"
    if raw_for == "kept" and source != "customer":
        # A usable record lands or is a dropped duplicate: its text is not kept anywhere.
        raw = f"CASE WHEN {usable} THEN NULL ELSE raw END AS raw"
    slim = normalized.selectExpr(*names, "reason", "kind", "source_file", "position", raw, *carried)

    # Exact duplicates among the usable records: the first by (file, position) is kept.
    slim = later_copies(slim, usable, columns)
    status = (
        f"CASE WHEN kind = '{UNSPLIT}' THEN '{UNSPLIT}' WHEN reason IS NOT NULL THEN "
        f"'{QUARANTINED}' "
        f"WHEN _later_copy THEN '{DUPLICATE}' ELSE '{LANDED}' END"
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
