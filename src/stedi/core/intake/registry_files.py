"""The files of the erasure registry (stedi.core.intake.erasure) on the local disk or S3: its lock,
its key, and whole-file writes. On S3 the key is created with a conditional write (only if there
is none); the requests file is changed with stedi.core.shared_files.update_text
(erasure.Erasures.update).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets

from stedi.atomic_files import write_atomic
from stedi.core import storage

ERASURE_DIR = "_erasure"
KEY_FILE = "key"


def _path(lake_root: str, name: str) -> str:
    lake_root = str(lake_root)
    if storage.is_s3(lake_root):
        return f"{lake_root.rstrip('/')}/{ERASURE_DIR}/{name}"
    return os.path.join(lake_root, ERASURE_DIR, name)


@contextlib.contextmanager
def _registry_lock(lake_root: str):
    """An exclusive lock on the lake's registry folder (`fcntl.flock`; released if the process
    dies)."""
    if storage.is_s3(lake_root):
        yield
        return
    folder = os.path.join(lake_root, ERASURE_DIR)
    os.makedirs(folder, exist_ok=True)
    fd = os.open(os.path.join(folder, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _create_key(lake_root: str) -> str:
    """A new key for the lake. On S3 written only if there is none (If-None-Match): of two processes
    creating it at once, the one that lost takes the other's."""
    key = secrets.token_hex(32)
    if storage.is_s3(str(lake_root)):
        from stedi.core import shared_files

        if not shared_files.conditional_writes():  # Glue 5.0's botocore: its jobs run one at a time
            _write(_path(lake_root, KEY_FILE), key + "\n")
            return key
        try:
            shared_files.write_if(_path(lake_root, KEY_FILE), key + "\n", None)
        except shared_files.WriteConflict:
            return (storage.read_text(_path(lake_root, KEY_FILE)) or "").strip()
        return key
    _write(_path(lake_root, KEY_FILE), key + "\n")
    return key


def _write(where: str, text: str) -> None:
    """Write a registry file whole: on S3 in one PUT; locally readable by the owner only, through a
    rename."""
    if storage.is_s3(where):
        storage.write_text(where, text)
        return
    write_atomic(where, text, mode=0o600)
