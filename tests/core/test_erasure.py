"""Erasure requests: the registry never holds an address, and the SQL conditions agree with Python
on both engines."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from aws_fixtures import BUCKET
from engines import on
from stedi.cli import main
from stedi.core.intake.erasure import ERASURE_DIR, Erasures, keyed_hash, normalize_email
from stedi.core.intake.erasure_sql import (
    erased_sql,
    hash_sql,
    mentions_sql,
    serial_hash_sql,
    serials_of,
)

ENGINES = ("spark", "sail")
KEY = "0f" * 32
ANN = "Ann.Lee@Test.com"
SERIAL = "7e1b3c0e-1111-2222-3333-444455556666"
OTHER_SERIAL = "98ec1419-44b7-4016-a584-777f96115cce"


def erasures_of(emails=(), serials=(), key=KEY) -> Erasures:
    """An Erasures built in memory: these addresses requested, these serial numbers erased."""
    requests = []
    for email in emails:
        digest = keyed_hash(key, normalize_email(email))
        requests.append(
            {
                "id": digest[:12],
                "email_hash": digest,
                "requested_at": "2024-01-01T00:00",
                "done": None,
            }
        )
    return Erasures(
        key=key,
        requests=requests,
        serial_hashes=frozenset(keyed_hash(key, s.strip()) for s in serials),
    )


def evaluate(sessions, engine: str, rows: list[tuple], schema: str, condition: str) -> list:
    """The value of the SQL `condition` for each row, in row order, on `engine`."""
    with on(engine):
        frame = sessions[engine].createDataFrame(
            [(i, *row) for i, row in enumerate(rows)], f"i int, {schema}"
        )
        return [r.v for r in sorted(frame.selectExpr("i", f"{condition} AS v").collect())]


def files_under(lake: Path) -> list[Path]:
    return [p for p in (lake / ERASURE_DIR).rglob("*") if p.is_file()]


def assert_no_address(lake: Path, *addresses: str) -> None:
    for path in files_under(lake):
        text = path.read_text().lower()
        for address in addresses:
            assert normalize_email(address) not in text and address.strip().lower() not in text, (
                path
            )


# -- hashes: Python and SQL ------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_keyed_hash_is_the_sql_hash_on_both_engines(sessions, engine):
    emails = [ANN, "  ANN.LEE@test.com\t", "\n bob+x@b-c.org \r", "plain@x.com"]
    serials = [SERIAL, f" \t{SERIAL}\n", "ABC-def"]
    got = evaluate(sessions, engine, [(e,) for e in emails], "email string", hash_sql("email", KEY))
    assert got == [keyed_hash(KEY, normalize_email(e)) for e in emails]
    assert len(set(got[:2])) == 1  # case and surrounding whitespace do not count
    condition = serial_hash_sql("serialNumber", KEY)
    got = evaluate(sessions, engine, [(s,) for s in serials], "serialNumber string", condition)
    assert got == [keyed_hash(KEY, s.strip()) for s in serials]
    assert got[-1] != keyed_hash(KEY, "abc-def")  # a serial number keeps its case


# -- erased_sql -------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_erased_sql_finds_the_erased_customers_rows_in_each_source(sessions, engine):
    erased = erasures_of([ANN], [SERIAL])
    emails = [(" ann.lee@TEST.com ",), ("bob@x.com",), (None,), ("xann.lee@test.com",)]
    expected = [True, False, False, False]
    assert (
        evaluate(sessions, engine, emails, "email string", erased_sql("customer", erased))
        == expected
    )
    assert (
        evaluate(sessions, engine, emails, "user string", erased_sql("accelerometer", erased))
        == expected
    )
    serials = [(SERIAL,), (OTHER_SERIAL,), (None,), (SERIAL.upper(),)]
    got = evaluate(
        sessions, engine, serials, "serialNumber string", erased_sql("step_trainer", erased)
    )
    assert got == [True, False, False, False]


def test_erased_sql_is_false_when_there_is_nothing_to_match():
    assert erased_sql("customer", Erasures()) == "false"
    assert erased_sql("step_trainer", erasures_of([ANN])) == "false"  # no serial hashes yet
    assert erased_sql("accelerometer", erasures_of(serials=[SERIAL])) == "false"
    assert mentions_sql("raw", Erasures()) == "false"


# -- mentions_sql -----------------------------------------------------------------
MENTIONS = [
    ('{"customerName": "Ann Lee", "email": "Ann.Lee@test.com", "phone": ', True),  # malformed JSON
    ('{"user":"ANN.LEE@TEST.COM","timestamp":1655564376361,"x":', True),
    ("write to ann.lee@test.com.", True),  # dots at a token's ends are not part of it
    (f'{{"sensorReadingTime":1655564172120,"serialNumber":"{SERIAL}"}}', True),
    (f"[{SERIAL}]", True),
    ('{"user":"xann.lee@test.com"}', False),  # a longer address
    ('{"user":"ann.lee@test.com.evil"}', False),
    ("ann.lee@test.comx", False),
    ("ann.lee", False),
    (f'{{"serialNumber":"{SERIAL}7"}}', False),
    (f'{{"serialNumber":"x{SERIAL}"}}', False),
    (f'{{"serialNumber":"{SERIAL.upper()}"}}', False),  # serial numbers are matched exactly
    ('{"user":"bob@x.com"}', False),
    ("", False),
    (None, False),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_mentions_sql_finds_an_erased_address_or_serial_as_a_whole_token(sessions, engine):
    condition = mentions_sql("raw", erasures_of([ANN], [SERIAL]))
    got = evaluate(sessions, engine, [(raw,) for raw, _ in MENTIONS], "raw string", condition)
    assert list(zip([raw for raw, _ in MENTIONS], got)) == MENTIONS


@pytest.mark.parametrize("engine", ENGINES)
def test_mentions_sql_with_addresses_only_or_serials_only(sessions, engine):
    rows = [(f'{{"user":"{ANN}"}}',), (SERIAL,)]
    assert evaluate(
        sessions, engine, rows, "raw string", mentions_sql("raw", erasures_of([ANN]))
    ) == [True, False]
    got = evaluate(
        sessions, engine, rows, "raw string", mentions_sql("raw", erasures_of(serials=[SERIAL]))
    )
    assert got == [False, True]


# -- serials_of -------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_serials_of_hashes_the_serial_numbers_of_erased_customers(sessions, engine):
    customers = [
        (ANN, f" {SERIAL}"),
        ("ANN.LEE@test.com ", SERIAL),  # the same customer twice: one hash
        ("bob@x.com", OTHER_SERIAL),
        (ANN, None),
        (ANN, " "),
    ]
    erased = erasures_of([ANN])
    with on(engine):
        frame = sessions[engine].createDataFrame(customers, "email string, serialNumber string")
        assert serials_of(frame, erased) == [keyed_hash(KEY, SERIAL)]
        assert serials_of(frame, Erasures()) == []


# -- the registry -----------------------------------------------------------------
def test_a_lake_without_a_registry_has_no_erasures_and_load_writes_nothing(tmp_path):
    found = Erasures.load(str(tmp_path))
    assert (
        not found and found.pending == [] and found.email_hashes == frozenset() and found.key == ""
    )
    assert list(tmp_path.iterdir()) == []


def test_requests_are_stored_as_hashes_with_a_private_key(tmp_path):
    made = Erasures.request(str(tmp_path), [ANN, " bob@x.com\n"])
    assert_no_address(tmp_path, ANN, "bob@x.com")
    assert sorted(p.name for p in files_under(tmp_path)) == [".lock", "key", "requests.json"]
    key_file = tmp_path / ERASURE_DIR / "key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(bytes.fromhex(key)) == 32

    loaded = Erasures.load(str(tmp_path))
    assert loaded and loaded.key == key and loaded.requests == made
    assert loaded.email_hashes == {
        keyed_hash(key, "ann.lee@test.com"),
        keyed_hash(key, "bob@x.com"),
    }
    assert [r["id"] for r in made] == [r["email_hash"][:12] for r in made]
    assert all(r["done"] is None and r["requested_at"].endswith("+00:00") for r in made)
    assert loaded.pending == made


def test_an_address_is_requested_once(tmp_path):
    first = Erasures.request(str(tmp_path), [ANN, ANN.upper()])
    assert len(first) == 1
    again = Erasures.request(str(tmp_path), [f"  {ANN.lower()} ", "bob@x.com"])
    assert again[0] == first[0]
    assert len(Erasures.load(str(tmp_path)).requests) == 2


def test_mark_done_records_the_run_and_the_rows_removed(tmp_path):
    ann, bob = Erasures.request(str(tmp_path), [ANN, "bob@x.com"])
    loaded = Erasures.load(str(tmp_path))
    loaded.mark_done(
        ann["id"], "20240101T000000Z-abcd", {"customer_landing": 1, "accelerometer_landing": 12}
    )
    loaded.save(str(tmp_path))
    again = Erasures.load(str(tmp_path))
    [done] = [r for r in again.requests if r["id"] == ann["id"]]
    assert done["done"]["run"] == "20240101T000000Z-abcd"
    assert done["done"]["rows"] == {"customer_landing": 1, "accelerometer_landing": 12}
    assert [r["id"] for r in again.pending] == [bob["id"]]
    assert again  # a done request is still a request: later runs keep applying it
    with pytest.raises(KeyError):
        again.mark_done("000000000000", "run", {})


def test_a_request_made_while_a_run_works_stays_pending_for_the_next_run(tmp_path):
    """The run loads the registry when step 00 starts and marks what it applied when it ends:
    a `stedi erase` in between must not be overwritten by the run's older copy."""
    from stedi.run import privacy

    [ann] = Erasures.request(str(tmp_path), [ANN])
    at_start = Erasures.load(str(tmp_path))  # what the run applies
    [bob] = Erasures.request(str(tmp_path), ["bob@x.com"])  # made while the run works
    done = privacy.mark_erasures_done(str(tmp_path), at_start, "run-1", {"customer_landing": 1})
    after = Erasures.load(str(tmp_path))
    assert [r["id"] for r in after.requests] == [ann["id"], bob["id"]]
    assert [r["id"] for r in after.pending] == [bob["id"]]
    assert done == [{"id": ann["id"], "rows": {"customer_landing": 1}}]


