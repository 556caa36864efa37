"""Helpers for tests that compare whole lakes: content fingerprints, copies, running and killing
runs."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from stedi import config
from stedi.context import Engine
from stedi.core.fingerprint import content_fingerprint
from stedi.core.tables import TABLES
from stedi.lake.icelake import IcebergTables
from stedi.run.pipeline import ZONE_STEPS

STEDI = [sys.executable, "-m", "stedi.cli"]
# `stedi run` arguments for the zone steps alone: the lake's tables without the analysis,
# which reads them and writes none (for tests about the tables, it is time spent on nothing).
ZONE_STEPS_ONLY = ("--only", ",".join(step.name for step in ZONE_STEPS))
# The zone steps after the landing, on a lake that has its landing tables (a copy of a clean
# build: the intake does not depend on the policy).
AFTER_LANDING = ("--only", ",".join(step.name for step in ZONE_STEPS[1:]))


def fingerprints(session, lake_dir, policy="strict") -> dict[str, tuple[int, int]]:
    """table -> (rows, order-independent hash of every row's content), for every table present,
    read by `session` (the same on both engines; on Sail, the `sail` fixture, about ten times
    faster than classic Spark on a build of the real exports: 0.15 s against 1.2 s)."""
    from engines import on

    with on(Engine.of(session).value):
        lake = IcebergTables(session, str(lake_dir), policy=policy)
        found = {}
        for name in TABLES:
            if lake.exists(name):
                found[name] = content_fingerprint(lake.read(name))
        return found


def copy_lake(source, dest) -> Path:
    """A copy of a built lake to run on. Iceberg keeps absolute locations: the first open of the
    copy re-registers its tables at the copy (stedi.lake.icemaint.relocate_moved_tables), so that a
    run on the copy never writes into, or deletes from, the original."""
    shutil.copytree(source, dest)
    return Path(dest)


def iceberg_tables(lake_dir, *names, rows: int = 1) -> Path:
    """A lake whose tables `names` (and a landing table's quarantine) hold `rows` rows of nulls
    each, committed by pyiceberg alone (no engine): for tests of the runner, which reads only the
    catalog."""
    import pyarrow as pa

    from stedi.core.tables import table
    from stedi.lake.catalogs import forget_catalogs
    from stedi.lake.iceberg import IcebergLake
    from stedi.lake.iceschema import iceberg_schema

    lake = IcebergLake(None, str(lake_dir))
    for name in names:
        for each in [name] + ([lake.quarantine(name)] if table(name).zone == "landing" else []):
            columns = iceberg_schema(lake.place(each).columns).as_arrow()
            lake.ensure(each).append(pa.Table.from_pylist([{}] * rows, schema=columns))
    forget_catalogs()
    return Path(lake_dir)


def stedi_run(lake_dir, runs_dir, *args, check=True, env=None) -> subprocess.CompletedProcess:
    """`stedi run` on `lake_dir`; `env`: variables added to this process's environment."""
    done = subprocess.run(
        [*STEDI, "run", "--lake-dir", str(lake_dir), "--runs-dir", str(runs_dir), *args],
        capture_output=True,
        text=True,
        cwd=config.PROJECT_ROOT,
        env={**os.environ, **env} if env else None,
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
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def frozen_at(point: str) -> dict[str, str]:
    """The environment of a run that freezes itself (SIGSTOP) at kill point `point`
    (stedi.lake.faults), for `start_run(..., env=frozen_at(point))`: wait_for(stopped(proc)), then
    kill_everything(proc) kills the whole run at that moment."""
    return {**os.environ, config.KILL_POINT_ENV: point, config.KILL_SIGNAL_ENV: "SIGSTOP"}


def stopped(proc: subprocess.Popen) -> bool:
    """Whether the run or a process under it (its kernel) is stopped (frozen at its kill point)."""
    for pid in [proc.pid, *descendants(proc.pid)]:
        try:
            # /proc/<pid>/stat: "pid (name) state ...", the name may hold spaces and parentheses
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state in ("T", "t"):
            return True
    return False


def wait_for(condition, proc: subprocess.Popen, timeout: float = 300, every: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(
                f"the run ended before the moment to kill it: {proc.stderr.read()}"
            )
        if time.monotonic() > deadline:
            kill_everything(proc)
            raise AssertionError("timed out waiting for the moment to kill the run")
        time.sleep(every)
