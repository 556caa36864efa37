"""Ctrl-C during `stedi run` (stedi.run.interrupt): one line, exit 130, a manifest that says so,
the lake as it was, the lock released, and `stedi run --resume` completes the run.

Both ways of sending it, on a real `stedi run` in a process group of its own: SIGINT to the
whole group, as a terminal's Ctrl-C does, and SIGINT to the `stedi` process alone. The run is
a copy of the session's clean strict build (conftest.clean_builds) running steps 01 and 03
again (`--full`), from a copy of the notebooks whose step 01 holds in a cell before it
publishes while $STEDI_TEST_HOLD names a file: the signal is sent while that cell runs, so
it lands at the same point every time, and a run that did not stop would hold until the
test's timeout. The resume runs without the variable: the cell passes at once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from lakes import (
    copy_lake,
    descendants,
    fingerprints,
    kill_everything,
    start_run,
    stedi_run,
    wait_for,
)
from stedi import config
from stedi.cli import main
from stedi.lake.lock import LakeLock
from stedi.run.folder import RunFolder
from stedi.run.interrupt import GRACE_SECONDS

pytestmark = pytest.mark.e2e

STEP = "01_customer_landing_to_trusted"
HOLD_ENV = "STEDI_TEST_HOLD"
HOLD_CELL = f"""import os, pathlib, time
hold = os.environ.get("{HOLD_ENV}", "")
if hold:
    pathlib.Path(hold + ".reached").touch()
    while pathlib.Path(hold).exists():
        time.sleep(0.05)"""


def _notebooks_holding(tmp_path: Path) -> Path:
    """A copy of glue_sessions/ whose step 01 runs HOLD_CELL just before it publishes its table."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(config.GLUE_SESSIONS_DIR, notebooks)
    path = notebooks / f"{STEP}.ipynb"
    nb = nbformat.read(path, as_version=4)
    at = next(i for i, cell in enumerate(nb.cells) if "step.publish(" in cell.source)
    nb.cells.insert(at, nbformat.v4.new_code_cell(HOLD_CELL))
    nbformat.write(nb, path)
    return notebooks


def _kernel_of(proc: subprocess.Popen) -> int:
    """The process id of the run's kernel (started by jupyter_client under the `stedi` process)."""
    for pid in descendants(proc.pid):
        try:
            if b"ipykernel_launcher" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    raise AssertionError("the run has no kernel")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("way", ["group", "stedi alone"])
def test_ctrl_c_stops_the_run_in_one_line_and_resume_completes_it(
    tmp_path, way, sail, clean_builds, clean_fingerprints
):
    lake, runs = copy_lake(clean_builds("strict")[0], tmp_path / "lake"), tmp_path / "runs"
    hold = tmp_path / "hold"
    hold.touch()
    popen = {"env": {**os.environ, HOLD_ENV: str(hold)}}
    if way == "group":
        # As the issue measured it: a `stedi run` started in the background by a shell without job
        # control inherits SIGINT ignored (and before, ignored it to the end of the run, exit 0).
        popen["preexec_fn"] = _ignore_sigint
    proc = start_run(
        lake,
        runs,
        "--full",
        "--only",
        "01,03",
        "--notebooks-dir",
        str(_notebooks_holding(tmp_path)),
        **popen,
    )
    try:
        wait_for(lambda: Path(f"{hold}.reached").exists(), proc, timeout=240)
        kernel = _kernel_of(proc)
        # jupyter_client starts the kernel in a session of its own: a terminal's Ctrl-C does not
        # reach it.
        assert os.getpgid(kernel) != os.getpgid(proc.pid)
        sent = time.monotonic()
        if way == "group":
            os.killpg(
                proc.pid, signal.SIGINT
            )  # the foreground process group, as a terminal sends it
            os.killpg(
                os.getpgid(kernel), signal.SIGINT
            )  # and the kernel too, as the issue describes
        else:
            os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        stopped_after = time.monotonic() - sent
    finally:
        hold.unlink(missing_ok=True)
        if proc.poll() is None:
            kill_everything(proc)
    folder = RunFolder.latest(runs)
    assert proc.returncode == 130, out + err
    assert (
        err
        == f"stedi: run {folder.run_id} interrupted in step {STEP}; `stedi run --resume` continues "
        "it\n"
    )
    assert f"[1/2] {STEP} ... interrupted (" in out and "(interrupted, " in out
    # Promptly: the kernel stopped the cell itself (not killed after the grace period).
    assert stopped_after < GRACE_SECONDS, stopped_after
    manifest = folder.read_manifest()
    assert manifest["status"] == "interrupted"
    [entry] = manifest["steps"]
    assert entry["name"] == STEP and entry["status"] == "interrupted"
    assert (
        entry["error"].startswith("interrupted (SIGINT) in cell [")
        and '("import os, pathlib, time")' in entry["error"]
    )
    # The lock was released, and the lake is the clean build still: step 01 stopped before
    # publishing.
    with LakeLock(lake, "next") as lock:
        assert lock.took_over is None
    assert fingerprints(sail, lake) == clean_fingerprints("strict")

    assert main(["report", "--runs-dir", str(runs)]) == 0  # `stedi report` finds the run
    index = (folder.path / "index.html").read_text()
    assert (
        f"The run was interrupted in step {STEP}." in index
        and (folder.path / f"{STEP}.html").is_file()
    )

    resumed = stedi_run(lake, runs, "--resume")  # without $STEDI_TEST_HOLD: the cell passes
    assert f"stedi run {folder.run_id} (resuming at step 1)" in resumed.stdout
    manifest = folder.read_manifest()
    assert manifest["status"] == "succeeded"
    assert [(s["name"], s["status"]) for s in manifest["steps"]] == [
        (STEP, "succeeded"),
        ("03_customer_trusted_to_curated", "succeeded"),
    ]
    assert fingerprints(sail, lake) == clean_fingerprints("strict")
