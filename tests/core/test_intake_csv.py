"""CSV exports beside JSON: stedi.core.intake.csvtext (pure Python), the CSV rules of classify, and
land_source on CSV.

The directories of CSV exports are landed on the default engine (Sail), as in test_intake.py;
test_intake_engines.py lands the same fixtures (csv_fixtures.csv_defect_exports) on both
engines and compares them record by record, and the messy pipeline build
(test_pipeline.py) lands every real record with CSV files among the JSON ones.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_intake import (
    assert_balanced,
    assert_each_file_as_exported,
    draw_records_in_files,
    land_exports,
    names,
)

import csv_fixtures as cfx
import intake_fixtures as fx
from engines import on
from stedi.core import intake
from stedi.core.intake import csvtext
from stedi.core.intake.ledger import Ledger
from stedi.core.schemas import schema_difference
from stedi.core.tables import SOURCES, landing_table, table
from stedi.lake.catalogs import QUARANTINE_COLUMNS

RECORDS = fx.real_records("accelerometer", 6)


def records_of(rows: list[intake.CsvRow]) -> list[dict]:
    return [json.loads(r.json) for r in rows]


def as_strings(record: dict) -> dict:
    """A record as its CSV row's JSON object holds it: every value a string, nulls null."""
    return {k: None if v is None else str(v) for k, v in record.items()}


# -- split_csv: pure Python, no Spark ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(cfx.CSV_DIALECTS))
def test_split_csv_reads_every_dialect(name):
    dialect = cfx.CSV_DIALECTS[name]
    rows = intake.split_csv(cfx.csv_text("accelerometer", RECORDS, dialect))
    assert [r.position for r in rows] == [1, 2, 3, 4, 5, 6]
    assert {r.kind for r in rows} == {"record"}
    header = (
        cfx.csv_lines("accelerometer", [], dialect)[0].replace('"', "").split(dialect.delimiter)
    )
    spelled = dict(
        zip([n for n, _ in fx.columns("accelerometer")][:: -1 if dialect.reverse else 1], header)
    )
    assert records_of(rows) == [{spelled[k]: v for k, v in as_strings(r).items()} for r in RECORDS]
    # The raw text is the row as written, without its line ending.
    assert [r.raw for r in rows] == cfx.csv_lines("accelerometer", RECORDS, dialect)[1:]


