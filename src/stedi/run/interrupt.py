"""Ctrl-C during `stedi run`: the run stops at once, says so in one line, and can be resumed.

A terminal's Ctrl-C sends SIGINT to its foreground process group: the `stedi` process. The
notebooks' kernel is not in that group (jupyter_client starts every kernel in a session of
its own), so the kernel would go on with its notebook; and a `stedi` started in the
background by a shell without job control inherits SIGINT ignored, which Python keeps (it
installs its KeyboardInterrupt handler only over the default action). So while a run lasts,
`RunInterrupt` handles SIGINT itself, whatever it inherited:

- the first SIGINT marks the run interrupted: papermill starts no further cell
  (`kernel_running`, called before each cell), and after `FORWARD_SECONDS` the signal is
  passed on to the kernel if its notebook is still running: the cell executing stops with
  KeyboardInterrupt (a step's `except BaseException` clean-up runs, its staged tables are
  discarded). The short wait lets a kernel that got the signal itself (someone signalled its
  group too) finish with it first: a second SIGINT while ipykernel handles the first can lose
  the cell's reply ("KeyboardInterrupt caught in kernel"), and papermill would wait for it.
  A kernel that has not ended the cell after `GRACE_SECONDS` is killed (SIGKILL to its
  process group: the kernel and its JVM);
- a second SIGINT kills the kernel at once.

In the run's shared kernel a KeyboardInterrupt shows Python's plain traceback (`show_interrupt`):
IPython's own, highlighted with the code around every frame, took 5.9 s to format for a
60-frame matplotlib stack on this machine, and the run waited for it.

The handler raises nothing in the runner itself: the runner finishes the step it was waiting
for, writes the manifest (status "interrupted"), releases the lake lock and returns; the CLI
prints one line and exits 130. What a killed kernel leaves is what a killed run leaves: every
publish is atomic, so each table holds its previous or its new version.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

FORWARD_SECONDS = 0.2
GRACE_SECONDS = 10.0
# The one line of an interrupted run's step entry, and what a step's error says when its kernel
# stopped it with KeyboardInterrupt (the kernel may get a terminal's SIGINT first).
INTERRUPTED = "interrupted (SIGINT)"
KEYBOARD_INTERRUPT = "KeyboardInterrupt"


class RunInterrupted(Exception):
    """Raised before a notebook's next cell once the run is interrupted: papermill stops there."""


def _signal_kernel(km, signum: int) -> None:
    """Send `signum` to a local kernel's process group (the kernel and its children), else to its
    process."""
    provisioner = getattr(km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(OSError):
        pgid = getattr(provisioner, "pgid", None)
        if pgid and pgid != os.getpgrp():  # never our own group
            os.killpg(pgid, signum)
            return
        process.send_signal(signum)


class RunInterrupt:
    """SIGINT while a run lasts (see the module docstring). `with RunInterrupt() as interrupt:`."""

    def __init__(
        self, forward_seconds: float = FORWARD_SECONDS, grace_seconds: float = GRACE_SECONDS
    ):
        self.forward_seconds = forward_seconds
        self.grace_seconds = grace_seconds
        self.signals = 0
        self._km = None  # the kernel manager of the notebook executing now
        self._timers: list[threading.Timer] = []
        # Reentrant: the handler runs on the main thread, maybe while that thread holds the lock.
        self._lock = threading.RLock()
        self._previous = None
        self._installed = False

    @property
    def requested(self) -> bool:
        return self.signals > 0

    def __enter__(self) -> RunInterrupt:
        try:
            self._previous = signal.signal(signal.SIGINT, self._on_signal)
            self._installed = True
        except ValueError:  # not the main thread: SIGINT stays as it is
            self._installed = False
        return self

    def __exit__(self, *exc) -> None:
        self.kernel_done()
        if self._installed:
            signal.signal(
                signal.SIGINT, self._previous if self._previous is not None else signal.SIG_DFL
            )
            self._installed = False

    # -- the notebook executing now ------------------------------------------------
    def kernel_running(self, km) -> None:
        """`km`'s kernel executes the current notebook (called before each cell); raises
        RunInterrupted once the run is interrupted, so that papermill starts no further cell."""
        with self._lock:
            self._km = km
        if self.requested:
            raise RunInterrupted(INTERRUPTED)

    def kernel_done(self) -> None:
        """The current notebook ended: nothing to interrupt until the next one."""
        with self._lock:
            self._km = None
            for timer in self._timers:
                timer.cancel()
            self._timers = []

    # -- SIGINT -----------------------------------------------------------------------
    def _on_signal(self, signum, frame) -> None:
        self.signals += 1
        with self._lock:
            km = self._km
            if km is None:
                return
            if self.signals > 1:
                _signal_kernel(km, signal.SIGKILL)
                return
            for delay, action in (
                (self.forward_seconds, self._forward),
                (self.grace_seconds, self._kill),
            ):
                timer = threading.Timer(delay, action, args=(km,))
                timer.daemon = True
                timer.start()
                self._timers.append(timer)

    def _forward(self, km) -> None:
        with self._lock:
            if self._km is km:  # its notebook still runs
                _signal_kernel(km, signal.SIGINT)

    def _kill(self, km) -> None:
        with self._lock:
            if self._km is km:
                _signal_kernel(km, signal.SIGKILL)


def show_interrupt(shell, etype, value, tb, tb_offset=None):
    """IPython's handler of KeyboardInterrupt in the run's kernel (`shell.set_custom_exc`): the
    error output shows Python's plain traceback, formatted at once (see the module docstring)."""
    import traceback

    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # a repeated Ctrl-C while this shows: ipykernel restores it after the cell
    stb = traceback.format_exception(etype, value, tb)
    value._render_traceback_ = lambda: (
        stb
    )  # IPython shows an exception's own rendering when it has one
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    return stb


def stopped_by_interrupt(error: str | None) -> bool:
    """Whether a step's error is its kernel's KeyboardInterrupt (or papermill stopped on the
    interrupt)."""
    if not error:
        return False
    return KEYBOARD_INTERRUPT in error or RunInterrupted.__name__ in error
