"""Cutting the text of one CSV export into rows, each a JSON object: pure Python (it runs on the
executors).

A CSV export is a header line naming the columns, then one row per record. `split_csv`
reads it with the `csv` module: the delimiter (comma, semicolon or tab) is the one the
header line holds most of; quoted fields may hold delimiters, doubled quotes and line
breaks; a byte-order mark, CRLF or CR line endings, blank lines (nothing but spaces, tabs
and the line ending) and a missing final newline are accepted. Each row becomes the JSON
object `{header name: field}` with every value a JSON string and an empty field `null`, so
that the classifier (classify.normalize_records) matches the names to the canonical columns
and coerces the values exactly as it does for a JSON record. The row's own text, as written,
is what a quarantine keeps.

`position` is the 1-based ordinal of a row among the file's data rows: the header and blank
lines are not rows. In a file without blank lines or line breaks inside fields, row
`position` is line `position + 1`.

The same rules are applied in the engine by record_units.file_units (the fast path) to a clean
file: no quote character, no blank line inside, a header without empty or repeated names;
any other CSV file comes here.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from typing import NamedTuple

from stedi.core.intake.split import RECORD, TRUNCATED

# What a row of a CSV export is, beside a record (split.RECORD) and a row whose quoted field
# never closes before the end of the file (split.TRUNCATED).
FIELD_COUNT = "csv_field_count"  # a row with more or fewer fields than the header names
HEADER = "csv_header"  # a row of a file whose header names a column twice (case-insensitively)

DELIMITERS = (",", ";", "\t")  # in the order that breaks a tie
_BLANK = " \t\r\n"


class CsvRow(NamedTuple):
    position: int  # 1-based ordinal among the data rows
    kind: str  # split.RECORD, split.TRUNCATED, FIELD_COUNT or HEADER
    raw: str  # the row as written, without its line ending
    json: str | None  # the row as a JSON object (a RECORD only)


# A CSV export's name, as a regular expression both engines and Python read the same way.
CSV_NAME = "[.]csv([.]gz)?$"


def is_csv(path: str) -> bool:
    return re.search(CSV_NAME, path) is not None


def delimiter_of(header_line: str) -> str:
    """The delimiter the header line holds most of (a comma when it holds none)."""
    return max(DELIMITERS, key=header_line.count)


def header_names(fields: list[str]) -> list[str]:
    """The column names of a header row: each field without surrounding spaces."""
    return [field.strip(" ") for field in fields]


def split_csv(text: str) -> list[CsvRow]:
    """Cut the text of one CSV export into its data rows.

    The first line that is not blank is the header (one line). A row with as many fields as
    the header has names is a record (`record`), its JSON object holding every named field
    (an empty name names nothing). A row with another number of fields is `csv_field_count`;
    every row of a file whose header names a column twice (case-insensitively) is
    `csv_header`. A row whose quoted field is still open at the end of the file (an odd
    number of quote characters from its start to the end of the file), or holds a field
    larger than the `csv` module accepts, is `truncated`: it is cut back to its first line
    and reading goes on with the next line, so it never swallows the rows after it.
    Nothing is dropped but blank lines and the header.
    """
    lines = list(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    first = next((i for i, line in enumerate(lines) if line.strip(_BLANK)), len(lines))
    if first == len(lines):
        return []
    delimiter = delimiter_of(lines[first])
    names = header_names(next(_reader([lines[first]], delimiter)))
    named = [name.lower() for name in names if name]
    twice = len(set(named)) < len(named)
    rows: list[CsvRow] = []
    start = first + 1
    while start < len(lines):
        for row_start, end, fields in _rows(lines, start, delimiter):
            raw = "".join(lines[row_start:end])
            start = end
            if fields is None or (end == len(lines) and raw.count('"') % 2):
                start = row_start + 1  # a quote that never closes: its line alone, then the next
                rows.append(CsvRow(len(rows) + 1, TRUNCATED, lines[row_start].rstrip("\r\n"), None))
                break
            if not raw.strip(_BLANK):
                continue
            raw = raw.rstrip("\r\n")
            if twice:
                rows.append(CsvRow(len(rows) + 1, HEADER, raw, None))
            elif len(fields) != len(names):
                rows.append(CsvRow(len(rows) + 1, FIELD_COUNT, raw, None))
            else:
                record = {name: value or None for name, value in zip(names, fields) if name}
                rows.append(CsvRow(len(rows) + 1, RECORD, raw, json.dumps(record)))
    return rows


def _reader(lines, delimiter: str):
    return csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)


def _rows(lines: list[str], start: int, delimiter: str):
    """(first line, line after it, fields) of each row from line `start` on; fields None for a
    row the csv module refuses (a field over its size limit: a quote that does not close),
    which ends the rows."""
    reader = _reader(itertools.islice(lines, start, None), delimiter)
    row_start = start
    try:
        for fields in reader:
            end = start + reader.line_num
            yield row_start, end, fields
            row_start = end
    except csv.Error:
        yield row_start, row_start + 1, None