@pytest.mark.parametrize(
    "header, delimiter",
    [("a,b;c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ("a", ","), ("a;b,c", ",")],
)
def test_the_delimiter_is_the_one_the_header_holds_most_of(header, delimiter):
    assert csvtext.delimiter_of(header) == delimiter


def test_line_endings_byte_order_mark_and_blank_lines_do_not_change_the_rows():
    plain = "user,timestamp\na@x,1\nb@x,2\n"
    expected = intake.split_csv(plain)
    for text in (
        "\ufeff" + plain,
        plain.replace("\n", "\r\n"),
        plain.replace("\n", "\r"),
        plain.rstrip("\n"),
        "\n  \n" + plain.replace("a@x,1\n", "a@x,1\n\n \t\n") + "\n\r\n",
    ):
        assert intake.split_csv(text) == expected, repr(text)
    assert [r.raw for r in expected] == ["a@x,1", "b@x,2"]


def test_quoted_fields_hold_delimiters_quotes_and_line_breaks():
    text = 'user;note\n"a;x@y";"say ""hi""\r\nand go"\nb@x;plain\n'
    rows = intake.split_csv(text)
    assert [(r.position, r.kind) for r in rows] == [(1, "record"), (2, "record")]
    assert records_of(rows) == [
        {"user": "a;x@y", "note": 'say "hi"\r\nand go'},
        {"user": "b@x", "note": "plain"},
    ]
    assert rows[0].raw == '"a;x@y";"say ""hi""\r\nand go"'


def test_an_empty_field_is_null_and_an_empty_header_name_names_nothing():
    rows = intake.split_csv('user,x,,y\na@x,,ignored,""\n')
    assert records_of(rows) == [{"user": "a@x", "x": None, "y": None}]


def test_rows_with_another_number_of_fields_are_marked_with_their_text():
    rows = intake.split_csv("user,x\na@x,1\nb@x\nc@x,1,2\nd@x,\n")
    assert [(r.position, r.kind, r.raw) for r in rows] == [
        (1, "record", "a@x,1"),
        (2, "csv_field_count", "b@x"),
        (3, "csv_field_count", "c@x,1,2"),
        (4, "record", "d@x,"),
    ]
    assert rows[1].json is None and rows[3].json == '{"user": "d@x", "x": null}'


def test_a_header_naming_a_column_twice_marks_every_row():
    rows = intake.split_csv("user,x,USER\na@x,1,b@x\nc@x,2,c@x\n")
    assert [(r.kind, r.json) for r in rows] == [("csv_header", None), ("csv_header", None)]


def test_a_quote_that_never_closes_is_its_line_alone():
    # At the end of the file: the row is truncated.
    assert [(r.kind, r.raw) for r in intake.split_csv('user,x\na@x,1\n"b@x,2')] == [
        ("record", "a@x,1"),
        ("truncated", '"b@x,2'),
    ]
    # Before other rows: they are read on their own, not swallowed into its field.
    rows = intake.split_csv('user,x\n"a@x,1\nb@x,2\nc@x,3\n')
    assert [(r.position, r.kind, r.raw) for r in rows] == [
        (1, "truncated", '"a@x,1'),
        (2, "record", "b@x,2"),
        (3, "record", "c@x,3"),
    ]
    # A field over the csv module's size limit is a quote that does not close, too.
    long = '"' + "y" * (csv.field_size_limit() + 10)
    rows = intake.split_csv(f"user,x\na@x,1\n{long}\nb@x,2\n")
    assert [(r.kind, r.raw) for r in rows] == [
        ("record", "a@x,1"),
        ("truncated", long),
        ("record", "b@x,2"),
    ]


@pytest.mark.parametrize("text", ["", "\n\r\n  \n", "user,x\n", "\ufeffuser,x", '"user,x\n'])
def test_files_without_rows_give_none(text):
    assert intake.split_csv(text) == []


def test_the_fast_path_and_split_csv_agree_on_what_a_row_is(sail):
    """A clean CSV cut in the engine gives the rows split_csv gives (kind, raw, JSON object)."""
    text = (
        "user;Timestamp;x;y;z\r\na@x;1655564376361;-1.0;0;\r\n"
        "b@x;1.65556E+12\r\nc@x;1;2;3;4;5;6\r\n\r\n"
    )
    with on("sail"):
        texts = sail.createDataFrame([("/r/a.csv", text)], "source_file string, text string")
        got = intake.file_units(texts).orderBy("position").collect()
    expected = intake.split_csv(text)
    assert [(r.position, r.kind, r.raw) for r in got] == [
        (r.position, r.kind, r.raw) for r in expected
    ]
    assert [r.json and json.loads(r.json) for r in got] == [
        r.json and json.loads(r.json) for r in expected
    ]
    assert {r._file_records for r in got} == {3}


# -- classify: a CSV row's values --------------------------------------------------------


@pytest.mark.slow  # seconds of engine jobs: make test only (keeps make check under 2 min)
def test_csv_values_are_coerced_and_rounded_epochs_caught(sail):
    def row(position, values, raw=None):
        record = dict(zip(("user", "timestamp", "x", "y", "z"), values))
        return (
            "f.csv",
            position,
            "record",
            raw or ",".join(v or "" for v in values),
            json.dumps(record),
        )

    rows = [
        row(1, ["a@x", "1655564376361", "-1.0", "0", "1"]),
        row(2, ["a@x", "1655564376362.0", "-1", "0.0", None]),
        row(3, ["a@x", "1.655564376363E+12", "1e0", "2", "3"]),  # every digit shown: exact
        row(4, ["a@x", "1.65556E+12", "1", "1", "1"]),  # a spreadsheet's rounding
        row(5, ["a@x", "1.6555643763640E12", "1", "1", "1"]),  # a trailing zero counts as shown
        row(6, ["a@x", "1E+13", "1", "1", "1"]),
        row(7, ["a@x", "0E0", "1", "1", "1"]),
        row(8, ["a@x", "1,655,564,376,365", "1", "1", "1"], raw='a@x,"1,655,564,376,365",1,1,1'),
        row(9, [None, "1655564376366", "1", "1", "1"]),
        row(10, ["a@x", "1655564376361", "-1.0", "0", "1"]),  # a copy of 1
    ]
    json_string = ("f.json", 11, "record", '{"user":"b@x","timestamp":"1.65556E+12"}', None)
    with on("sail"):
        schema = "source_file string, position long, kind string, raw string, json string"
        records = sail.createDataFrame(rows + [json_string], schema)
        got = intake.classify_records(records, "accelerometer").orderBy("position").collect()
    assert [(r.position, r.status, r.reason) for r in got] == [
        (1, "landed", None),
        (2, "landed", None),
        (3, "landed", None),
        (4, "quarantined", "inexact_number"),
        (5, "landed", None),
        (6, "quarantined", "inexact_number"),
        (7, "landed", None),
        (8, "quarantined", "bad_type"),
        (9, "quarantined", "missing_required_field"),
        (10, "duplicate", None),
        (11, "landed", None),  # a JSON record: the rule is for CSV fields (see classify)
    ]
    assert [tuple(r[c] for c in names("accelerometer")) for r in got if r.status == "landed"] == [
        ("a@x", 1655564376361, -1.0, 0.0, 1.0),
        ("a@x", 1655564376362, -1.0, 0.0, None),
        ("a@x", 1655564376363, 1.0, 2.0, 3.0),
        ("a@x", 1655564376364, 1.0, 1.0, 1.0),
        ("a@x", 0, 1.0, 1.0, 1.0),
        ("b@x", 1655560000000, None, None, None),
    ]
    assert got[7].raw == 'a@x,"1,655,564,376,365",1,1,1'  # the row as written, not its JSON object


# -- land_source: directories of CSV exports ---------------------------------------------


@pytest.fixture(scope="module")
def csv_defects(sail, tmp_path_factory):
    """One directory, one CSV file per dialect and defect for each table, from disjoint slices of
    the real records."""
    exports, results, outcomes = land_exports(
        sail, tmp_path_factory.mktemp("csv-defects") / "raw", cfx.csv_defect_exports, 300
    )
    with on("sail"):
        quarantined = {
            s: {(r.source_file, r.position): r for r in results[s].quarantined.collect()}
            for s in SOURCES
        }
    return exports, results, outcomes, quarantined


@pytest.mark.parametrize("source", SOURCES)
def test_each_csv_defect_alone(csv_defects, source):
    exports, results, per_file, _ = csv_defects
    result = results[source]
    assert_each_file_as_exported(result, exports[source], per_file[source])
    # The clean CSV files are cut in the engine; quoted ones, blank lines, an open quote,
    # a header naming a column twice, and JSON that is not JSON lines take the repair path.
    repaired = {exports[source][p].name for p in result.repaired_files}
    assert repaired == {
        e.name for e in exports[source].values() if not e.fast and e.name.endswith(".csv")
    }
    with on("sail"):
        assert schema_difference(result.landed.schema, table(landing_table(source)).columns) == []


@pytest.mark.parametrize("source", SOURCES)
def test_csv_quarantine_keeps_file_row_number_reason_and_the_row_as_written(csv_defects, source):
    exports, results, _, quarantined = csv_defects
    with on("sail"):
        assert schema_difference(results[source].quarantined.schema, QUARANTINE_COLUMNS) == []
    rows = quarantined[source]
    by_name = {e.name: (p, e) for p, e in exports[source].items()}
    for name, reason in (
        ("field_count.csv", "csv_field_count"),
        ("inexact.csv", "inexact_number"),
        ("bad_type.csv", "bad_type"),
        ("missing_required.csv", "missing_required_field"),
        ("header_twice.csv", "csv_header"),
        ("truncated.csv", "truncated"),
    ):
        path, export = by_name[name]
        lines = export.text.splitlines()
        found = {position: r for (p, position), r in rows.items() if p == path}
        assert sum(export.reasons.values()) == len(found) > 0, name
        for position, r in found.items():
            # No blank lines or line breaks in fields in these files: row n is line n + 1.
            assert (r.reason, r.raw) == (reason, lines[position]), name
    path, _ = by_name["inexact.csv"]
    assert all("E+12" in r.raw for (p, _), r in rows.items() if p == path)


def test_csv_and_json_of_the_same_records_land_as_the_json_alone(sail, tmp_path):
    source = "customer"
    records = fx.real_records(source, 120)
    json_only, both = tmp_path / "json" / "raw", tmp_path / "both" / "raw"
    for raw in (json_only, both):
        fx.write_exports(
            raw,
            source,
            [fx.Export(f"part-{k}.json", fx.json_lines(records[k::3])) for k in range(3)],
        )
    csv_files = [
        fx.Export(f"{name}.csv", cfx.csv_text(source, records[k::2], dialect))
        for k, (name, dialect) in enumerate(sorted(cfx.CSV_DIALECTS.items()))
    ]
    fx.write_exports(both, source, csv_files)
    with on("sail"):
        alone, mixed = (
            intake.land_source(sail, json_only, source),
            intake.land_source(sail, both, source),
        )
        landed_alone = sorted(tuple(r) for r in alone.landed.collect())
        landed_mixed = sorted(tuple(r) for r in mixed.landed.collect())
    assert landed_mixed == landed_alone == sorted(fx.canonical(source, r) for r in records)
    csv_rows = sum(len(records[k::2]) for k in range(len(csv_files)))
    assert_balanced(
        mixed, Counter(), csv_rows, len(records)
    )  # every CSV row: a copy of a JSON record
    assert_balanced(alone, Counter(), 0, len(records))
    alone.unpersist(), mixed.unpersist()


def test_a_csv_file_is_parsed_once_and_replaced_when_delivered_again(sail, tmp_path):
    """The ledger keys a CSV file by path and content hash, as a JSON one."""
    source = "step_trainer"
    records = fx.real_records(source, 20)
    raw, lake = tmp_path / "raw", tmp_path / "lake"

    def land(part):
        ledger = Ledger(lake)
        with on("sail"):
            result = intake.land_source(sail, raw, source, ledger=ledger)
            landed = sorted(tuple(r) for r in result.landed.collect())
        ledger.commit()
        result.unpersist()
        return result.plan, landed == sorted(fx.canonical(source, r) for r in part)

    fx.Export("export.csv", cfx.csv_text(source, records[:10], cfx.CSV_DIALECTS["quoted"])).write(
        raw, source
    )
    plan, same = land(records[:10])
    assert (len(plan.new), same) == (1, True)
    plan, same = land(records[:10])
    assert (plan.todo, len(plan.unchanged), same) == ([], 1, True)
    fx.Export("export.csv", cfx.csv_text(source, records[10:], cfx.CSV_DIALECTS["tab"])).write(
        raw, source
    )
    plan, same = land(records[10:])
    assert (len(plan.changed), same) == (1, True)


# -- property: random CSV dialects of real records ------------------------------------------


@st.composite
def csv_exports(draw):
    """A table, and 1-3 CSV files holding a slice of its real records in random dialects, gzipped or
    not."""
    source, records, per_file = draw_records_in_files(draw, 40)
    exports = []
    for f, mine in enumerate(per_file):
        dialect = cfx.CsvDialect(
            delimiter=draw(st.sampled_from(csvtext.DELIMITERS)),
            quote_all=draw(st.booleans()),
            newline=draw(st.sampled_from(["\n", "\r\n"])),
            bom=draw(st.booleans()),
            names=draw(st.sampled_from(["declared", "upper", "lower", "drift"])),
            reverse=draw(st.booleans()),
            blank_lines=draw(st.booleans()),
            final_newline=draw(st.booleans()),
        )
        copies = draw(st.integers(0, min(2, len(mine))))
        written = [fx.float_numbers(source, r) if draw(st.booleans()) else r for r in mine]
        gz = draw(st.booleans())
        exports.append(
            fx.Export(
                f"export-{f}.csv" + (".gz" if gz else ""),
                cfx.csv_text(source, written + mine[:copies], dialect),
                duplicates=copies,
                gzip=gz,
                folder=draw(st.sampled_from(["", "landing"])),
            )
        )
    return source, records, exports


@pytest.mark.slow
@settings(max_examples=10, deadline=None)
@given(csv_exports())
def test_any_csv_dialect_lands_the_original_records(sail, tmp_path_factory, case):
    source, records, exports = case
    raw = tmp_path_factory.mktemp("csv-property") / "raw"
    for export in exports:
        export.write(raw, source)
    with on("sail"):
        result = intake.land_source(sail, raw, source)
        landed = sorted(tuple(r) for r in result.landed.collect())
        assert landed == sorted({fx.canonical(source, r) for r in records})
        assert_balanced(result, Counter(), sum(e.duplicates for e in exports), len(landed))
        result.unpersist()
    shutil.rmtree(raw)


# -- the real data -------------------------------------------------------------------------


@pytest.mark.slow
def test_all_real_records_as_csv_in_every_dialect_with_json_land_exactly(sail, tmp_path):
    """Every real record in one CSV file of one dialect (one gzipped), beside JSON files that
    repeat a slice of them, with junk rows: the real counts land, the junk is quarantined."""
    raw = tmp_path / "raw"
    dialects = list(cfx.CSV_DIALECTS.items())
    for source in SOURCES:
        records = fx.real_records(source)
        assert len(records) == fx.REAL_COUNTS[source]
        exports = []
        for k, (name, dialect) in enumerate(dialects):
            part = records[k :: len(dialects)]
            junk = [cfx.missing_field_row(source, part[0], dialect)]
            exports.append(
                fx.Export(
                    f"export-{name}.csv" + (".gz" if k == 0 else ""),
                    cfx.csv_text(
                        source,
                        part + [cfx.with_inexact_epoch(source, part[1])],
                        dialect,
                        extra=junk,
                    ),
                    reasons=Counter(inexact_number=1, csv_field_count=1),
                    gzip=k == 0,
                )
            )
        # 50 records in a JSON file too: one of each pair is a dropped copy.
        exports.append(fx.Export("export.json", fx.json_lines(records[:50])))
        written = fx.write_exports(raw, source, exports)
        with on("sail"):
            result = intake.land_source(sail, raw, source)
            landed = result.landed.collect()
            assert len(landed) == fx.REAL_COUNTS[source]
            assert sorted(tuple(r) for r in landed) == sorted(
                fx.canonical(source, r) for r in records
            )
            assert_balanced(
                result,
                sum((e.reasons for e in written.values()), Counter()),
                50,
                fx.REAL_COUNTS[source],
            )
            result.unpersist()
