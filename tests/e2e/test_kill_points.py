"""Kill points inside every zone step's commits and during the erasure's expiry (issue #27, "Also").

A run is SIGKILLed at a named point (stedi.lake.faults, $STEDI_TEST_KILL_AT) between two things
a step makes durable: a table and its quarantine, the last landing commit and the ledger, the
ledger and the erasure registry, a table and the step's freshness record, the freshness record
and the run's record; and while the runner forgets the history after an erasure (older
snapshots expired, unreachable files half deleted). After each kill the lake is consistent
(`_assert_consistent`); the next plain `stedi run`, or `--resume`, completes it, and the lake
ends with the tables and quarantines of an uninterrupted run (`_content`), with no file under
the lake holding the erased customer's address or serial number (lake_files.holding).

Cheap by design: one small input (200 real records per source, then 200 more as a second day
with an erasure request), built once per worker; each chain of kills runs on a copy of that
build, and each killed run is also the repair of the kill before it (a chain in execution
order: every later run passes the earlier point again). Tables are compared through pyiceberg
alone (no Spark session in the test process).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

import intake_fixtures as fx
from lake_files import holding
from lakes import STEDI, ZONE_STEPS_ONLY, copy_lake, frozen_at, stedi_run, stopped, wait_for
from stedi import config
from stedi.core.tables import SOURCES, landing_table
from stedi.lake import icelake
from stedi.lake.catalogs import forget_catalogs
from stedi.lake.iceberg import IcebergLake
from stedi.lake.icelake import IcebergTables
from stedi.run import freshness
from stedi.run.folder import RunFolder
from stedi.run.pipeline import ZONE_STEPS

# One worker for the module: its tests share the small build (`small`), made once.
pytestmark = [pytest.mark.e2e, pytest.mark.own_lake, pytest.mark.xdist_group("kill-points")]

DAY = 200  # records per source and day


def _write_day(raw: Path, day: int) -> None:
    for source in SOURCES:
        records = fx.real_records(source, DAY * day)[DAY * (day - 1) :]
        fx.write_exports(raw, source, [fx.Export(f"day{day}.json", fx.json_lines(records))])


def _scan(lake: IcebergLake, name: str) -> list[dict]:
    return lake.table(name).scan().to_arrow().to_pylist()


def _content(lake_dir) -> dict[str, tuple[int, str]]:
    """Every table and quarantine present: (rows, hash of its rows as a sorted bag), by
    pyiceberg."""
    forget_catalogs()  # another process committed: read the catalog afresh
    lake = IcebergLake(None, str(lake_dir))
    found = {}
    for name in lake.names():
        if lake.exists(name):
            rows = sorted(json.dumps(r, sort_keys=True, default=str) for r in _scan(lake, name))
            found[name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16])
    return found


def _stedi(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [*STEDI, *args], capture_output=True, text=True, cwd=config.PROJECT_ROOT, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """(base lake: day 1 built, raw dir with days 1 and 2, the erased customer's email and serial,
    the content of an uninterrupted build of day 2 with the erasure on a copy of the base, what
    the first of its two runs left). That build is a run of the landing alone (`--only`), which
    applies the erasure, then a run of every zone step (the landing up to date, skipped)."""
    where = tmp_path_factory.mktemp("kill-points")
    raw, base = where / "raw", where / "base"
    _write_day(raw, 1)
    stedi_run(base, where / "runs-base", "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    # The erased customer: consented, with readings and a device (in every zone's tables).
    forget_catalogs()
    lake = IcebergLake(None, str(base))
    curated = {r["email"]: r["serialNumber"] for r in _scan(lake, "customer_curated")}
    serials = {r["serialNumber"] for r in _scan(lake, "step_trainer_trusted")}
    email, serial = next((e, s) for e, s in sorted(curated.items()) if s in serials)
    _write_day(raw, 2)
    clean = _erasing_copy(base, where / "clean", email)
    landing = stedi_run(
        clean, where / "runs-clean", "--raw-dir", str(raw), "--only", ZONE_STEPS[0].name
    )
    partial = {
        "stdout": landing.stdout,
        "holding": holding(clean, email),
        "history_to_forget": icelake.history_to_forget(str(clean)),
    }
    stedi_run(clean, where / "runs-clean", "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    content = _content(clean)
    assert (
        holding(clean, email) == [] and holding(clean, serial) == []
    )  # the uninterrupted build erased them
    assert not icelake.history_to_forget(str(clean))
    return base, raw, email, serial, content, partial


def _erasing_copy(base: Path, dest: Path, email: str) -> Path:
    lake = copy_lake(base, dest)
    _stedi("erase", "--email", email, "--lake-dir", str(lake))
    return lake


def _killed(lake, runs, raw, point: str, *args: str) -> subprocess.CompletedProcess:
    """A `stedi run` killed at `point`: it must not succeed, and it must have reached the point."""
    done = stedi_run(
        lake,
        runs,
        "--raw-dir",
        str(raw),
        *(args or ZONE_STEPS_ONLY),
        check=False,
        env={config.KILL_POINT_ENV: point},
    )
    assert done.returncode != 0, f"{point}: the run was not killed\n{done.stdout}{done.stderr}"
    return done


def _assert_consistent(lake_dir, raw, runs) -> None:
    """(a) of a lake after a kill: every table and quarantine readable, with every data file of its
    current snapshot there and the rows its summary says; each finished landing table's accounting
    balances and matches its rows and its quarantine's; the killed run not recorded as succeeded,
    and no step it did not finish recorded as done in the run; every step freshness calls up to date
    has finished tables."""
    forget_catalogs()
    tables = IcebergTables(None, str(lake_dir))
    lake = tables.lake
    unfinished = tables.unfinished_pairs()
    for name in lake.names():
        assert tables.damaged(name) == [], name
        assert len(_scan(lake, name)) == lake.rows(name), name
    for source in SOURCES:
        name = landing_table(source)
        if name in unfinished:
            continue
        accounting = tables.snapshot_meta(name)["accounting"]
        assert accounting["read"] == (
            accounting["landed"]
            + accounting["quarantined"]
            + accounting["duplicates_dropped"]
            + accounting.get("erased", 0)
        ), name
        assert (lake.rows(name), lake.rows(lake.quarantine(name))) == (
            accounting["landed"],
            accounting["quarantined"],
        ), name
    manifest = RunFolder.latest(runs).read_manifest()
    # A step the run ran (not skipped as up to date) and recorded as succeeded has its completion
    # record.
    recorded = {
        s["name"] for s in manifest["steps"] if s["status"] == "succeeded" and not s.get("skipped")
    }
    folder = RunFolder.latest(runs)
    for step in ZONE_STEPS:
        if step.name in recorded:
            assert folder.read_record(step.name) is not None, step.name
        if freshness.up_to_date(step, str(lake_dir), "strict", str(raw)):
            assert not set(step.writes) & set(unfinished), step.name


def _assert_clean(lake_dir, small) -> None:
    """(b) and (c): the content of the uninterrupted run, and no file holding the erased
    customer."""
    _, _, email, serial, content, _ = small
    assert _content(lake_dir) == content
    assert holding(lake_dir, email) == [] and holding(lake_dir, serial) == []


# The kill points of the chain, one of each kind (a landing commit, the last landing commit, the
# ledger, the registry, a freshness record, a step's record, a zone table, the ML table, each expiry
# phase), in execution order, with how the run that is killed there starts:
# "run" a plain `stedi run` (it repairs what the kill before left), "resume" `stedi run --resume`.
CHAIN = (
    ("commit:customer_landing", "run"),  # a landing table committed, its quarantine not
    ("commit:step_trainer_landing_quarantine", "run"),  # every landing commit made, the ledger not
    ("commit:ledger", "run"),  # the ledger committed, the erasure request not marked done
    ("commit:registry", "run"),  # the request marked done, the step's freshness not recorded
    (
        "commit:freshness:00_raw_to_landing",
        "run",
    ),  # recorded up to date, the run's record not written
    ("commit:customer_trusted", "resume"),  # a trusted table committed, its step not recorded
    (
        "commit:record:04_step_trainer_landing_to_trusted",
        "run",
    ),  # the step's record written, the notebook not ended
    ("commit:machine_learning_curated", "resume"),
    (
        "expire:files:customer_trusted",
        "resume",
    ),  # every table done; forgetting the erasure's history
    (
        "expire:snapshots:machine_learning_curated",
        "run",
    ),  # the next run: nothing new, still forgetting
)


def test_killed_at_every_commit_of_every_step_and_during_expiry_the_next_run_completes(
    tmp_path, small
):
    """Each run of the chain is killed at its point (CHAIN) and starts by repairing the kill before.
    After each kill the lake is consistent; the last plain run ends with the uninterrupted run's
    tables and quarantines, and no file under the lake holds the erased customer."""
    base, raw, email, serial, content, _ = small
    lake, runs = _erasing_copy(base, tmp_path / "lake", email), tmp_path / "runs"
    for number, (point, how) in enumerate(CHAIN):
        done = _killed(
            lake, runs, raw, point, *(("--resume",) if how == "resume" else ZONE_STEPS_ONLY)
        )
        print(
            f"killed at {point}"
        )  # shown with a failure: the point after which the lake was checked
        _assert_consistent(lake, raw, runs)
        if point == "commit:customer_landing":
            forget_catalogs()
            assert IcebergTables(None, str(lake)).unfinished_pairs() == ["customer_landing"]
        if CHAIN[number - 1][0] == "commit:customer_landing":
            assert (
                "customer_landing: a killed run committed it but not its quarantine; landing it "
                "again" in done.stdout
            )
        if point.startswith("commit:"):
            status = RunFolder.latest(runs).read_manifest()["status"]
            assert status == "failed", (point, status)  # the killed step is not recorded as done
        else:
            # Killed after the run succeeded: the tables are the clean run's; the history not
            # forgotten yet.
            assert _content(lake) == content
            assert holding(lake, email) + holding(lake, serial) != [], point
    done = stedi_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    assert "nothing new" in done.stdout, done.stdout
    _assert_clean(lake, small)
    forget_catalogs()
    opened = IcebergLake(None, str(lake))
    assert all(len(opened.history(name)) == 1 for name in opened.names())


def test_a_kill_point_fires_only_where_it_is_named(tmp_path):
    """In a child process: an unnamed point does nothing, the named one SIGKILLs (exit -9), the
    first name of the landing pair's point still works."""
    code = (
        "from stedi.lake.faults import kill_point\n"
        "kill_point('commit:customer_trusted'); print('passed', flush=True)\n"
        "kill_point('commit:accelerometer_landing'); print('not reached')\n"
    )
    for named in ("commit:accelerometer_landing", "between-commits:accelerometer_landing"):
        done = subprocess.run(
            [STEDI[0], "-c", code],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, config.KILL_POINT_ENV: named},
        )
        assert (done.returncode, done.stdout) == (-9, "passed\n"), (named, done)


