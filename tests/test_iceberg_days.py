"""Days of exports on the Iceberg lake: each incremental run equals a
`--full` rebuild; a day that changes a table adds a snapshot and the earlier one still holds the
previous day's rows; an erasure run followed by forget_history leaves no file holding the customer.

The scenario of tests/test_incremental.py (its helpers), with the Iceberg lake's own assertions
instead of the version folders'. Every snapshot names the run and step that made it; a run that
applied an erasure forgets the history at its end; a damaged table (a data file of its current
snapshot deleted) and a landing table whose quarantine a killed run did not commit are rebuilt
by the next plain run.
"""

from __future__ import annotations

import subprocess

import pytest
from lake_files import holding
from lakes import STEDI, ZONE_STEPS_ONLY, stedi_run
from test_incremental import (
    STRICT_COUNTS,
    _day,
    _full,
    _lake_content,
    _manifest,
    _people,
)

from stedi import config
from stedi.lake.catalogs import forget_catalogs
from stedi.lake import icefiles
from stedi.lake.icelake import IcebergTables
from stedi.lake.icelake import IcebergTables

pytestmark = [pytest.mark.e2e, pytest.mark.own_lake]


@pytest.fixture(autouse=True)
def fresh_catalogs():
    yield
    forget_catalogs()


def _lake(spark, lake) -> IcebergTables:
    forget_catalogs()  # another process committed: read the catalog afresh
    opened = IcebergTables(spark, str(lake))
    assert isinstance(opened, IcebergTables)
    return opened


def _stedi(*args, code: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run([*STEDI, *args], capture_output=True, text=True, cwd=config.PROJECT_ROOT)
    assert done.returncode == code, done.stdout + done.stderr
    return done


def test_days_on_an_iceberg_lake_equal_full_rebuilds_with_a_snapshot_per_change(tmp_path, spark):
    raw, lake, runs = tmp_path / "raw", tmp_path / "lake", tmp_path / "runs"
    withdraws, _, _ = _people()

    _day(raw, 1)
    stedi_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    day1 = _lake(spark, lake)
    day1_run = _manifest(runs)["run_id"]
    day1_rows = day1.rows("accelerometer_landing")
    day1_snapshot = day1.lake.snapshot_id("accelerometer_landing")

    _day(raw, 2)
    stedi_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    modes = {name: acc["run"]["mode"] for name, acc in _manifest(runs)["intake"].items()}
    assert modes == {"customer_landing": "keep", "accelerometer_landing": "append", "step_trainer_landing": "append"}
    assert _lake_content(spark, lake) == _full(spark, raw, tmp_path, "day2")
    day2 = _lake(spark, lake)
    assert {name: day2.rows(name) for name in STRICT_COUNTS} == STRICT_COUNTS
    history = day2.lake.history("accelerometer_landing")
    assert [h["operation"] for h in history] == ["append", "append"]  # day 2 added rows: one append snapshot
    day2_run = _manifest(runs)["run_id"]
    assert (history[1]["run_id"], history[1]["step"], history[1]["policy"]) == (day2_run, "00_raw_to_landing", "strict")
    assert _manifest(runs)["tables"]["accelerometer_landing"]["snapshot_id"] == history[1]["snapshot_id"]
    assert history[0]["snapshot_id"] == day1_snapshot and history[1]["rows_total"] > day1_rows
    assert day2.lake.read("accelerometer_landing", day1_snapshot).count() == day1_rows  # day 1 as it was
    assert len(day2.lake.history("customer_landing")) == 1  # nothing new for it: no snapshot
    assert day2.unfinished_pairs() == []

    _day(raw, 3)  # a withdrawal, a late consent, a re-delivered readings file
    stedi_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    full3 = _full(spark, raw, tmp_path, "day3")
    assert _lake_content(spark, lake) == full3
    day3 = _lake(spark, lake)
    assert day3.lake.history("accelerometer_landing")[-1]["operation"] == "overwrite"  # replaced: one snapshot
    assert day3.read("customer_trusted").where(f"email = '{withdraws['email']}'").count() == 0

    # For users: `stedi history` lists the three runs' snapshots; `stedi sql --as-of` travels back.
    history = _stedi("history", "accelerometer_landing", "--lake-dir", str(lake)).stdout.splitlines()
    assert [line.split()[2] for line in history[1:]] == [day1_run, day2_run, _manifest(runs)["run_id"]]
    assert [line.split()[4] for line in history[1:]] == ["append", "append", "overwrite"]
    assert history[1].split()[-1] == f"{day1_rows:,}"
    query = "SELECT count(*) AS n FROM accelerometer_landing"
    as_of = _stedi("sql", query, "--as-of", day1_run, "--lake-dir", str(lake)).stdout
    assert as_of.split() == ["n", str(day1_rows)]
    unknown = _stedi("sql", query, "--as-of", "19990101T000000Z-strict-none", "--lake-dir", str(lake), code=2)
    assert unknown.stderr.count("\n") == 1 and "older than every snapshot the lake keeps" in unknown.stderr

    # A damaged table (a data file of its current snapshot gone), and a run killed between a
    # landing table's commit and its quarantine's (a stray row committed under another run's name):
    # the next plain run rebuilds both, and the lake is again a --full rebuild's.
    files, _ = icefiles.live_data_files(day3.lake.table("customer_trusted"))
    icefiles.delete_files([files[0].file_path])
    killed = day3.read("accelerometer_landing").limit(1)
    day3.name_run("killed-run", "00_raw_to_landing")
    day3.publish(day3.stage("accelerometer_landing", killed, append=True))
    assert day3.unfinished_pairs() == ["accelerometer_landing"]
    done = stedi_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    assert "accelerometer_landing: a killed run committed it but not its quarantine; landing it again" in done.stdout
    skipped = {e["name"] for e in _manifest(runs)["steps"] if e.get("skipped")}
    assert "01_customer_landing_to_trusted" not in skipped  # only its table was damaged: it ran again
    assert _lake_content(spark, lake) == full3
    assert _lake(spark, lake).unfinished_pairs() == []

    erase = subprocess.run([*STEDI, "erase", "--email", withdraws["email"], "--lake-dir", str(lake)],
                           check=False, capture_output=True, text=True, cwd=config.PROJECT_ROOT)
    assert erase.returncode == 0, erase.stderr
    stedi_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    # The run forgot the history at its end: no file, decoded, holds the customer.
    assert holding(lake, withdraws["email"]) == [] and holding(lake, withdraws["serialNumber"]) == []
    erased = _lake(spark, lake)
    assert all(len(erased.lake.history(name)) == 1 for name in erased.lake.names())
    assert _lake_content(spark, lake) == _full(spark, raw, tmp_path, "erased", lake_to_copy=lake)
