"""Helpers for tests that compare whole lakes: content fingerprints, copies, running and killing runs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from pyspark.sql import functions as F

from stedi import config
from stedi.lake.store import Lake
from stedi.core.tables import TABLES
from stedi.run.pipeline import ZONE_STEPS

STEDI = [sys.executable, "-m", "stedi.cli"]
# `stedi run` arguments for the zone steps alone: the lake's tables without the analysis,
# which reads them and writes none (for tests about the tables, it is time spent on nothing).
ZONE_STEPS_ONLY = ("--only", ",".join(step.name for step in ZONE_STEPS))
# The zone steps after the landing, on a lake that has its landing tables (a copy of a clean
# build: the intake does not depend on the policy).
AFTER_LANDING = ("--only", ",".join(step.name for step in ZONE_STEPS[1:]))


def fingerprints(spark, lake_dir, policy="strict") -> dict[str, tuple[int, int]]:
    """table -> (rows, order-independent hash of every row's content), for every table present."""
    lake = Lake(spark, str(lake_dir), policy=policy)
    found = {}
    for name in TABLES:
        if lake.exists(name):
            df = lake.read(name)
            row = df.agg(F.count(F.lit(1)), F.sum(F.xxhash64(*df.columns).cast("decimal(38,0)"))).first()
            found[name] = (row[0], int(row[1] or 0))
    return found


def copy_lake(source, dest) -> Path:
    """A copy of a built lake to run on. Each table is a link to its current version, relative
    to the lake (stedi.lake.store), so the links are copied as links and point into the copy."""
    shutil.copytree(source, dest, symlinks=True)
    for link in Path(dest).glob("*/*"):
        if link.is_symlink():
            assert link.resolve().is_relative_to(Path(dest).resolve()), link
    return Path(dest)


def stedi_run(lake_dir, runs_dir, *args, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [*STEDI, "run", "--lake-dir", str(lake_dir), "--runs-dir", str(runs_dir), *args],
        capture_output=True,
        text=True,
        cwd=config.PROJECT_ROOT,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def start_run(lake_dir, runs_dir, *args, **popen) -> subprocess.Popen:
    """`stedi run` started in a process group of its own (signal it with os.killpg(proc.pid, ...));
    `popen`: more subprocess.Popen arguments (env, preexec_fn)."""
    return subprocess.Popen(
        [*STEDI, "run", "--lake-dir", str(lake_dir), "--runs-dir", str(runs_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=config.PROJECT_ROOT,
        start_new_session=True,
        **popen,
    )


def descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def kill_everything(proc: subprocess.Popen) -> None:
    """SIGKILL the runner and every process under it (kernel, JVM): no clean-up runs."""
    for pid in [proc.pid, *descendants(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def wait_for(condition, proc: subprocess.Popen, timeout: float = 300, every: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before the moment to kill it: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            kill_everything(proc)
            raise AssertionError("timed out waiting for the moment to kill the run")
        time.sleep(every)
