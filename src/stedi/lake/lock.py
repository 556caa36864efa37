"""One writer per lake: an advisory lock held for the whole of a run.

The lock is `fcntl.flock` on `<lake>/.stedi.lake.lock`. The operating system releases
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
                f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}, since {holder.get('since', '?')}); "
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
        if self.previous.get("run_id") and self.previous.get("host") == socket.gethostname() and pid and not _alive(pid):
            return f"took over the lake lock of run {self.previous['run_id']} (pid {pid} is no longer running)"
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
