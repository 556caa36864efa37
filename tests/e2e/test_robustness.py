"""Re-runs, crashes, concurrent runs: never lost, duplicated or half-written data.

The runs here start from a copy of a clean build (conftest.clean_builds), run the zone steps
(the analysis writes no table), and end compared, table by table, with the content
fingerprints of the clean builds (lakes.fingerprints). A lake holds one policy's tables: a run
with the other policy stops before writing anything."""

from __future__ import annotations

import json
import os
import shutil
import signal

import nbformat
import pytest

from lakes import (
    AFTER_LANDING,
    ZONE_STEPS_ONLY,
    copy_lake,
    fingerprints,
    frozen_at,
    kill_everything,
    start_run,
    stedi_run,
    stopped,
    wait_for,
)
from stedi import config
from stedi.core.tables import TABLES, table
from stedi.lake import icefiles
from stedi.lake.catalogs import forget_catalogs
from stedi.lake.iceberg import IcebergLake
from stedi.lake.lock import LOCK_FILE, LakeBusy, LakeLock
from stedi.lake.snapshots import RUN_ID
from stedi.run.folder import RunFolder
from stedi.run.pipeline import ZONE_STEPS


def _latest_manifest(runs) -> dict | None:
    try:
        return RunFolder.latest(runs).read_manifest()
    except (OSError, ValueError):
        return None


def _leftovers(lake_dir) -> dict[str, list[str]]:
    """Per table (and quarantine), the data files under it that no snapshot reaches (staged, never
    committed)."""
    forget_catalogs()  # another process committed: read the catalog afresh
    opened = IcebergLake(None, str(lake_dir))
    found = {}
    for name in opened.names():
        stray = [
            f
            for f in icefiles.unreachable(opened.table(name))
            if f"/{config.ICEBERG_DATA_DIR}/" in f
        ]
        if stray:
            found[name] = stray
    return found


def _snapshot_runs(lake_dir) -> dict[str, str]:
    """Table -> the run its current snapshot names."""
    forget_catalogs()
    opened = IcebergLake(None, str(lake_dir))
    return {name: opened.summary(name).get(RUN_ID) for name in TABLES}


@pytest.mark.e2e
def test_running_twice_gives_the_same_tables(tmp_path, sail, clean_builds, clean_fingerprints):
    # The first run is the clean strict build; the second runs on a copy of its lake.
    # --full: every step runs again (without it, each would be skipped as up to date).
    lake, runs = copy_lake(clean_builds("strict")[0], tmp_path / "lake"), tmp_path / "runs"
    before = _snapshot_runs(lake)
    stedi_run(lake, runs, "--full", *ZONE_STEPS_ONLY)
    assert fingerprints(sail, lake) == clean_fingerprints("strict")
    # Nothing appended, nothing left behind: the landing tables replaced by one overwrite each,
    # the trusted and curated ones unchanged (the same rows: no new snapshot), no staged file left.
    after = _snapshot_runs(lake)
    for name in TABLES:
        assert (after[name] == before[name]) == (table(name).zone != "landing"), name
    assert _leftovers(lake) == {}
    again = stedi_run(lake, runs, *ZONE_STEPS_ONLY)
    assert "nothing new" in again.stdout and fingerprints(sail, lake) == clean_fingerprints(
        "strict"
    )


