"""Fault injection for the tests: named points at which the process kills itself (SIGKILL).

`kill_point(name)` does nothing unless $STEDI_TEST_KILL_AT (config.KILL_POINT_ENV) names that
point: then the process sends itself SIGKILL, as a crash or an out-of-memory kill would, with
no clean-up (no `finally`, no lock release, no staged folder removed). Here, in the lake layer,
so that the lake's commit and expiry code can call it; stedi.run.faults names it for the run
machinery. Tested in tests/e2e/test_kill_points.py.

Every point is "right after X was made durable, before the next thing":

- `commit:<table>`: right after table `<table>`'s snapshot was committed (IcebergLake.publish),
  before anything else. `<table>` is any table of the lake: a landing table (then its
  quarantine's commit is next), `<landing table>_quarantine`, a trusted or a curated table
  (then the step's freshness record is next). The commit an erasure's rewrite makes too
  (stedi.lake.icemaint.erase). The first point's name, `between-commits:<landing table>`,
  still names `commit:<landing table>`.
- `commit:ledger`: step 00, after the intake's raw-file ledger was committed (every landing
  table and quarantine committed), before the erasure requests are marked done.
- `commit:registry`: step 00, after the erasure registry marked the run's requests done.
- `staged:<table>`: right after table `<table>`'s data files were written into its staging folder
  (IcebergLake.stage), before they are checked and committed: files on disk that no snapshot
  names.
- `commit:freshness:<step>`: after a step recorded what its tables were made from
  (`<lake>/_intake/steps.json`), before its completion record in the run folder.
- `commit:record:<step>`: after the step's completion record, before the notebook ends.
- `expire:snapshots:<table>`: the runner forgetting history after a run that applied an erasure
  (stedi.lake.icemaint.expire_and_vacuum): after `<table>`'s older snapshots were expired,
  before any file they alone reached is deleted.
- `expire:files:<table>`: the same, after the first of those files was deleted, before the others.
- `step:<step>`: the runner, right before it starts step `<step>`'s notebook (stedi.run.runner):
  the steps before it finished and recorded in the run's manifest, this one not begun.

The points in a kernel kill the kernel (the runner then finds the step failed); `expire:*` and
`step:*` points kill the runner itself (at `expire:*` the kernel has stopped by then; at
`step:*` the idle kernel, orphaned, ends when it sees its parent gone).

$STEDI_TEST_KILL_SIGNAL (config.KILL_SIGNAL_ENV) names another signal to send instead: with
`SIGSTOP` the process freezes at the point, so that a test can kill the whole run at that moment
(the runner, its kernel and engine: a crash of the machine, the lake lock left behind), as
tests/e2e/test_robustness.py does.
"""

from __future__ import annotations

import os
import signal

from stedi import config

FIRST_NAME = "between-commits:"  # `between-commits:<landing table>` is `commit:<landing table>`


def kill_point(name: str) -> None:
    """SIGKILL this process when $STEDI_TEST_KILL_AT is `name` (tests only; see the module
    docstring)."""
    wanted = os.environ.get(config.KILL_POINT_ENV)
    if wanted and (wanted == name or wanted.replace(FIRST_NAME, "commit:", 1) == name):
        os.kill(os.getpid(), signal.Signals[os.environ.get(config.KILL_SIGNAL_ENV) or "SIGKILL"])