def _request_one(lake: str, email: str) -> None:
    Erasures.request(lake, [email])


def test_requests_made_at_the_same_time_are_all_kept_under_one_key(tmp_path):
    """Several `stedi erase` at once on a lake without a registry: one key, every request kept."""
    import multiprocessing

    emails = [f"user{i}@example.com" for i in range(8)]
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_request_one, args=(str(tmp_path), e)) for e in emails]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0] * len(emails)
    loaded = Erasures.load(str(tmp_path))
    assert loaded.email_hashes == {keyed_hash(loaded.key, e) for e in emails}


def test_serial_hashes_are_kept_and_change_the_fingerprint(tmp_path):
    Erasures.request(str(tmp_path), [ANN])
    loaded = Erasures.load(str(tmp_path))
    assert loaded.fingerprint() == Erasures.load(str(tmp_path)).fingerprint()
    with_serial = loaded.with_serials([keyed_hash(loaded.key, SERIAL)])
    assert loaded.serial_hashes == frozenset() and with_serial.serial_hashes == {
        keyed_hash(loaded.key, SERIAL)
    }
    assert with_serial.fingerprint() != loaded.fingerprint()
    with_serial.save(str(tmp_path))
    assert_no_address(tmp_path, ANN, SERIAL)
    reloaded = Erasures.load(str(tmp_path))
    assert reloaded.serial_hashes == with_serial.serial_hashes
    assert (
        reloaded.with_serials([]).serial_hashes == reloaded.serial_hashes
    )  # a union: none are lost
    before = reloaded.fingerprint()
    Erasures.request(str(tmp_path), ["bob@x.com"])
    assert Erasures.load(str(tmp_path)).fingerprint() != before
    with pytest.raises(ValueError):
        loaded.with_serials([SERIAL])  # a serial number, not its hash


