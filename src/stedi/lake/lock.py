"""One writer per lake: an advisory lock held for the whole of a run.

On an S3 lake (`s3://bucket/prefix`) the lock is the object `<lake>/.stedi.lake.lock`, a lease
(stedi.core.shared_files): created only if there is none (If-None-Match), renewed by a thread
while the run works, removed at its end; a lease a killed run left is taken over once it has
expired (config.S3_LOCK_LEASE_SECONDS). See `LeaseLock`.

Locally the lock is `fcntl.flock` on `<lake>/.stedi.lake.lock`. The operating system releases
it when the holding process ends, however it ends (SIGKILL included), so a lock
left by a killed run is never in the way; the file keeps the last holder's
identity, which is how a second run names the run it is waiting for, and how a
takeover of a killed run's lock is reported.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

LOCK_FILE = ".stedi.lake.lock"


class LakeBusy(RuntimeError):
    """Another run holds the lake."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LakeLock:
    """The lake's lock: flock on a local lake; on an S3 lake a `LeaseLock` (LakeLock(...) returns
    one)."""

    def __new__(cls, lake_dir, run_id):
        if cls is LakeLock and str(lake_dir).startswith("s3://"):
            return LeaseLock(lake_dir, run_id)
        return super().__new__(cls)

    def __init__(self, lake_dir: str | os.PathLike[str], run_id: str):
        self.path = Path(lake_dir) / LOCK_FILE
        self.run_id = run_id
        self.fd: int | None = None
        self.previous: dict = {}

    def acquire(self) -> LakeLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise LakeBusy(
                f"lake {self.path.parent} is being written by run {holder.get('run_id', '?')} "
                f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}, since "
                f"{holder.get('since', '?')}); "
                "wait for it to finish"
            ) from None
        self.previous = self._holder(fd)
        os.ftruncate(fd, 0)
        os.pwrite(
            fd,
            json.dumps(
                {
                    "run_id": self.run_id,
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
            ).encode(),
            0,
        )
        os.fsync(fd)
        self.fd = fd
        return self

    @property
    def took_over(self) -> str | None:
        """A message when the last holder was a run that died without releasing the file."""
        pid = self.previous.get("pid")
        if (
            self.previous.get("run_id")
            and self.previous.get("host") == socket.gethostname()
            and pid
            and not _alive(pid)
        ):
            return (
                f"took over the lake lock of run {self.previous['run_id']} (pid {pid} is no "
                "longer running)"
            )
        return None

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    @staticmethod
    def _holder(fd: int) -> dict:
        try:
            return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        except (ValueError, OSError):
            return {}

    def __enter__(self) -> LakeLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


class LeaseLock:
    """The lock of an S3 lake: a lease object (stedi.core.shared_files) held by this run, renewed
    every third of its length by a daemon thread, released at the end. Another run meanwhile stops
    with LakeBusy naming the holder and its expiry; a lease left by a killed run is taken over
    once expired (`took_over` says so)."""

    def __init__(self, lake_dir: str, run_id: str, seconds: float | None = None):
        from stedi import config

        self.where = f"{str(lake_dir).rstrip('/')}/{LOCK_FILE}"
        self.run_id = run_id
        self.seconds = float(seconds or config.s3_lock_lease_seconds())
        self.owner = f"{run_id} (pid {os.getpid()} on {socket.gethostname()})"
        self.lease = None
        self.previous: dict = {}
        self._stop = None
        self._guard = None  # renewals and the release, one at a time

    def acquire(self) -> LeaseLock:
        import threading

        from stedi.core import shared_files

        text, _ = shared_files.read_versioned(self.where)
        try:
            self.previous = json.loads(text) if text else {}
        except ValueError:
            self.previous = {}
        try:
            self.lease = shared_files.acquire_lease(self.where, self.owner, self.seconds)
        except shared_files.LeaseHeld as exc:
            raise LakeBusy(
                f"lake {self.where.rsplit('/', 1)[0]} is being written by another run: {exc}; "
                "wait for it to finish (a killed run's lock is taken over once it expires)"
            ) from None
        self._stop, self._guard = threading.Event(), threading.Lock()
        threading.Thread(target=self._renew, name="stedi-lake-lease", daemon=True).start()
        return self

    def _renew(self) -> None:
        from stedi.core import shared_files

        while not self._stop.wait(self.seconds / 3):
            try:
                with self._guard:
                    if self.lease is None:
                        return
                    self.lease = shared_files.renew_lease(self.lease, self.seconds)
            except Exception as exc:  # taken over (it had expired) or S3 unreachable: say so, once
                import sys

                print(
                    f"stedi: the lake lock {self.where} could not be renewed: "
                    f"{' '.join(str(exc).split())}",
                    file=sys.stderr,
                )
                return

    @property
    def took_over(self) -> str | None:
        """A message when this run took over a lease another run had left (it had expired)."""
        owner = self.previous.get("owner")
        if owner and owner != self.owner:
            until = time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(self.previous.get("expires", 0)))
            )
            return f"took over the lake lock of run {owner} (its lease expired at {until})"
        return None

    def release(self) -> None:
        from stedi.core import shared_files

        if self._stop is None:
            return
        self._stop.set()
        with self._guard:
            if self.lease is not None:
                shared_files.release_lease(self.lease)
                self.lease = None

    def __enter__(self) -> LeaseLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
