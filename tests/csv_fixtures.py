"""CSV exports built from the real records, in the dialects spreadsheets and CRMs write, and what
must come of them.

Builds on intake_fixtures (its `Export`, drift and defects): `csv_text` writes records in a
`CsvDialect`; `csv_defect_exports` makes one file per dialect and per CSV defect;
`mixed_csv_export` is a CSV file of intake_fixtures.mixed_exports, mixing them.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from intake_fixtures import (
    KEY_DRIFT,
    Export,
    Record,
    canonical,
    columns,
    explicit_nulls,
    float_numbers,
    json_lines,
    older_version,
    with_bad_type,
    without_required,
)


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV export is written: delimiter, quoting, line ending, byte-order mark, header."""

    delimiter: str = ","
    quote_all: bool = False  # every field quoted (else only where needed)
    newline: str = "\n"
    bom: bool = False
    names: str = "declared"  # header names: "declared", "upper", "lower" or "drift" (KEY_DRIFT)
    reverse: bool = False  # columns in reverse order
    blank_lines: bool = False  # a blank line after every fourth row, and blank lines at the end
    final_newline: bool = True


CSV_DIALECTS = {
    "comma": CsvDialect(),
    "semicolon_bom_crlf": CsvDialect(delimiter=";", newline="\r\n", bom=True),
    "tab": CsvDialect(delimiter="\t"),
    "quoted": CsvDialect(quote_all=True),
    "headers": CsvDialect(names="upper", reverse=True),
    "drift": CsvDialect(names="drift", delimiter=";"),
    "blank_lines": CsvDialect(blank_lines=True, final_newline=False),
}


def csv_value(value) -> str:
    """A record's value as a CSV field: null empty, numbers as Python writes them (`-1.0`)."""
    return "" if value is None else str(value)


def csv_lines(source: str, records: list[Record], dialect: CsvDialect = CsvDialect()) -> list[str]:
    """The header line and one line per record (each without its line ending)."""
    names = [name for name, _ in columns(source)]
    order = names[::-1] if dialect.reverse else names
    spell = {
        "declared": lambda n: n,
        "upper": str.upper,
        "lower": str.lower,
        "drift": lambda n: KEY_DRIFT[source].get(n, n),
    }[dialect.names]
    quoting = csv.QUOTE_ALL if dialect.quote_all else csv.QUOTE_MINIMAL

    def line(fields):
        out = io.StringIO()
        csv.writer(out, delimiter=dialect.delimiter, quoting=quoting, lineterminator="").writerow(
            fields
        )
        return out.getvalue()

    header = line([spell(n) for n in order])
    return [header] + [line([csv_value(r.get(n)) for n in order]) for r in records]


def csv_text(
    source: str, records: list[Record], dialect: CsvDialect = CsvDialect(), extra: list[str] = ()
) -> str:
    """A CSV export of `records` in `dialect`, then the raw lines `extra` (rows as written)."""
    lines = csv_lines(source, records, dialect) + list(extra)
    if dialect.blank_lines:
        lines = [
            piece
            for i, line in enumerate(lines)
            for piece in ([line, ""] if i % 4 == 3 else [line])
        ] + ["", "  "]
    text = dialect.newline.join(lines) + (dialect.newline if dialect.final_newline else "")
    return ("\ufeff" if dialect.bom else "") + text


def csv_row(source: str, record: Record, dialect: CsvDialect = CsvDialect()) -> str:
    """One record as a CSV row of `dialect` (no header, no line ending)."""
    return csv_lines(source, [record], dialect)[1]


def exact_e_notation(value: int) -> str:
    """An integer in E-notation with every digit: 1655564376361 -> `1.655564376361E+12`."""
    return f"{Decimal(value):.{len(str(abs(value))) - 1}E}"


def rounded_e_notation(value: int) -> str:
    """An integer as a spreadsheet shows it in scientific format: 1655564376361 -> `1.65556E+12`."""
    return f"{value:.5E}"


def first_integer_column(source: str) -> str:
    return next(name for name, typ in columns(source) if typ == "bigint")


def with_inexact_epoch(source: str, record: Record) -> Record:
    name = first_integer_column(source)
    return {**record, name: rounded_e_notation(record[name])}


