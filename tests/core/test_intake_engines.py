"""stedi.core.intake on both engines: Spark (a classic session) and Sail (Spark Connect) make the
same of the same exports.

The messy exports of intake_fixtures (every defect class) are landed on both engines: the
classified records (landed, quarantined with file, position, reason and raw text,
duplicates), the landing content and the accounting must be identical, and on Sail too what
the fixtures say each file must give. (The real exports are landed on both engines by the
clean builds: tests/e2e/test_pipeline.py compares their tables and intake accounting.) Then the
places where the engines take their own path (stedi.core.intake.spark_or_sail), each on both
engines.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import pytest

import csv_fixtures as cfx
import intake_fixtures as fx
from engines import on
from stedi.core import intake
from stedi.core.intake import spark_or_sail as intake_engines
from stedi.core.tables import SOURCES, landing_table, table

# Both engines over messy exports: seconds per test, so the whole tier (make test).
pytestmark = pytest.mark.slow

ENGINES = ("spark", "sail")


def names(source: str) -> list[str]:
    return [n for n, _ in table(landing_table(source)).columns]


def outcome(result: intake.IntakeResult) -> dict:
    """Everything the intake made of a source, as plain Python values."""
    cols = names(result.source)
    classified = sorted(
        (r["source_file"], r["position"], r["status"], r["reason"], *(r[c] for c in cols))
        for r in result.classified.collect()
    )
    landed = sorted(tuple(r) for r in result.landed.collect())
    quarantined = sorted(tuple(r) for r in result.quarantined.collect())
    accounting = {k: v for k, v in result.accounting().items() if k != "seconds"}
    json.dumps(accounting)  # plain numbers: a Connect client's numpy integers would fail here
    assert all(
        type(v) is int
        for v in (accounting["read"], accounting["landed"], accounting["quarantined"])
    )
    return {
        "classified": classified,
        "landed": landed,
        "landing_fingerprint": fingerprint(landed),
        "quarantined": quarantined,
        "accounting": accounting,
        "read_by_file": dict(sorted(result.read_by_file.items())),
        "repaired_files": sorted(result.repaired_files),
    }


def fingerprint(rows: list[tuple]) -> tuple[int, str]:
    """(rows, hash of their content, whatever their order): computed here, not by an engine."""
    return len(rows), hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()


def land_on_both(sessions, raw_dir, source: str) -> dict[str, dict]:
    found = {}
    for engine in ENGINES:
        with on(engine):
            result = intake.land_source(sessions[engine], raw_dir, source)
            try:
                found[engine] = outcome(result)
            finally:
                result.unpersist()
    return found


# -- land_source: the messy exports ------------------------------------------------------


@pytest.fixture(scope="module")
def messy_raw(tmp_path_factory):
    """One directory per layout of the fixtures: one file per defect (JSON, then CSV), and files
    mixing them all."""
    base = tmp_path_factory.mktemp("messy")
    exports = {}
    for kind, build in (
        ("defects", fx.defect_exports),
        ("csv", cfx.csv_defect_exports),
        ("mixed", fx.mixed_exports),
    ):
        raw = base / kind
        limit = 260 if kind == "defects" else 300
        exports[kind] = {
            s: fx.write_exports(raw, s, build(s, fx.real_records(s, limit))) for s in SOURCES
        }
    return base, exports


@pytest.mark.parametrize("kind", ["defects", "csv", "mixed"])
@pytest.mark.parametrize("source", SOURCES)
def test_messy_exports_land_the_same_on_both_engines(sessions, messy_raw, kind, source):
    base, exports = messy_raw
    found = land_on_both(sessions, base / kind, source)
    classic, connect = found["spark"], found["sail"]
    assert connect["quarantined"] == classic["quarantined"]
    assert connect["landed"] == classic["landed"]
    assert connect["classified"] == classic["classified"]
    assert connect["accounting"] == classic["accounting"]
    assert connect["read_by_file"] == classic["read_by_file"]
    assert connect["repaired_files"] == classic["repaired_files"]
    # And what the fixtures say each file must give (the same on Spark: tests/core/test_intake.py).
    expected = exports[kind][source]
    assert connect["landed"] == sorted(row for e in expected.values() for row in e.landed)
    reasons = Counter(r[2] for r in connect["quarantined"])
    assert reasons == sum((e.reasons for e in expected.values()), Counter())
    assert connect["accounting"]["duplicates_dropped"] == sum(
        e.duplicates for e in expected.values()
    )
    assert connect["accounting"]["balanced"]


# -- the engines' own paths (stedi.core.intake.spark_or_sail) ------------------------------------


def test_each_file_is_read_whole_under_its_own_name(sessions, tmp_path):
    """Glob characters, gzip, CRLF, a byte-order mark, and files of several MiB (which Sail's
    whole-text read would cut in pieces at its line separator)."""
    line = '{"user":"Ünïcödé@x.com","timestamp":1655564376361,"x":1.0,"y":0.0,"z":-1.0}'
    contents = {
        "export[1].json": line + "\n",
        "export1.json": line + "\r\n" + line + "\r\n",
        "export {2}+.json": "\ufeff" + line,
        "q?x*.json": "",
        "big.json": (line + "\n") * 60_000,
        "big_crlf.json": (line + "\r\n") * 60_000,
        "one_line.json": line * 40_000,
        "packed.json.gz": (line + "\n") * 3,
    }
    for name, text in contents.items():
        data = text.encode("utf-8")
        (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    files = sorted(str(tmp_path / name) for name in contents)
    for engine in ENGINES:
        with on(engine):
            read = intake_engines.texts_by_file(sessions[engine], files).collect()
        got = {row["source_file"]: row["value"] for row in read}
        assert len(read) == len(got), engine  # one row per file
        assert {Path(k).name: v for k, v in got.items() if v != ""} == {
            k: v for k, v in contents.items() if v != ""
        }, engine
        assert set(got) <= {os.path.abspath(f) for f in files}


def test_a_file_sail_reads_in_pieces_does_not_balance(sessions, tmp_path):
    """A file of more than 1 MiB holding a NUL byte: Spark reads it whole; Sail cuts it there,
    and its accounting says so (check_accounting fails) instead of landing wrong rows."""
    line = fx.dumps(fx.real_records("step_trainer", 1)[0])
    folder = tmp_path / "step_trainer"
    folder.mkdir()
    (folder / "padded.json").write_text(
        (line + "\n") * 15_000 + "\x00" * 10 + "\n" + (line + "\n") * 15_000
    )
    balanced = {}
    for engine in ENGINES:
        with on(engine):
            result = intake.land_source(sessions[engine], tmp_path, "step_trainer")
            balanced[engine] = result.accounting()["balanced"]
            result.unpersist()
    assert balanced == {"spark": True, "sail": False}


FLAT_LINE_CASES = {
    '{"a":1}\n{"b":"x"}\n': True,
    '{"a":1}\r\n{"b":"x"}\r\n': True,
    '{"a":"with \\" quote and \\\\ backslash","b":"{[]}"}\n': True,
    '{"a":1}{"b":2}\n': False,  # objects run together
    '{"a":1},\n{"b":2}\n': False,  # separated by commas
    '[{"a":1}]\n': False,
    '{"a":{"b":1}}\n': False,  # nested
    '{"a":"unterminated}\n': False,
    '{"a":1}\n\n{"b":2}\n': False,  # a blank line inside
    '{"a":1}\nnot json\n': False,
    '{"a":1}\n{"b":2': False,  # truncated
    '{"a":1}\r{"b":2}\n': False,  # a lone CR is no line end
    '{\\"a\\":1}\n': False,  # a backslash outside strings, then a string that does not end
    '{"a":1} x\n': False,
}


def test_both_engines_find_the_same_files_clean(sessions):
    long_flat = (
        "{" + ",".join(f'"k{i}":"v{i}"' for i in range(60_000)) + "}\n"
    )  # one long line, clean
    long_run = '{"a":"b"}' * 60_000 + "\n"  # one long line, not clean
    cases = {**FLAT_LINE_CASES, long_flat: True, long_run: False}
    for engine in ENGINES:
        session = sessions[engine]
        texts = session.createDataFrame(
            [(f"f{i}.json", text) for i, text in enumerate(cases)],
            "source_file string, text string",
        )
        with on(engine):
            units = intake.file_units(texts).select("source_file", "kind").distinct().collect()
        clean = {row["source_file"]: row["kind"] == intake.RECORD for row in units}
        assert [clean[f"f{i}.json"] for i in range(len(cases))] == list(cases.values()), engine


def test_classified_records_are_kept_where_each_engine_can_reread_them(sessions, tmp_path):
    records = [("f.json", 1, '{"user":"a@x","timestamp":1,"x":1.0,"y":2.0,"z":3.0}')]
    for engine in ENGINES:
        session = sessions[engine]
        for scratch in (None, tmp_path / engine):
            with on(engine):
                frame = intake.classify_records(
                    session.createDataFrame(
                        records, "source_file string, position long, raw string"
                    ),
                    "accelerometer",
                )
                kept = intake_engines.Storage(session, scratch)
                stored = kept.keep(frame)
                assert [r["status"] for r in stored.collect()] == ["landed"], engine
            written = list(kept.folders)
            # A Connect session (whose cache does nothing) and any given scratch folder: Parquet.
            assert bool(written) == (engine == "sail" or scratch is not None), (engine, scratch)
            assert all(Path(f).is_dir() for f in written)
            kept.release()
            assert not any(Path(f).exists() for f in written)


# The records of tests/core/test_intake.py's classify test, and more that the engines' JSON parsers
# read differently: on both engines, the same decision and the same values.
CLASSIFY_CASES = [
    '{"user":"a@x","timestamp":1655564376361,"x":1.0,"y":0.0,"z":-1.0}',
    '{"user":"a@x","timeStamp":1655564376362.0,"x":"1.5","y":0,"z":null}',
    '{"USER":"a@x","timestamp":"1.655564376363E12","x":1,"y":2,"z":3,"extra":[1]}',
    '{"user":"a@x","timestamp":1655564376361.5,"x":1,"y":1,"z":1}',
    '{"user":"a@x","timestamp":1655564376364,"x":"abc","y":1,"z":1}',
    '{"user":"a@x","timestamp":1655564376365,"x":NaN,"y":1,"z":1}',
    '{"user":"a@x","timestamp":1655564376365,"x":1,"y":-Infinity,"z":1}',
    '{"user":"a@x","timestamp":1655564376365,"x":1,"y":1,"z":+Infinity}',
    '{"user":"a@x","timestamp":1655564376365,"x":1E400,"y":1,"z":1}',
    '{"user":"a@x","timestamp":NaN,"x":1,"y":1,"z":1}',
    '{"user":"  ","timestamp":1655564376366,"x":1,"y":1,"z":1}',
    '{"timestamp":1655564376367,"x":1,"y":1,"z":1}',
    '{"user":null,"timestamp":1655564376368,"x":1,"y":1,"z":1}',
    '["user","a@x"]',
    "not json",
    '{"user":"a@x","timestamp":99999999999999999999,"x":1,"y":1,"z":1}',
    "{'user':'c@x','timestamp':6,'x':1,'y':1,'z':1}",
    '{"user":"d@x","timestamp":9,"x":1.0,"y":2.0,"z":3.0,"w":tru}',  # not JSON after every column
    '{"user":"d@x","timestamp":10,"x":1.0,"y":2.0,"z":3.0,}',
    '{"user":5,"timestamp":"11","x":true,"y":2.0,"z":3.0}',
    '{"user":"d@x","timestamp":-0,"x":-0.0,"y":1e-400,"z":3}',
    '{"user":"e@x","timestamp":12,"x":1,"y":1,"z":1,"note":"NaN, not a number"}',
    '{"user":"x: NaN, Infinity","timestamp":13,"x":NaN,"y":1,"z":1}',  # the words in a string stay
    '{"user":"f@x","timestamp":14,"x":NaN,"y":1,"z":1',  # not JSON, with or without NaN
]


def test_classify_records_decides_the_same_on_both_engines(sessions):
    records = [("f.json", i + 1, raw) for i, raw in enumerate(CLASSIFY_CASES)]
    found = {}
    for engine in ENGINES:
        frame = sessions[engine].createDataFrame(
            records, "source_file string, position long, raw string"
        )
        with on(engine):
            got = intake.classify_records(frame, "accelerometer").collect()
        found[engine] = sorted(
            (r["position"], r["status"], r["reason"], *(repr(r[c]) for c in names("accelerometer")))
            for r in got
        )
    assert found["sail"] == found["spark"]
    decided = {position: (status, reason) for position, status, reason, *_ in found["spark"]}
    assert (
        decided[6]
        == decided[7]
        == decided[8]
        == decided[9]
        == decided[10]
        == ("quarantined", "bad_type")
    )
    assert decided[3] == decided[21] == decided[22] == ("landed", None)
    assert decided[18] == decided[19] == decided[24] == ("quarantined", "not_json")
    assert decided[20] == decided[23] == ("quarantined", "bad_type")


def test_later_copies_keep_the_first_by_file_and_position_on_both_engines(sessions):
    """Each engine's own formulation (engines.later_copies): the same copies, nulls equal to nulls,
    the first by (source_file, position) kept even when its file sorts after the copy's values,
    -0.0 and 0.0 one value (Spark's grouping), and an unusable record never a copy nor counted
    as the first."""
    rows = [
        ("b.json", 1, "u1", 5, None, True),  # first of (u1, 5, null): file b before c
        ("c.json", 1, "u1", 5, None, True),  # copy
        ("b.json", 2, "u1", 5, 1.0, True),  # another value: not a copy
        ("a.json", 9, "u2", 7, 2.0, False),  # unusable: neither a copy nor a first
        ("a.json", 10, "u2", 7, 2.0, True),  # first usable one
        ("a.json", 3, "u2", 7, 2.0, True),  # earlier position: the real first
        ("a.json", 11, "u2", 7, 2.0, True),  # third copy
        ("z.json", 1, None, None, None, True),  # all null, twice
        ("y.json", 4, None, None, None, True),
        ("d.json", 1, "u3", 9, -0.0, True),  # -0.0 and 0.0: the same value, the first by position
        ("d.json", 2, "u3", 9, 0.0, True),
        ("e.json", 1, "u4", 9, 0.0, True),
        ("e.json", 2, "u4", 9, -0.0, True),
    ]
    schema = "source_file string, position long, user string, ts long, x double, ok boolean"
    found = {}
    for engine in ENGINES:
        frame = sessions[engine].createDataFrame(rows, schema)
        with on(engine):
            marked = intake_engines.later_copies(
                frame, "ok", [("user", "string"), ("ts", "bigint"), ("x", "double")]
            ).collect()
        found[engine] = sorted((r["source_file"], r["position"], r["_later_copy"]) for r in marked)
    assert found["sail"] == found["spark"]
    assert [(f, p) for f, p, later in found["spark"] if later] == [
        ("a.json", 10),
        ("a.json", 11),
        ("c.json", 1),
        ("d.json", 2),
        ("e.json", 2),
        ("z.json", 1),
    ]


def test_a_file_that_is_not_text_is_quarantined_the_same_on_both_engines(sessions, tmp_path):
    """Sail stopped on it ("invalid UTF-8 data"); Spark read it with U+FFFD for each bad byte and
    quarantined that garbage as not_json, csv_field_count or missing_required_field."""
    import random

    garbage = random.Random(27).randbytes(64 * 1024)
    for source in SOURCES:
        fx.write_exports(
            tmp_path, source, [fx.Export("clean.json", fx.json_lines(fx.real_records(source, 30)))]
        )
    (tmp_path / "accelerometer" / "x.json").write_bytes(garbage)
    (tmp_path / "step_trainer" / "x.csv").write_bytes(garbage)
    (tmp_path / "customer" / "x.json.gz").write_bytes(gzip.compress(garbage))
    for source in SOURCES:
        found = land_on_both(sessions, tmp_path, source)
        assert found["sail"] == found["spark"]
        lines = sum(1 for line in garbage.split(b"\n") if line.strip(b" \t\r\n"))
        assert found["sail"]["accounting"]["quarantine_reasons"] == {"not_text": lines}
        assert (
            found["sail"]["accounting"]["landed"] == 30 and found["sail"]["accounting"]["balanced"]
        )