@pytest.mark.parametrize(
    "emails",
    [
        ["no-at-sign"],
        ["a@b@c.com"],
        ["ann lee@x.com"],
        ["@x.com"],
        ["ann@"],
        [".ann@x.com"],
        ["ann@x.com."],
        ["o'brien@x.com"],
        ["ann@x.com", "bad address@x.com"],  # the good one is not recorded either
        [],
    ],
)
def test_a_malformed_address_is_refused_and_nothing_is_written(tmp_path, emails):
    with pytest.raises(ValueError) as refused:
        Erasures.request(str(tmp_path), emails)
    assert "\n" not in str(refused.value)
    assert all(e.strip() not in str(refused.value) for e in emails if e.strip())
    assert list(tmp_path.iterdir()) == []


def test_a_tampered_registry_is_refused(tmp_path):
    Erasures.request(str(tmp_path), [ANN])
    registry = tmp_path / ERASURE_DIR / "requests.json"
    registry.write_text(
        registry.read_text().replace('"serial_hashes": []', '"serial_hashes": ["x\') OR true --"]')
    )
    with pytest.raises(ValueError, match="not 64 hex digits"):
        Erasures.load(str(tmp_path))


def test_requests_on_s3(aws_env):
    lake = f"s3://{BUCKET}/some/prefix/lake"
    [made] = Erasures.request(lake, [ANN])
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]
    keys = sorted(o["Key"] for o in listed)
    assert keys == ["some/prefix/lake/_erasure/key", "some/prefix/lake/_erasure/requests.json"]
    for key in keys:
        body = boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().lower()
        assert normalize_email(ANN) not in body
    assert Erasures.load(lake).requests == [made]


