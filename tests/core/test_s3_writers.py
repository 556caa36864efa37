"""Several writers of one small file (stedi.core.shared_files): conditional writes and leases, on S3
(a moto server on 127.0.0.1, S3's If-Match / If-None-Match) and on the local disk (a flock).

These are the functions the erasure registry and the run lock build on (their wiring lives with
the storage layer of issue 25); tested here with concurrent processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from aws_fixtures import BUCKET
from stedi.core import shared_files as shared
from stedi.core.shared_files import LeaseHeld, WriteConflict
from stedi.core.storage import read_text
from stedi.errors import StorageError


@pytest.fixture(params=["local", "s3"])
def place(request, tmp_path):
    """A folder for small shared files: local, or a prefix of the moto bucket."""
    if request.param == "s3":
        request.getfixturevalue("aws_env")
        return f"s3://{BUCKET}/lake/_erasure"
    return str(tmp_path / "lake" / "_erasure")


def test_a_conditional_write_wins_only_on_the_version_it_read(place):
    where = f"{place}/requests.json"
    assert shared.read_versioned(where) == (None, None)
    first = shared.write_if(where, "one", None)  # only if there is none
    with pytest.raises(WriteConflict, match="changed since it was read"):
        shared.write_if(where, "two", None)
    second = shared.write_if(where, "two", first)
    assert shared.read_versioned(where) == ("two", second) and second != first
    with pytest.raises(WriteConflict):
        shared.write_if(where, "three", first)  # a stale version
    with pytest.raises(WriteConflict):
        shared.delete_if(where, first)
    shared.delete_if(where, second)
    assert read_text(where) is None
    with pytest.raises(WriteConflict):  # gone since it was read
        shared.write_if(where, "four", second)


WRITER = textwrap.dedent(
    """
    import json, sys
    from stedi.core import shared_files as shared

    where, name, times = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for number in range(times):
        def add(text):
            held = json.loads(text) if text else {"requests": []}
            held["requests"].append(f"{name}-{number}")
            return json.dumps(held)
        shared.update_text(where, add)
    """
)


def _processes(program: str, *argv_lists) -> list[subprocess.CompletedProcess]:
    running = [
        subprocess.Popen(
            [sys.executable, "-c", program, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argv_lists
    ]
    done = []
    for process in running:
        out, err = process.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return done


def test_concurrent_writers_lose_no_change(place):
    """Six processes add four requests each to one registry file at once: all 24 are there."""
    where = f"{place}/requests.json"
    done = _processes(WRITER, *([where, f"w{n}", "4"] for n in range(6)))
    assert [p.returncode for p in done] == [0] * 6, [p.stderr[-2000:] for p in done]
    held = json.loads(read_text(where))["requests"]
    assert sorted(held) == sorted(f"w{n}-{i}" for n in range(6) for i in range(4))


LOCKER = textwrap.dedent(
    """
    import sys
    from stedi.core import shared_files as shared

    try:
        lease = shared.acquire_lease(sys.argv[1], sys.argv[2], 60)
        print("acquired", lease.owner)
    except shared.LeaseHeld as held:
        print("held", held)
    """
)


def test_of_two_runs_starting_at_once_one_takes_the_lock(place):
    where = f"{place}/run.lock"
    done = _processes(LOCKER, [where, "run-a"], [where, "run-b"], [where, "run-c"])
    outs = [p.stdout.strip() for p in done]
    assert [p.returncode for p in done] == [0, 0, 0], [p.stderr[-2000:] for p in done]
    winners = [o for o in outs if o.startswith("acquired")]
    assert len(winners) == 1, outs
    owner = winners[0].split()[1]
    assert all(f"is held by {owner} until" in o for o in outs if o.startswith("held")), outs
    assert json.loads(read_text(where))["owner"] == owner


def test_a_killed_runs_lock_is_taken_over_when_its_lease_expires(place):
    where = f"{place}/run.lock"
    clock = [1_000_000.0]
    killed = shared.acquire_lease(
        where, "killed-run", 600, now=lambda: clock[0]
    )  # then SIGKILLed: never released
    with pytest.raises(LeaseHeld, match=r"is held by killed-run until 1970-01-12T13:56:40Z"):
        shared.acquire_lease(where, "next-run", 600, now=lambda: clock[0] + 599)
    clock[0] += 601
    taken = shared.acquire_lease(where, "next-run", 600, now=lambda: clock[0])
    assert taken.owner == "next-run"
    # the old holder finds out: it can neither renew nor release the lease it lost
    with pytest.raises(WriteConflict):
        shared.renew_lease(killed, 600, now=lambda: clock[0])
    assert shared.release_lease(killed) is False
    renewed = shared.renew_lease(taken, 600, now=lambda: clock[0] + 300)
    assert renewed.expires == clock[0] + 900
    assert shared.release_lease(renewed) is True
    assert read_text(where) is None


def test_without_conditional_writes_a_shared_file_is_not_written_blindly(aws_env, monkeypatch):
    """Glue 5.0's botocore (1.34.131) has no If-Match: write_if stops with one line; update_text,
    which the steps of the deployed workflow use one at a time, reads and writes once."""
    where = f"s3://{BUCKET}/lake/_erasure/requests.json"
    monkeypatch.setattr(shared, "conditional_writes", lambda: False)
    with pytest.raises(
        StorageError, match=r"has no conditional writes \(If-Match\): cannot change s3://"
    ):
        shared.write_if(where, "x", None)
    assert shared.update_text(where, lambda text: (text or "") + "a") == "a"
    assert shared.update_text(where, lambda text: None) is None
    assert read_text(where) == "a"
