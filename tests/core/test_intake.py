"""stedi.core.intake: raw exports -> landing rows, quarantine and accounting, whatever shape the
exports arrived in."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.errors.exceptions.connect import SparkRuntimeException

import intake_fixtures as fx
from engines import on
from stedi.core import intake
from stedi.core.intake import notext
from stedi.core.schemas import schema_difference
from stedi.core.tables import SOURCES, landing_table, table
from stedi.lake.catalogs import QUARANTINE_COLUMNS

# The first lines of an older accelerometer export (data/stedi/raw_samples/test-accelerometer.json):
# `timeStamp` instead of `timestamp`, lines 5 and 6 the same reading, no newline after the last
# line.
RAW_SAMPLE = (
    '{"user":"Christina.Huey@test.com","timeStamp":1655296571764,"x":-1.0,"y":-1.0,"z":-1.0}\n'
    '{"user":"Christina.Huey@test.com","timeStamp":1655296571764,"x":0.0,"y":0.0,"z":0.0}\n'
    '{"user":"Christina.Huey@test.com","timeStamp":1655296571764,"x":0.0,"y":0.0,"z":-1.0}\n'
    '{"user":"Christina.Huey@test.com","timeStamp":1655296575564,"x":0.0,"y":1.0,"z":-1.0}\n'
    '{"user":"Christina.Huey@test.com","timeStamp":1655296575564,"x":1.0,"y":0.0,"z":0.0}\n'
    '{"user":"Christina.Huey@test.com","timeStamp":1655296575564,"x":1.0,"y":0.0,"z":0.0}\n'
    '{"user":"Christina.Huey@test.com","timeStamp":1655296579364,"x":0.0,"y":-1.0,"z":-1.0}'
)


def names(source: str) -> list[str]:
    return [n for n, _ in table(landing_table(source)).columns]


def outcome(result: intake.IntakeResult):
    """Everything the intake decided, collected once: per file, landed rows, reasons and
    duplicates."""
    cols = names(result.source)
    per_file: dict[str, dict] = {}
    for row in result.classified.collect():
        f = per_file.setdefault(
            row["source_file"], {"landed": [], "reasons": Counter(), "duplicates": 0, "rows": []}
        )
        f["rows"].append(row)
        if row["status"] == "landed":
            f["landed"].append(tuple(row[c] for c in cols))
        elif row["status"] == "quarantined":
            f["reasons"][row["reason"]] += 1
        else:
            assert row["status"] == "duplicate", row
            f["duplicates"] += 1
    return per_file


def assert_balanced(
    result: intake.IntakeResult, reasons: Counter, duplicates: int, landed: int
) -> None:
    acc = intake.check_accounting(result.accounting())
    assert acc["balanced"]
    assert acc["landed"] == landed
    assert acc["duplicates_dropped"] == duplicates
    assert acc["quarantine_reasons"] == dict(sorted((+reasons).items()))
    assert acc["read"] == landed + sum(reasons.values()) + duplicates


def assert_each_file_as_exported(
    result: intake.IntakeResult, exports: dict, per_file: dict
) -> None:
    """Each file of one source (path -> intake_fixtures.Export) gave what it was made to give
    (`per_file`: path -> its outcome), its records numbered 1..n, and the source balances."""
    assert set(per_file) == set(exports)
    for path, export in exports.items():
        got = per_file[path]
        assert sorted(got["landed"]) == sorted(export.landed), export.name
        assert got["reasons"] == export.reasons, export.name
        assert got["duplicates"] == export.duplicates, export.name
        positions = sorted(r["position"] for r in got["rows"])
        assert positions == list(range(1, len(positions) + 1)), export.name
    assert_balanced(
        result,
        sum((e.reasons for e in exports.values()), Counter()),
        sum(e.duplicates for e in exports.values()),
        sum(len(e.landed) for e in exports.values()),
    )


# -- split_records: pure Python, no Spark ------------------------------------------

RECORDS = fx.real_records("accelerometer", 5)


@pytest.mark.parametrize("layout", sorted(fx.LAYOUTS))
def test_split_records_finds_every_object_whatever_the_layout(layout):
    text = fx.LAYOUTS[layout](RECORDS)
    for variant in (text, fx.crlf(text), fx.bom(fx.crlf(text))):
        split = intake.split_records(variant)
        assert [r.position for r in split] == [1, 2, 3, 4, 5]
        assert {r.kind for r in split} == {intake.RECORD}
        assert [json.loads(r.raw) for r in split] == RECORDS


def test_split_records_marks_what_is_not_a_record():
    text = "\n".join(
        [
            fx.dumps(RECORDS[0]),
            "this is not json",
            '{"user": broken}',
            fx.dumps(RECORDS[1]) + " trailing words",
            "[" + fx.dumps(RECORDS[2]) + "]",
            fx.cut(fx.dumps(RECORDS[3])),
        ]
    )
    assert intake.split_records(text) == [
        (1, intake.RECORD, fx.dumps(RECORDS[0])),
        (2, intake.NOT_JSON, "this is not json"),
        (3, intake.NOT_JSON, '{"user": broken}'),
        (4, intake.RECORD, fx.dumps(RECORDS[1])),
        (5, intake.NOT_JSON, "trailing words"),
        (6, intake.RECORD, fx.dumps(RECORDS[2])),
        (7, intake.TRUNCATED, fx.cut(fx.dumps(RECORDS[3]))),
    ]


def test_a_line_cut_short_does_not_swallow_the_records_after_it():
    cut = fx.cut(fx.dumps(RECORDS[0]))
    for separator in ("\n", "\r\n"):
        text = separator.join([cut, fx.dumps(RECORDS[1]), fx.dumps(RECORDS[2])])
        assert [(r.kind, r.raw) for r in intake.split_records(text)] == [
            (intake.TRUNCATED, cut),
            (intake.RECORD, fx.dumps(RECORDS[1])),
            (intake.RECORD, fx.dumps(RECORDS[2])),
        ]


def test_a_truncated_pretty_printed_array_ends_in_one_truncated_record():
    text = fx.pretty_array(RECORDS[:3])
    third_x = text.index('"x"', text.index('"x"', text.index('"x"') + 1) + 1)
    split = intake.split_records(text[:third_x])
    assert [r.kind for r in split] == [intake.RECORD, intake.RECORD, intake.TRUNCATED]
    assert split[-1].raw.startswith("{\n") and split[-1].raw.endswith(
        f'"timestamp": {RECORDS[2]["timestamp"]},'
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(fx.LAYOUTS) + ["junk", "cut"]),
            st.integers(0, len(RECORDS) - 1),
            st.integers(1, len(RECORDS)),
        ),
        max_size=6,
    ),
    st.booleans(),
    st.booleans(),
)
def test_split_records_accounts_for_every_character(segments, with_crlf, with_bom):
    """Records' texts plus separators (blanks, `,`, `[`, `]`) are the whole file; objects come back
    whole."""
    parts, expected = [], []
    for kind, start, count in segments:
        if kind == "junk":
            parts.append("not json at all")
        elif kind == "cut":
            parts.append(fx.cut(fx.dumps(RECORDS[start])))
        else:
            chosen = RECORDS[start : start + count]
            parts.append(fx.LAYOUTS[kind](chosen))
            expected.extend(chosen)
    # A cut record swallows what follows on its line; start every segment on its own line.
    text = "\n".join(parts)
    text = fx.crlf(text) if with_crlf else text
    text = fx.bom(text) if with_bom else text
    split = intake.split_records(text)
    assert [r.position for r in split] == list(range(1, len(split) + 1))
    cursor = 0
    for record in split:
        found = text.index(record.raw, cursor)
        assert set(text[cursor:found]) <= set(" \t\r\n\ufeff,[]")
        cursor = found + len(record.raw)
    assert set(text[cursor:]) <= set(" \t\r\n\ufeff,[]")
    assert [json.loads(r.raw) for r in split if r.kind == intake.RECORD] == expected
    assert (
        Counter(r.kind for r in split if r.kind != intake.RECORD)
        == Counter(
            {
                "not_json": sum(k == "junk" for k, _, _ in segments),
                "truncated": sum(k == "cut" for k, _, _ in segments),
            }
        )
        - Counter()
    )


# -- finding the exports, accounting: no Spark ----------------------------------------


def test_raw_files_takes_both_layouts_gzip_and_skips_hidden_files(tmp_path):
    for name in (
        "customer/a.json",
        "customer/landing/b.json.gz",
        "customer/c.jsonl",
        "customer/_d.json",
        "customer/.e.json",
        "customer/notes.txt",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    assert intake.raw_files(tmp_path, "customer") == [
        str(tmp_path / "customer/a.json"),
        str(tmp_path / "customer/c.jsonl"),
        str(tmp_path / "customer/landing/b.json.gz"),
    ]


def test_check_raw_dir_names_what_is_missing(tmp_path):
    with pytest.raises(intake.RawInputError, match="does not exist"):
        intake.check_raw_dir(tmp_path / "nowhere")
    with pytest.raises(intake.RawInputError, match="has no folder customer/"):
        intake.check_raw_dir(tmp_path)
    for source in SOURCES:
        (tmp_path / source).mkdir()
    with pytest.raises(intake.RawInputError, match="has no export files"):
        intake.check_raw_dir(tmp_path)


def test_check_accounting_fails_when_the_identity_does_not_hold():
    good = {
        "source": "accelerometer",
        "read": 10,
        "landed": 6,
        "quarantined": 3,
        "duplicates_dropped": 1,
        "quarantine_reasons": {"not_json": 2, "truncated": 1},
    }
    assert intake.check_accounting(good) is good
    with pytest.raises(
        intake.IntakeAccountingError, match=r"read 11 != landed 6 \+ quarantined 3 \+ duplicates 1"
    ):
        intake.check_accounting({**good, "read": 11})
    with pytest.raises(intake.IntakeAccountingError, match="add up to 2, not to the 3 quarantined"):
        intake.check_accounting({**good, "quarantine_reasons": {"not_json": 2}})
    with pytest.raises(intake.IntakeAccountingError, match="unknown quarantine reasons"):
        intake.check_accounting({**good, "quarantine_reasons": {"not_json": 2, "gremlins": 1}})


# -- classify_records: DataFrame -> DataFrame ------------------------------------------


@pytest.mark.slow  # seconds of engine jobs: make test only (keeps make check under 2 min)
def test_classify_records_normalizes_and_decides_each_record(spark):
    def line(position, raw, kind="record"):
        return ("f.json", position, kind, raw)

    records = spark.createDataFrame(
        [
            line(1, '{"user":"a@x","timestamp":1655564376361,"x":1.0,"y":0.0,"z":-1.0}'),
            line(
                2, '{"user":"a@x","timeStamp":1655564376362.0,"x":"1.5","y":0,"z":null}'
            ),  # drift, coerced
            line(3, '{"USER":"a@x","timestamp":"1.655564376363E12","x":1,"y":2,"z":3,"extra":[1]}'),
            line(
                4, '{"user":"a@x","timestamp":1655564376361,"x":1.0,"y":0.0,"z":-1.0}'
            ),  # copy of 1
            line(
                5, '{"user":"a@x","timestamp":1655564376361.5,"x":1,"y":1,"z":1}'
            ),  # not an integer
            line(6, '{"user":"a@x","timestamp":1655564376364,"x":"abc","y":1,"z":1}'),
            line(7, '{"user":"a@x","timestamp":1655564376365,"x":NaN,"y":1,"z":1}'),
            line(
                8, '{"user":"  ","timestamp":1655564376366,"x":1,"y":1,"z":1}'
            ),  # blank required string
            line(9, '{"timestamp":1655564376367,"x":1,"y":1,"z":1}'),
            line(10, '{"user":null,"timestamp":1655564376368,"x":1,"y":1,"z":1}'),
            line(11, '["user","a@x"]'),
            line(12, "not json"),
            line(13, "not json either", "not_json"),
            line(14, '{"user":"a@x","time', "truncated"),
            line(
                15, '{"user":"a@x","timestamp":99999999999999999999,"x":1,"y":1,"z":1}'
            ),  # out of range
            # Unusable rows are no copies: 16 is bad_type (x unusable), 17 lands with x absent.
            line(16, '{"user":"b@x","timestamp":5,"x":"abc","y":1,"z":1}'),
            line(17, '{"user":"b@x","timestamp":5,"x":null,"y":1,"z":1}'),
            line(
                18, "{'user':'c@x','timestamp':6,'x':1,'y':1,'z':1}"
            ),  # not JSON, as for split_records
        ],
        "source_file string, position long, kind string, raw string",
    )
    got = intake.classify_records(records, "accelerometer").orderBy("position").collect()
    assert [(r.position, r.status, r.reason) for r in got] == [
        (1, "landed", None),
        (2, "landed", None),
        (3, "landed", None),
        (4, "duplicate", None),
        (5, "quarantined", "bad_type"),
        (6, "quarantined", "bad_type"),
        (7, "quarantined", "bad_type"),
        (8, "quarantined", "missing_required_field"),
        (9, "quarantined", "missing_required_field"),
        (10, "quarantined", "missing_required_field"),
        (11, "quarantined", "not_json"),
        (12, "quarantined", "not_json"),
        (13, "quarantined", "not_json"),
        (14, "quarantined", "truncated"),
        (15, "quarantined", "bad_type"),
        (16, "quarantined", "bad_type"),
        (17, "landed", None),
        (18, "quarantined", "not_json"),
    ]
    assert [tuple(r[c] for c in names("accelerometer")) for r in got[:3]] == [
        ("a@x", 1655564376361, 1.0, 0.0, -1.0),
        ("a@x", 1655564376362, 1.5, 0.0, None),
        ("a@x", 1655564376363, 1.0, 2.0, 3.0),
    ]


def test_classify_records_keeps_the_latest_version_of_a_customer(spark):
    def customer(position, updated, phone, email="c@x"):
        record = {"email": email, "serialNumber": "s", "phone": phone, "lastUpdateDate": updated}
        return ("f.json", position, json.dumps(record))

    records = spark.createDataFrame(
        [
            customer(1, 200, "1"),
            customer(2, 100, "2"),  # older: superseded
            customer(3, 300, "3"),  # the latest
            customer(4, 300, "3"),  # the same record again: a duplicate, not a version
            customer(5, "abc", "4"),  # unusable rows do not take part
            customer(6, 100, 5, email="d@x"),
        ],
        "source_file string, position long, raw string",
    )
    got = intake.classify_records(records, "customer").orderBy("position").collect()
    assert [(r.position, r.status, r.reason, r.phone) for r in got] == [
        (1, "quarantined", "superseded", "1"),
        (2, "quarantined", "superseded", "2"),
        (3, "landed", None, "3"),
        (4, "duplicate", None, "3"),
        (5, "quarantined", "bad_type", "4"),
        (6, "landed", None, "5"),
    ]


# -- land_source: directories of messy exports --------------------------------------


def land_all(spark, raw_dir):
    return {source: intake.land_source(spark, raw_dir, source) for source in SOURCES}


# The directories of messy exports are landed on the default engine (Sail): the fast tier's
# time. Spark's intake of the same fixtures is compared with Sail's, record by record, in
# test_intake_engines.py; every real record in a mixed-defect directory lands exactly in
# tests/e2e/test_pipeline.py (test_messy_exports_build_the_same_lake_as_the_clean_ones).


def land_exports(sail, raw, build, limit: int) -> tuple[dict, dict, dict]:
    """`build(source, the first `limit` real records)`'s files of every table written into `raw`
    and landed on Sail: (exports, results, outcomes), each by source."""
    exports = {s: fx.write_exports(raw, s, build(s, fx.real_records(s, limit))) for s in SOURCES}
    with on("sail"):
        results = land_all(sail, raw)
        return exports, results, {s: outcome(results[s]) for s in SOURCES}


@pytest.fixture(scope="module")
def defects(sail, tmp_path_factory):
    """One directory, one file per defect for each table, from disjoint slices of the real
    records."""
    return land_exports(sail, tmp_path_factory.mktemp("defects") / "raw", fx.defect_exports, 260)


@pytest.mark.parametrize("source", SOURCES)
def test_each_defect_alone(defects, source):
    exports, results, per_file = defects
    result = results[source]
    assert_each_file_as_exported(result, exports[source], per_file[source])
    # Only the clean JSON-lines files (CRLF and BOM ones too) take the fast path.
    fast = {p for p in exports[source] if p not in result.repaired_files}
    assert {exports[source][p].name for p in fast} == {
        "clean.json",
        "crlf.json",
        "bom.json",
        "key_drift.json",
        "float_numbers.json",
        "phone_number.json",
        "explicit_nulls.json",
        "missing_required.json",
        "bad_type.json",
        "duplicates.json",
        "superseded.json",
        "gzipped.json.gz",
        "in_landing_folder.json",
    } & {e.name for e in exports[source].values()}


@pytest.mark.parametrize("source", SOURCES)
def test_quarantine_keeps_file_position_reason_and_raw_text(defects, source):
    exports, results, _per_file = defects
    with on("sail"):
        quarantined = results[source].quarantined
        assert schema_difference(quarantined.schema, QUARANTINE_COLUMNS) == []
        rows = {(r.source_file, r.position): r for r in quarantined.collect()}
    by_name = {e.name: (p, e) for p, e in exports[source].items()}

    path, export = by_name["not_json.json"]
    lines = export.text.splitlines()
    for junk in fx.NOT_JSON_LINES:
        position = lines.index(junk) + 1  # a JSON-lines file: the position is the line number
        assert (rows[(path, position)].reason, rows[(path, position)].raw) == ("not_json", junk)

    path, export = by_name["truncated.json"]
    last = len(export.text.splitlines())
    assert rows[(path, last)].reason == "truncated"
    assert export.text.endswith(rows[(path, last)].raw)

    path, export = by_name["bad_type.json"]
    assert [json.loads(rows[(path, p)].raw) for p in (1, 2)] == [
        json.loads(line) for line in export.text.splitlines()[:2]
    ]


@pytest.mark.parametrize("source", SOURCES)
def test_landed_frame_has_exactly_the_declared_columns(defects, source):
    _, results, _ = defects
    with on("sail"):
        assert (
            schema_difference(results[source].landed.schema, table(landing_table(source)).columns)
            == []
        )


@pytest.fixture(scope="module")
def mixed(sail, tmp_path_factory):
    """Every defect at once, in files that mix them; the raw tree fingerprinted before and after."""
    raw = tmp_path_factory.mktemp("mixed") / "raw"
    exports = {
        s: fx.write_exports(raw, s, fx.mixed_exports(s, fx.real_records(s, 300))) for s in SOURCES
    }
    before = fx.tree_fingerprint(raw)
    with on("sail"):
        results = land_all(sail, raw)
        per_file = {s: outcome(results[s]) for s in SOURCES}
        for result in results.values():  # everything a notebook reads from a result
            result.landed.count(), result.quarantined.count()
    return exports, results, per_file, before, fx.tree_fingerprint(raw)


@pytest.mark.parametrize("source", SOURCES)
def test_all_defects_mixed(mixed, source):
    exports, results, per_file, _, _ = mixed
    landed = [row for f in per_file[source].values() for row in f["landed"]]
    expected = [row for e in exports[source].values() for row in e.landed]
    assert sorted(landed) == sorted(expected)
    for path, export in exports[source].items():
        assert per_file[source][path]["reasons"] == export.reasons, export.name
        assert per_file[source][path]["duplicates"] == export.duplicates, export.name
    assert set(results[source].repaired_files) == {
        p for p, e in exports[source].items() if not e.fast
    }
    assert_balanced(
        results[source],
        sum((e.reasons for e in exports[source].values()), Counter()),
        sum(e.duplicates for e in exports[source].values()),
        len(expected),
    )


def test_input_directory_is_unchanged(mixed):
    _, _, _, before, after = mixed
    assert any(kind == "file" for kind, *_ in before.values())
    assert after == before


# -- property: random mixes of layouts over real records --------------------------------

POOL = {s: fx.real_records(s, 150) for s in SOURCES}


def draw_records_in_files(draw, most: int) -> tuple[str, list, list[list]]:
    """A table, a slice of at most `most` of its real records, and those records spread over 1-3
    files."""
    source = draw(st.sampled_from(SOURCES))
    pool = POOL[source]
    count = draw(st.integers(1, most))
    start = draw(st.integers(0, len(pool) - count))
    records = pool[start : start + count]
    files = draw(st.integers(1, 3))
    placed = draw(st.lists(st.integers(0, files - 1), min_size=count, max_size=count))
    return (
        source,
        records,
        [[r for r, where in zip(records, placed) if where == f] for f in range(files)],
    )


@st.composite
def messy_exports(draw):
    """A table, and 1-3 files holding a slice of its real records in random layouts and drift."""
    source, records, per_file = draw_records_in_files(draw, 60)
    exports = []
    for f, mine in enumerate(per_file):
        segments, text_parts, reasons, duplicates = [], [], Counter(), 0
        while mine:
            size = draw(st.integers(1, len(mine)))
            segments.append((draw(st.sampled_from(sorted(fx.LAYOUTS))), mine[:size]))
            mine = mine[size:]
        for layout, rs in segments:
            if draw(st.booleans()):
                rs = [fx.drift_keys(source, r) for r in rs]
            if draw(st.booleans()):
                rs = [fx.float_numbers(source, r) for r in rs]
            if source == "customer" and draw(st.booleans()):
                rs = [fx.explicit_nulls(source, fx.phone_as_number(r)) for r in rs]
            copies = draw(st.integers(0, min(2, len(rs))))
            duplicates += copies
            text_parts.append(fx.LAYOUTS[layout](rs + rs[:copies]))
            if draw(st.booleans()):
                text_parts.append(draw(st.sampled_from(fx.NOT_JSON_LINES)))
                reasons["not_json"] += 1
        if records and draw(st.booleans()):
            text_parts.append(fx.cut(fx.dumps(draw(st.sampled_from(records)))))
            reasons["truncated"] += 1
        text = "\n".join(text_parts)
        text = fx.crlf(text) if draw(st.booleans()) else text
        text = fx.bom(text) if draw(st.booleans()) else text
        exports.append(
            fx.Export(
                f"export-{f}.json" + (".gz" if draw(st.booleans()) else ""),
                text,
                reasons=reasons,
                duplicates=duplicates,
                folder=draw(st.sampled_from(["", "landing"])),
            )
        )
        exports[-1].gzip = exports[-1].name.endswith(".gz")
    return source, records, exports


@pytest.mark.slow  # seconds: the whole tier (make test), not make check
# derandomize: the same 20 examples on every run (CI must not turn red by the draw). A random draw
# found the Sail panic of the test below; run with STEDI_HYPOTHESIS_RANDOM=1 to explore anew.
@settings(
    max_examples=20,
    deadline=None,
    derandomize=os.environ.get("STEDI_HYPOTHESIS_RANDOM") != "1",
)
@given(messy_exports())
def test_any_mix_of_layouts_lands_the_original_records(sail, tmp_path_factory, case):
    # On the default engine, Sail, like the fixtures' directories above.
    source, records, exports = case
    raw = tmp_path_factory.mktemp("property") / "raw"
    for export in exports:
        export.write(raw, source)  # empty files too
    with on("sail"):
        result = intake.land_source(sail, raw, source)
        landed = sorted(tuple(r) for r in result.landed.collect())
        assert landed == sorted({fx.canonical(source, r) for r in records})
        assert_balanced(
            result,
            sum((e.reasons for e in exports), Counter()),
            sum(e.duplicates for e in exports),
            len(landed),
        )
        result.unpersist()
    shutil.rmtree(raw)


@pytest.mark.xfail(
    strict=True,
    raises=SparkRuntimeException,
    reason="Sail 0.7.2 panics ('Trying to access an element at index 1 from a StringArray of "
    "length 1') when every usable record of a source is a copy of another (notes.md); strict: "
    "passes, and so fails, once that is fixed",
)
def test_a_source_whose_every_record_is_a_copy_lands_one_record_on_sail(sail, tmp_path):
    """Found by the property test above (a random draw, 2026-12-07): one customer file holding the
    same record twice. Spark lands one record and drops the other as a duplicate."""
    [record] = fx.real_records("customer", 1)
    raw = tmp_path / "raw"
    fx.write_exports(raw, "customer", [fx.Export("twice.json", fx.json_lines([record, record]))])
    with on("sail"):
        result = intake.land_source(sail, raw, "customer")
        assert result.landed.count() == 1
        result.unpersist()


# -- the real data ---------------------------------------------------------------------


def test_raw_sample_of_an_older_export(spark, tmp_path):
    """timeStamp lands as timestamp; the repeated reading is one duplicate; the last line (no
    newline) lands."""
    (tmp_path / "accelerometer" / "landing").mkdir(parents=True)
    (tmp_path / "accelerometer" / "landing" / "test-accelerometer.json").write_text(RAW_SAMPLE)
    result = intake.land_source(spark, tmp_path, "accelerometer")
    assert result.repaired_files == []  # JSON lines: the fast path
    landed = sorted(tuple(r) for r in result.landed.collect())
    expected = sorted(
        {
            (r["user"], r["timeStamp"], r["x"], r["y"], r["z"])
            for r in map(json.loads, RAW_SAMPLE.split("\n"))
        }
    )
    assert landed == expected and len(landed) == 6
    assert result.accounting()["duplicates_dropped"] == 1
    assert result.quarantined.count() == 0


def test_file_names_are_not_glob_patterns(spark, tmp_path):
    """`export[1].json` is that file, not a pattern matching `export1.json`."""
    records = fx.real_records("step_trainer", 3)
    (tmp_path / "step_trainer").mkdir()
    for name, record in zip(("export[1].json", "export1.json", "export {2}+.json"), records):
        (tmp_path / "step_trainer" / name).write_text(fx.json_lines([record]))
    result = intake.land_source(spark, tmp_path, "step_trainer")
    assert sorted(result.read_by_file) == sorted(intake.raw_files(tmp_path, "step_trainer"))
    assert sorted(tuple(r) for r in result.landed.collect()) == sorted(
        fx.canonical("step_trainer", r) for r in records
    )


@pytest.mark.slow  # seconds of engine jobs: make test only (keeps make check under 2 min)
def test_files_without_records_count_nothing(spark, tmp_path):
    records = fx.real_records("customer", 2)
    folder = tmp_path / "customer"
    folder.mkdir()
    (folder / "empty.json").write_text("")
    (folder / "blank.json").write_text("\n  \r\n")
    (folder / "empty_array.json").write_text("[]\n")
    (folder / "records.json").write_text(fx.json_lines(records))
    result = intake.land_source(spark, tmp_path, "customer")
    assert result.read_by_file == {
        str(folder / "records.json"): 2,
        str(folder / "empty.json"): 0,
        str(folder / "blank.json"): 0,
        str(folder / "empty_array.json"): 0,
    }
    assert_balanced(result, Counter(), 0, 2)


def test_a_file_spark_skipped_fails_the_intake(spark, tmp_path, monkeypatch):
    """Spark skips `_name` files even when named: were one listed, the intake must fail, not
    shrink."""
    folder = tmp_path / "step_trainer"
    folder.mkdir()
    records = fx.real_records("step_trainer", 2)
    (folder / "seen.json").write_text(fx.json_lines(records[:1]))
    (folder / "_skipped.json").write_text(fx.json_lines(records[1:]))
    monkeypatch.setattr(
        intake.landing,
        "raw_files",
        lambda raw_dir, source: sorted(str(p) for p in folder.iterdir()),
    )
    with pytest.raises(intake.RawInputError, match="Spark did not read 1 export file"):
        intake.land_source(spark, tmp_path, "step_trainer")


# -- files that are not UTF-8 text (issue 27, item 2) -----------------------------------------


@pytest.mark.parametrize(
    "line, raw",
    [
        (b'{"user": "Jos\xe9"}', '{"user": "Jos\\xe9"}'),  # a Latin-1 letter
        (b"back\\slash \\xe9 as text", "back\\\\slash \\\\xe9 as text"),  # a backslash is doubled
        (b"nul\x00 cr\r tab\t del\x7f", "nul\\x00 cr\\x0d tab\t del\\x7f"),  # controls but tab
        ("caf\u00e9 \u2603".encode(), "caf\u00e9 \u2603"),  # UTF-8 stays as it is
        (
            b"\xed\xa0\x80 \xf0\x9f",
            "\\xed\\xa0\\x80 \\xf0\\x9f",
        ),  # an encoded surrogate, a cut character
    ],
)
def test_a_line_that_is_not_text_is_escaped_readably_and_reversibly(line, raw):
    assert notext.escape_line(line) == raw
    assert notext.line_bytes(raw) == line


def test_any_bytes_survive_the_escape():
    import random

    data = random.Random(27).randbytes(1 << 16)
    for line in data.split(b"\n"):
        assert notext.line_bytes(notext.escape_line(line)) == line


def _is_text(path: str, data: bytes, block: int = 7) -> bool:
    check = notext.TextCheck(path)
    for start in range(0, len(data), block):  # small blocks: a character cut between two
        check.update(data[start : start + block])
    return check.finish()


def test_text_check_tells_utf8_text_from_other_bytes():
    import gzip
    import random

    text = (
        "\ufeff" + fx.json_lines(fx.real_records("customer", 3)) + '{"customerName": "Zoë ☃"}\n'
    ).encode()
    garbage = random.Random(1).randbytes(4096)
    assert _is_text("a.json", text) and _is_text("a.json", b"")
    assert not _is_text("a.json", garbage)
    assert not _is_text("a.json", text + b"\xe9\n")  # valid lines, then one that is not
    assert not _is_text("a.json", text + "é".encode()[:1])  # a character cut off at the end
    assert not _is_text("a.csv", "é".encode("utf-16"))
    assert _is_text("a.json.gz", gzip.compress(text) + gzip.compress(text))  # two gzip members
    assert not _is_text("a.json.gz", gzip.compress(garbage))
    assert not _is_text("a.json.gz", gzip.compress(text)[:-12])  # truncated
    assert not _is_text("a.json.gz", text)  # not gzip at all


def test_a_file_that_is_not_text_is_quarantined_line_by_line_and_the_rest_lands(sail, tmp_path):
    """64 KiB of random bytes as accelerometer/x.json and step_trainer/x.csv, and a customer file of
    valid lines then garbage: each is quarantined whole, one `not_text` record per non-blank line
    whose `raw` gives back the line's bytes; every other file lands; the accounting balances."""
    import random

    records = {s: fx.real_records(s, 40) for s in SOURCES}
    for source in SOURCES:
        (tmp_path / source).mkdir()
        (tmp_path / source / "clean.json").write_text(fx.json_lines(records[source]))
    garbage = random.Random(64).randbytes(64 * 1024)
    partial = (
        fx.json_lines(fx.real_records("customer", 45)[40:]).encode() + b"\xff\xfe broken \xe9\n\n"
    )
    bad = {
        tmp_path / "accelerometer" / "x.json": garbage,
        tmp_path / "step_trainer" / "x.csv": garbage,
        tmp_path / "customer" / "partial.json": partial,
    }
    for path, data in bad.items():
        path.write_bytes(data)
    with on("sail"):
        results = land_all(sail, tmp_path)
        for source, result in results.items():
            [path] = [p for p in bad if p.parent.name == source]
            lines = {n: line for n, line in enumerate(bad[path].split(b"\n"), 1) if line.strip()}
            quarantined = result.quarantined.collect()
            assert sorted(r.position for r in quarantined) == sorted(lines)
            assert {(r.source_file, r.reason) for r in quarantined} == {(str(path), "not_text")}
            assert {r.position: notext.line_bytes(r.raw) for r in quarantined} == lines
            landed = sorted(tuple(r) for r in result.landed.collect())
            assert landed == sorted(fx.canonical(source, r) for r in records[source])
            assert_balanced(result, Counter({"not_text": len(lines)}), 0, len(landed))
            result.unpersist()