@pytest.mark.e2e
def test_a_run_with_the_other_policy_on_a_built_lake_stops_with_one_line(tmp_path, clean_builds):
    lake, runs = copy_lake(clean_builds("strict")[0], tmp_path / "lake"), tmp_path / "runs"
    before = _snapshot_runs(lake)
    done = stedi_run(lake, runs, "--policy", "udacity", "--full", *ZONE_STEPS_ONLY, check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "holds policy strict's tables" in done.stderr and "--lake-dir" in done.stderr
    assert _snapshot_runs(lake) == before  # nothing replaced


@pytest.mark.e2e
def test_killed_mid_write_leaves_the_tables_as_they_were_and_resume_completes(
    tmp_path, sail, clean_builds, clean_fingerprints
):
    # The steps after the landing, recomputed. The run freezes itself the moment the files of
    # accelerometer_trusted are staged (written, not committed: the kill point
    # `staged:accelerometer_trusted`, stedi.lake.faults); then everything is killed (runner,
    # kernel, engine), the lake lock left behind.
    strict = clean_fingerprints("strict")
    lake, runs = copy_lake(clean_builds("strict")[0], tmp_path / "lake"), tmp_path / "runs"
    before = _snapshot_runs(lake)
    staging = lake / "trusted" / "accelerometer_trusted" / config.ICEBERG_DATA_DIR
    committed = set(
        staging.glob(f"{config.ICEBERG_STAGE_PREFIX}*")
    )  # the folders of the committed files
    proc = start_run(
        lake, runs, "--full", *AFTER_LANDING, env=frozen_at("staged:accelerometer_trusted")
    )
    wait_for(lambda: stopped(proc), proc)
    kill_everything(proc)
    # At the kill, accelerometer_trusted's new files were staged and no snapshot names them.
    staged = {
        os.path.realpath(f)
        for folder in set(staging.glob(f"{config.ICEBERG_STAGE_PREFIX}*")) - committed
        for f in folder.rglob("*.parquet")
    }
    assert staged, "no file of accelerometer_trusted was staged at the kill"
    leftovers = _leftovers(lake)
    unreachable = {os.path.realpath(icefiles._local(f)) for f in leftovers["accelerometer_trusted"]}
    assert staged <= unreachable
    assert (
        fingerprints(sail, lake) == strict
    )  # every table whole, as it was: nothing half-committed
    assert _snapshot_runs(lake) == before
    resumed = stedi_run(lake, runs, "--resume")
    assert "took over the lake lock of run" in resumed.stdout
    assert fingerprints(sail, lake) == strict
    manifest = _latest_manifest(runs)
    assert manifest["status"] == "succeeded"
    assert [s["name"] for s in manifest["steps"]] == [step.name for step in ZONE_STEPS[1:]]
    assert {s["status"] for s in manifest["steps"]} == {"succeeded"}


def _finished_steps(runs) -> int:
    manifest = _latest_manifest(runs)
    return sum(step["status"] == "succeeded" for step in manifest["steps"]) if manifest else 0


@pytest.mark.e2e
def test_killed_between_steps_then_resumed_equals_a_clean_run(
    tmp_path, sail, clean_builds, clean_fingerprints
):
    # Between the run's steps 2 and 3 (01, 02 done; 03 not begun): the runner kills itself at the
    # kill point `step:<03's name>` (stedi.lake.faults), its idle kernel ends with it.
    strict = clean_fingerprints("strict")
    lake, runs = copy_lake(clean_builds("strict")[0], tmp_path / "lake"), tmp_path / "runs"
    third = ZONE_STEPS[3].name  # step 3 of AFTER_LANDING
    killed = stedi_run(
        lake,
        runs,
        "--full",
        *AFTER_LANDING,
        check=False,
        env={config.KILL_POINT_ENV: f"step:{third}"},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    # The manifest records two finished steps; the third's notebook never started.
    assert _finished_steps(runs) == 2 and not RunFolder.latest(runs).notebook(third).exists()
    assert fingerprints(sail, lake) == strict and _leftovers(lake) == {}
    run_id = RunFolder.latest(runs).run_id
    resumed = stedi_run(lake, runs, "--resume", run_id)
    assert f"stedi run {run_id} (resuming at step 3)" in resumed.stdout
    assert fingerprints(sail, lake) == strict


@pytest.mark.e2e
@pytest.mark.own_lake  # an empty lake of its own: not on the clean builds' worker
def test_a_second_run_on_a_busy_lake_stops_at_once_naming_the_first(tmp_path):
    lake, runs = tmp_path / "lake", tmp_path / "runs"
    first = start_run(lake, runs)
    lock_file = lake / LOCK_FILE
    wait_for(lambda: lock_file.exists() and lock_file.read_text(), first)
    holder = json.loads(lock_file.read_text())["run_id"]
    second = stedi_run(lake, runs, check=False)
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1
    assert f"is being written by run {holder}" in second.stderr
    kill_everything(first)


def test_lake_lock_is_exclusive_and_released(tmp_path):
    first = LakeLock(tmp_path, "run-a").acquire()
    with pytest.raises(LakeBusy, match="being written by run run-a"):
        LakeLock(tmp_path, "run-b").acquire()
    first.release()
    with LakeLock(tmp_path, "run-b") as second:
        assert second.took_over is None  # run-a released it cleanly


def test_resume_refuses_a_run_that_succeeded_or_does_not_exist(tmp_path, capsys):
    from stedi.cli import main

    assert main(["run", "--runs-dir", str(tmp_path), "--resume", "nope"]) == 2
    assert "no run nope to resume" in capsys.readouterr().err
    run = tmp_path / "r1"
    run.mkdir()
    RunFolder(run).write_manifest({"run_id": "r1", "status": "succeeded"})
    assert main(["run", "--runs-dir", str(tmp_path), "--resume", "r1"]) == 2
    assert "run r1 succeeded; there is nothing to resume" in capsys.readouterr().err


def test_a_step_that_writes_no_table_fails_the_run(tmp_path, capsys):
    from stedi.cli import main

    notebooks = tmp_path / "notebooks"
    shutil.copytree(config.GLUE_SESSIONS_DIR, notebooks)
    path = notebooks / "00_raw_to_landing.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "step.land_all(" not in c.source]
    nbformat.write(nb, path)
    code = main(
        [
            "run",
            "--lake-dir",
            str(tmp_path / "lake"),
            "--runs-dir",
            str(tmp_path / "runs"),
            "--notebooks-dir",
            str(notebooks),
        ]
    )
    assert code == 1
    assert (
        "wrote no table customer_landing, accelerometer_landing, step_trainer_landing"
        in capsys.readouterr().err
    )
    manifest = RunFolder.latest(tmp_path / "runs").read_manifest()
    assert manifest["status"] == "failed"


@pytest.mark.e2e
@pytest.mark.own_lake
def test_a_raw_file_that_is_not_text_is_quarantined_and_the_run_goes_on(tmp_path):
    """64 KiB of random bytes as accelerometer/x.json and step_trainer/x.csv (issue 27, item 2):
    step 00 failed for every table on Sail. Now every other file lands, the bytes are in the
    quarantine as `not_text` records, and the accounting balances; the raw folder is untouched.

    On the default engine. The file is found not to be text before any engine reads it
    (stedi.core.intake.notext); that Spark makes of such files the same landed rows, quarantined
    records and accounting as Sail is tests/core/test_intake_engines.py::
    test_a_file_that_is_not_text_is_quarantined_the_same_on_both_engines, in-process."""
    import random

    import intake_fixtures as fx
    from stedi.core.intake import notext
    from stedi.core.tables import SOURCES
    from stedi.lake.iceberg import IcebergLake

    raw, lake, runs = tmp_path / "raw", tmp_path / "lake", tmp_path / "runs"
    for source in SOURCES:
        fx.write_exports(
            raw, source, [fx.Export("clean.json", fx.json_lines(fx.real_records(source, 200)))]
        )
    garbage = random.Random(2027).randbytes(64 * 1024)
    for path in (raw / "accelerometer" / "x.json", raw / "step_trainer" / "x.csv"):
        path.write_bytes(garbage)
    before = fx.tree_fingerprint(raw)
    done = stedi_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    assert "succeeded" in done.stdout.splitlines()[-1], done.stdout
    manifest = RunFolder.latest(runs).read_manifest()
    lines = {n: line for n, line in enumerate(garbage.split(b"\n"), 1) if line.strip(b" \t\r\n")}
    for source, name in (("accelerometer", "x.json"), ("step_trainer", "x.csv")):
        accounting = manifest["intake"][f"{source}_landing"]
        assert accounting["balanced"] and accounting["quarantine_reasons"] == {
            "not_text": len(lines)
        }
        assert (
            accounting["read"]
            == accounting["landed"] + len(lines) + accounting["duplicates_dropped"]
        )
        iceberg = IcebergLake(None, str(lake))  # the quarantine table, read by pyiceberg alone
        rows = iceberg.table(iceberg.quarantine(f"{source}_landing")).scan().to_arrow().to_pylist()
        assert {r["reason"] for r in rows} == {"not_text"}
        assert {r["source_file"] for r in rows} == {str(raw / source / name)}
        assert {r["position"]: notext.line_bytes(r["raw"]) for r in rows} == lines
    assert manifest["intake"]["customer_landing"]["quarantine_reasons"] == {}
    assert all(manifest["tables"][name]["rows"] > 0 for name in TABLES)
    assert fx.tree_fingerprint(raw) == before
    again = stedi_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    assert "nothing new" in again.stdout, again.stdout  # the file is in the ledger: not read again
