"""Fault injection for the tests: a named point at which the process kills itself.

`kill_point(name)` does nothing unless $STEDI_TEST_KILL_AT (config.KILL_POINT_ENV) names that
point: then the process sends itself SIGKILL, as a crash or an out-of-memory kill would, with
no clean-up. The points: `between-commits:<landing table>` (after a landing table's commit,
before its quarantine's: stedi.run.step).
"""

from __future__ import annotations

import os
import signal

from stedi import config


def kill_point(name: str) -> None:
    if os.environ.get(config.KILL_POINT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
