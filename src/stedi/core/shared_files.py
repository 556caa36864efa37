"""Small files that several processes change at once, on S3 or the local disk: conditional
writes and leases (the storage functions the erasure registry and the run lock build on).

- `read_versioned` / `write_if` / `delete_if`: a file written (or deleted) only if it is still
  at the version read: on S3 its ETag, with `If-Match` (or `If-None-Match: *`, "only if there
  is none"); locally the content's SHA-256, checked under a flock. A writer that lost gets
  WriteConflict (S3 answers 412, or 409 when two conditional writes race).
- `update_text`: read, change, write; after a conflict, read again and retry.
- `acquire_lease` / `renew_lease` / `release_lease`: a lock object holding an owner and an
  expiry, taken over once expired (a killed holder's lock never goes away by itself).

Glue 5.0's botocore (1.34.131) has no IfMatch/IfNoneMatch: `conditional_writes()` is False
there, `write_if` stops with one line and `update_text` reads and writes once (safe only for
writers that never run at once, as the deployed workflow's jobs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path

from stedi.core.storage import _split_object, is_s3, s3_client, s3_errors, write_text
from stedi.errors import StorageError


class WriteConflict(Exception):
    """A conditional write lost: the file changed, appeared or went since it was read."""


class LeaseHeld(Exception):
    """Another owner holds a lease that has not expired (the message names it and its expiry)."""


def conditional_writes() -> bool:
    """Whether this botocore's PutObject takes IfMatch and IfNoneMatch (S3's conditional writes).
    Glue 5.0's botocore 1.34.131 does not: there, writers must not run at once (the deployed
    workflow and its jobs run one at a time)."""
    members = s3_client().meta.service_model.operation_model("PutObject").input_shape.members
    return "IfMatch" in members and "IfNoneMatch" in members


def read_versioned(where: str) -> tuple[str | None, str | None]:
    """(text, version) of a small file, (None, None) when there is none; the version is S3's ETag,
    locally the content's SHA-256. Errors as read_text."""
    if is_s3(where):
        bucket, key = _split_object(where)
        try:
            with s3_errors(where, bucket, missing=FileNotFoundError):
                got = s3_client().get_object(Bucket=bucket, Key=key)
                return got["Body"].read().decode("utf-8"), got["ETag"]
        except FileNotFoundError:
            return None, None
    path = Path(where)
    if not path.is_file():
        return None, None
    data = path.read_bytes()
    return data.decode("utf-8"), _local_version(data)


def _local_version(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def _local_lock(where: str):
    import fcntl

    folder = os.path.dirname(os.path.abspath(where))
    os.makedirs(folder, exist_ok=True)
    fd = os.open(
        os.path.join(folder, f".{os.path.basename(where)}.lock"), os.O_RDWR | os.O_CREAT, 0o600
    )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_if(where: str, text: str, version: str | None) -> str:
    """Write a small file whole only if it is still at `version` (None: only if there is none);
    its new version. WriteConflict otherwise. S3: one PUT with If-Match / If-None-Match: *
    (StorageError when this botocore has no conditional writes); locally under a flock."""
    data = text.encode("utf-8")
    if not is_s3(where):
        from stedi.atomic_files import write_atomic

        with _local_lock(where):
            _, current = read_versioned(where)
            if current != version:
                raise WriteConflict(f"{where} changed since it was read")
            write_atomic(where, data)
        return _local_version(data)
    if not conditional_writes():
        import botocore

        raise StorageError(
            f"botocore {botocore.__version__} has no conditional writes (If-Match): "
            f"cannot change {where} safely alongside other writers"
        )
    bucket, key = _split_object(where)
    condition = {"IfMatch": version} if version else {"IfNoneMatch": "*"}
    # If-Match on an object that went: NoSuchKey, a conflict too
    with s3_errors(where, bucket, missing=WriteConflict, conflict=WriteConflict):
        return s3_client().put_object(Bucket=bucket, Key=key, Body=data, **condition)["ETag"]


def delete_if(where: str, version: str) -> None:
    """Delete a small file only if it is still at `version`; WriteConflict otherwise (gone counts
    too)."""
    if not is_s3(where):
        with _local_lock(where):
            if read_versioned(where)[1] != version:
                raise WriteConflict(f"{where} changed since it was read")
            os.unlink(where)
        return
    bucket, key = _split_object(where)
    with s3_errors(where, bucket, missing=WriteConflict, conflict=WriteConflict):
        s3_client().delete_object(Bucket=bucket, Key=key, IfMatch=version)


def update_text(where: str, change, attempts: int = 20) -> str | None:
    """Change a small file that other processes change too: read it (None when there is none), write
    `change(text)` only if nobody wrote in between, else read again and retry; `change` returning
    None writes nothing. Returns what was written (or None). Without conditional writes (Glue 5.0's
    botocore) one read and one write: the caller's writers must not run at once."""
    import random
    import time

    for attempt in range(attempts):
        text, version = read_versioned(where)
        new = change(text)
        if new is None:
            return None
        if is_s3(where) and not conditional_writes():
            write_text(where, new)
            return new
        try:
            write_if(where, new, version)
            return new
        except WriteConflict:
            time.sleep(random.uniform(0, 0.05 * (attempt + 1)))
    raise StorageError(f"{where}: {attempts} writers in a row changed it first; try again")


@dataclasses.dataclass(frozen=True)
class Lease:
    """A lock object held by `owner` until `expires` (seconds since the epoch), at `version`."""

    where: str
    owner: str
    expires: float
    version: str


def _lease_text(owner: str, expires: float) -> str:
    import json

    return json.dumps({"owner": owner, "expires": expires}) + "\n"


def acquire_lease(where: str, owner: str, seconds: float, now=None) -> Lease:
    """Take the lock object `where` for `seconds`: create it if there is none, or take it over when
    its lease has expired (a killed holder's lock never goes away by itself). LeaseHeld, naming the
    holder and its expiry, while another owner's lease runs; a renewal by the same owner is
    allowed."""
    import json
    import time

    clock = now or time.time
    for _ in range(20):
        text, version = read_versioned(where)
        held = json.loads(text) if text else None
        if held and held.get("owner") != owner and float(held.get("expires", 0)) > clock():
            until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(held["expires"])))
            raise LeaseHeld(f"{where} is held by {held.get('owner')} until {until}")
        expires = clock() + seconds
        try:
            return Lease(
                where, owner, expires, write_if(where, _lease_text(owner, expires), version)
            )
        except WriteConflict:
            continue  # someone else took or renewed it in between: look again
    raise LeaseHeld(f"{where} keeps changing hands; try again")


def renew_lease(lease: Lease, seconds: float, now=None) -> Lease:
    """Extend a lease still held (WriteConflict when it was taken over meanwhile)."""
    import time

    expires = (now or time.time)() + seconds
    return dataclasses.replace(
        lease,
        expires=expires,
        version=write_if(lease.where, _lease_text(lease.owner, expires), lease.version),
    )


def release_lease(lease: Lease) -> bool:
    """Remove the lock object if it is still this lease's; False when another owner had taken it
    over."""
    try:
        delete_if(lease.where, lease.version)
    except WriteConflict:
        return False
    return True