# -- the command line ---------------------------------------------------------------
def test_stedi_erase_prints_request_ids_not_addresses(tmp_path, capsys):
    lake = tmp_path / "lake"
    assert (
        main(
            ["erase", "--email", ANN, "--email", "bob@x.com", "--lake-dir", str(lake), "--new-lake"]
        )
        == 0
    )
    out = capsys.readouterr().out
    ids = [r["id"] for r in Erasures.load(str(lake)).requests]
    assert out.splitlines() == [
        f"erasure requested: id {i} (applied by the next stedi run)" for i in ids
    ]
    assert "@" not in out and "ann" not in out.lower()
    assert_no_address(lake, ANN, "bob@x.com")


def test_stedi_erase_refuses_a_malformed_address_in_one_line_writing_nothing(tmp_path, capsys):
    lake = tmp_path / "lake"
    assert main(["erase", "--email", ANN, "--email", "ann lee@x.com", "--lake-dir", str(lake)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("stedi: error: email 2 of 2: ") and captured.err.count("\n") == 1
    assert "ann" not in captured.err.lower()
    assert not lake.exists()


def test_stedi_erase_needs_no_java(tmp_path):
    """The command in a process of its own, with no Java to find."""
    env = {
        **os.environ,
        "JAVA_HOME": str(tmp_path / "no-java"),
        "PATH": str(Path(sys.executable).parent),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "stedi.cli",
            "erase",
            "--email",
            ANN,
            "--lake-dir",
            str(tmp_path / "lake"),
            "--new-lake",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("erasure requested: id ") and "@" not in done.stdout + done.stderr


def _no_lake_line(lake) -> str:
    return (
        f"stedi: error: {lake} holds no lake; check --lake-dir, or add --new-lake to record the "
        "request "
        "there before the first build\n"
    )


@pytest.mark.parametrize("where", ["missing", "empty", "other"])
def test_stedi_erase_refuses_a_path_holding_no_lake_in_one_line_creating_nothing(
    tmp_path, capsys, where
):
    """A typo in --lake-dir must not lose the request in a new lake nobody reads (issue 27, item
    1)."""
    lake = tmp_path / "typo" / "lake"
    if where != "missing":
        lake.mkdir(parents=True)
    if where == "other":  # a folder of something else: the raw exports, say
        (lake / "customer").mkdir()
        (lake / "customer" / "x.json").write_text("{}\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["erase", "--email", ANN, "--lake-dir", str(lake)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == _no_lake_line(lake)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_stedi_erase_takes_a_lake_a_run_landed_or_a_new_lake_request_started(tmp_path, capsys):
    from stedi.core.intake.ledger import Ledger

    landed = tmp_path / "landed"
    Ledger(str(landed)).commit()  # what a run writes once its landing tables are published
    assert main(["erase", "--email", ANN, "--lake-dir", str(landed)]) == 0
    assert len(Erasures.load(str(landed)).requests) == 1

    early = tmp_path / "early"
    assert main(["erase", "--email", ANN, "--lake-dir", str(early), "--new-lake"]) == 0
    assert (
        main(["erase", "--email", "bob@x.com", "--lake-dir", str(early)]) == 0
    )  # now it holds one
    assert len(Erasures.load(str(early)).requests) == 2
    assert capsys.readouterr().err == ""


def test_stedi_erase_new_lake_on_a_file_is_one_line(tmp_path, capsys):
    lake = tmp_path / "lake"
    lake.write_text("not a folder\n")
    assert main(["erase", "--email", ANN, "--lake-dir", str(lake), "--new-lake"]) == 2
    err = capsys.readouterr().err
    assert err == f"stedi: error: cannot write the erasure registry in {lake}: Not a directory\n"
    assert lake.read_text() == "not a folder\n"


def test_stedi_erase_on_s3_needs_a_lake_there_or_new_lake(aws_env, capsys):
    lake = f"s3://{BUCKET}/typo/lake"
    assert main(["erase", "--email", ANN, "--lake-dir", lake]) == 2
    assert capsys.readouterr().err == _no_lake_line(lake)
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=BUCKET)
    assert main(["erase", "--email", ANN, "--lake-dir", lake, "--new-lake"]) == 0
    assert main(["erase", "--email", "bob@x.com", "--lake-dir", lake]) == 0
    assert len(Erasures.load(lake).requests) == 2
