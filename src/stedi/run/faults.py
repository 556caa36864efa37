"""Fault injection for the tests: `kill_point(name)` SIGKILLs the process when $STEDI_TEST_KILL_AT
names that point. The implementation and the list of points live in stedi.lake.faults (the lake's
commit and expiry code calls it too, and the lake layer may not import the run layer). The runner's
own point: `step:<step>`, before it starts a step's notebook."""

from __future__ import annotations

from stedi.lake.faults import kill_point

__all__ = ["kill_point"]