def test_a_kill_point_with_sigstop_freezes_the_process_there(tmp_path):
    """With $STEDI_TEST_KILL_SIGNAL=SIGSTOP the named point stops the process instead (a test then
    kills the whole run at that moment: tests/e2e/test_robustness.py); an unnamed point still does
    nothing."""
    code = (
        "from stedi.lake.faults import kill_point\n"
        "kill_point('staged:customer_trusted'); print('passed', flush=True)\n"
        "kill_point('staged:accelerometer_trusted'); print('not reached', flush=True)\n"
    )
    proc = subprocess.Popen(
        [STEDI[0], "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env=frozen_at("staged:accelerometer_trusted"),
    )
    wait_for(lambda: stopped(proc), proc, timeout=60)
    proc.kill()
    assert (proc.wait(), proc.stdout.read()) == (-signal.SIGKILL, "passed\n")


def test_the_history_to_forget_mark_lasts_until_the_history_is_forgotten(tmp_path):
    """Written before an erasure request is marked done; only a finished forget_history removes
    it."""

    assert not icelake.history_to_forget(str(tmp_path))
    icelake.mark_history_to_forget(str(tmp_path), "run-1")
    assert icelake.history_to_forget(str(tmp_path))
    icelake.forget_history(str(tmp_path))  # no lake here: nothing to expire, the mark goes
    assert not icelake.history_to_forget(str(tmp_path))


def test_an_erasure_applied_by_part_of_the_pipeline_is_forgotten_once_every_step_ran(small):
    """The first run of the `small` build (the landing alone, `--only`) applied the erasure, but the
    later steps' tables still held the customer: their history was kept, and the run said so, not
    that the trusted and curated rows went. The second run rebuilt them and forgot the history
    (`small` checks that no file holds the customer after it). Before, the landing run forgot the
    history, and the older snapshots of the later tables kept the customer for good."""
    *_, partial = small
    later = ", ".join(step.name for step in ZONE_STEPS[1:])
    assert "erasures applied: 1 request" in partial["stdout"], partial["stdout"]
    assert "and their trusted and curated rows" not in partial["stdout"]
    assert (
        f"the erased customers are still in the tables of {later} and in older snapshots"
        in partial["stdout"]
    )
    assert partial["holding"] != [] and partial["history_to_forget"]