def missing_field_row(source: str, record: Record, dialect: CsvDialect = CsvDialect()) -> str:
    """A row with one field fewer than the header."""
    return csv_row(source, record, dialect).rsplit(dialect.delimiter, 1)[0]


def extra_field_row(source: str, record: Record, dialect: CsvDialect = CsvDialect()) -> str:
    return csv_row(source, record, dialect) + dialect.delimiter + "extra"


def unclosed_quote_row(source: str, record: Record) -> str:
    """A row cut off inside its first quoted field: the file ends before the quote closes."""
    row = csv_row(source, record, CsvDialect(quote_all=True))
    row = row[: row.index('"', 1) // 2 + 1]
    assert row.count('"') % 2 == 1, row
    return row


# Values that need quoting: a delimiter, a doubled quote and a line break in a string column.
EMBEDDED = {"customer": "customerName", "accelerometer": "user", "step_trainer": "serialNumber"}


def with_embedded(source: str, record: Record) -> Record:
    name = EMBEDDED[source]
    return {**record, name: f'{record[name]}, "quoted"; and\r\nbroken\tacross lines'}


def csv_defect_exports(source: str, records: list[Record], per_file: int = 12) -> list[Export]:
    """One CSV file per dialect and per CSV defect (and JSON and CSV files of the same records),
    each from its own slice of `records`. `fast`: the files the intake cuts in the engine."""
    slices = iter(records[i : i + per_file] for i in range(0, len(records), per_file))

    def rows(rs):
        return [canonical(source, r) for r in rs]

    exports: list[Export] = []
    for name, dialect in CSV_DIALECTS.items():
        rs = next(slices)
        fast = not (dialect.quote_all or dialect.blank_lines)
        exports.append(Export(f"{name}.csv", csv_text(source, rs, dialect), rows(rs), fast=fast))
    rs = next(slices)
    exports.append(
        Export(
            "gzipped.csv.gz",
            csv_text(source, rs, CSV_DIALECTS["tab"]),
            rows(rs),
            gzip=True,
            fast=True,
        )
    )
    rs = next(slices)
    exports.append(
        Export("in_landing_folder.csv", csv_text(source, rs), rows(rs), folder="landing", fast=True)
    )
    rs = next(slices)
    embedded = [with_embedded(source, r) for r in rs[:3]] + rs[3:]
    exports.append(Export("embedded.csv", csv_text(source, embedded), rows(embedded)))
    rs = next(slices)
    exports.append(
        Export(
            "no_final_newline.csv",
            csv_text(source, rs, CsvDialect(final_newline=False)),
            rows(rs),
            fast=True,
        )
    )
    rs = next(slices)
    exports.append(
        Export(
            "explicit_nulls.csv",
            csv_text(source, [explicit_nulls(source, r) for r in rs]),
            rows(rs),
            fast=True,
        )
    )
    rs = next(slices)
    # Integers as floats, exact E-notation, numbers written as strings where the writer quotes them.
    written = [float_numbers(source, r) for r in rs[:4]]
    written += [
        {**r, first_integer_column(source): exact_e_notation(r[first_integer_column(source)])}
        for r in rs[4:8]
    ]
    exports.append(Export("numbers.csv", csv_text(source, written + rs[8:]), rows(rs), fast=True))
    rs = next(slices)
    junk = [missing_field_row(source, rs[0]), extra_field_row(source, rs[1]), "just one field"]
    exports.append(
        Export(
            "field_count.csv",
            csv_text(source, rs[2:], extra=junk),
            rows(rs[2:]),
            Counter(csv_field_count=3),
            fast=True,
        )
    )
    rs = next(slices)
    inexact = [with_inexact_epoch(source, r) for r in rs[:2]]
    exports.append(
        Export(
            "inexact.csv",
            csv_text(source, inexact + rs[2:]),
            rows(rs[2:]),
            Counter(inexact_number=2),
            fast=True,
        )
    )
    rs = next(slices)
    bad = [with_bad_type(source, r) for r in rs[:2]]
    exports.append(
        Export(
            "bad_type.csv",
            csv_text(source, bad + rs[2:]),
            rows(rs[2:]),
            Counter(bad_type=2),
            fast=True,
        )
    )
    rs = next(slices)
    unusable = [without_required(source, r, k) for k, r in enumerate(rs[:3])]
    exports.append(
        Export(
            "missing_required.csv",
            csv_text(source, unusable + rs[3:]),
            rows(rs[3:]),
            Counter(missing_required_field=3),
            fast=True,
        )
    )
    rs = next(slices)
    copies = [rs[0], rs[1], float_numbers(source, rs[2])]
    exports.append(
        Export("duplicates.csv", csv_text(source, rs + copies), rows(rs), duplicates=3, fast=True)
    )
    rs = next(slices)
    exports.append(
        Export(
            "truncated.csv",
            csv_text(
                source,
                rs[:-1],
                extra=[unclosed_quote_row(source, rs[-1])],
                dialect=CsvDialect(final_newline=False),
            ),
            rows(rs[:-1]),
            Counter(truncated=1),
        )
    )
    rs = next(slices)
    lines = csv_lines(source, rs)
    twice = lines[0] + "," + lines[0].split(",")[0].upper()
    text = "\n".join([twice] + [line + "," + line.split(",")[0] for line in lines[1:]]) + "\n"
    exports.append(Export("header_twice.csv", text, [], Counter(csv_header=len(rs))))
    if source == "customer":
        rs = next(slices)
        text = csv_text(source, [older_version(rs[0])] + rs + [older_version(rs[1])])
        exports.append(Export("superseded.csv", text, rows(rs), Counter(superseded=2), fast=True))
    rs = next(slices)
    # The same records as JSON and as CSV: the CSV copies (the later path) are duplicates.
    exports.append(Export("same_records.json", json_lines(rs), rows(rs)))
    exports.append(
        Export(
            "same_records_again.csv",
            csv_text(source, rs, CSV_DIALECTS["quoted"]),
            duplicates=len(rs),
        )
    )
    return exports


# The dialects of mixed_csv_export's files, in turn: the first is cut in the engine.
MIXED_CSV_DIALECTS = (
    CsvDialect(delimiter=";", newline="\r\n", bom=True, names="drift"),
    CsvDialect(quote_all=True, names="upper", reverse=True),
    CsvDialect(delimiter="\t", names="lower", blank_lines=True, final_newline=False),
)


def mixed_csv_export(source: str, part: list[Record], c: int, copied: Record | None) -> Export:
    """CSV file `c` of mixed_exports: `part` in dialect MIXED_CSV_DIALECTS[c % 3], with integers
    written as floats, a row with a field missing, a rounded epoch, a value of the wrong type,
    a required field empty, copies of two of its rows and of `copied` (a record a JSON file
    lands before it), for customers an older version, and, quoted, a row whose quote never closes.
    The second file is gzipped."""
    dialect = MIXED_CSV_DIALECTS[c % len(MIXED_CSV_DIALECTS)]
    written = [float_numbers(source, r) if k % 3 == 1 else r for k, r in enumerate(part)]
    junk = [
        with_inexact_epoch(source, part[0]),
        with_bad_type(source, part[-1]),
        without_required(source, part[0], c),
    ]
    reasons = Counter(inexact_number=1, bad_type=1, missing_required_field=1, csv_field_count=1)
    copies = part[:2] + ([copied] if copied else [])
    if source == "customer":
        junk.append(older_version(part[-1]))
        reasons["superseded"] += 1
    rows = csv_lines(source, written + junk + copies, dialect)
    rows.insert(3, missing_field_row(source, part[1], dialect))
    extra = []
    if dialect.quote_all:
        extra.append(unclosed_quote_row(source, part[0]))
        reasons["truncated"] += 1
    text = csv_text(source, [], dialect, extra=rows[1:] + extra)
    return Export(
        f"mixed-csv-{c}.csv" + (".gz" if c == 1 else ""),
        text,
        [canonical(source, r) for r in part],
        reasons,
        duplicates=len(copies),
        gzip=c == 1,
        fast=not (dialect.quote_all or dialect.blank_lines),
    )