# -- already fine before issue 27 (item 8): kept so -------------------------------------------


def test_a_byte_order_mark_with_crlf_line_endings_lands_every_record(sail, tmp_path):
    records = fx.real_records("accelerometer", 30)
    fx.write_exports(
        tmp_path,
        "accelerometer",
        [fx.Export("bom_crlf.json", fx.bom(fx.crlf(fx.json_lines(records))))],
    )
    with on("sail"):
        result = intake.land_source(sail, tmp_path, "accelerometer")
        assert sorted(tuple(r) for r in result.landed.collect()) == sorted(
            fx.canonical("accelerometer", r) for r in records
        )
        assert result.repaired_files == []  # clean JSON lines: the fast path
        assert_balanced(result, Counter(), 0, 30)
        result.unpersist()


@pytest.mark.slow
def test_a_50_mb_json_array_on_one_line_lands_every_record(sail, tmp_path):
    base = fx.real_records("accelerometer", 100)
    records = [
        {**base[i % 100], "timestamp": 1_600_000_000_000 + i} for i in range(600_000)
    ]  # all distinct
    text = json.dumps(records, separators=(",", ":"))
    assert "\n" not in text and len(text) > 50_000_000
    fx.write_exports(tmp_path, "accelerometer", [fx.Export("array.json", text)])
    with on("sail"):
        result = intake.land_source(sail, tmp_path, "accelerometer")
        assert_balanced(result, Counter(), 0, len(records))
        result.unpersist()
