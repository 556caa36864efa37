"""Folders and files on the local disk or on S3, for the raw exports a run reads.

Every function takes a local path or an `s3://bucket/key` URI. S3 goes through boto3
with the standard settings: credentials from the usual chain, the region from
AWS_DEFAULT_REGION, AWS_REGION or the profile, the endpoint from AWS_ENDPOINT_URL
(the tests point it at a moto server). The client is created on first use, once
per distinct set of those settings.

S3 has no folders: a "folder" is a key prefix ending in `/`, and keys that end in
`/` (the empty "folder markers" consoles create) are not files.

S3 errors are never read as "missing": only NoSuchKey (or a 404 on an object) means a file
is not there (read_text: None; open_binary, head: FileNotFoundError); a folder is missing
when no key has its prefix. Anything else (a missing bucket, AccessDenied, throttling after
botocore's retries, no credentials, an unreachable endpoint) raises StorageError: one line
naming the bucket or object and S3's error code.
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import gzip
import os
import shutil
import tempfile
import threading
from pathlib import Path

from stedi.errors import StorageError

S3_SCHEME = "s3://"
# JSON whitespace and the byte-order mark: what a blank export file may hold (as stedi.core.intake).
BLANK_CHARACTERS = " \t\r\n\ufeff"
_CHUNK = 64 * 1024  # bytes read at a time by is_blank
_PAGE_SIZE = 1000  # keys per ListObjectsV2 page (S3's maximum; the tests make it small)

# The settings boto3 reads from the environment that decide which client we get.
_CLIENT_SETTINGS = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)
_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def temporary_folder(prefix: str) -> str:
    """A new local folder under the system's temporary folder, removed when the process exits
    (if its owner did not remove it first: a result never released leaves nothing behind)."""
    folder = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, folder, True)
    return folder


def is_s3(uri: str) -> bool:
    """Whether `uri` names an S3 location (`s3://bucket/...`)."""
    return str(uri).startswith(S3_SCHEME)


def folder_exists(folder: str) -> bool:
    """A local directory; on S3, a prefix with at least one object under `folder/`."""
    if not is_s3(folder):
        return Path(folder).is_dir()
    bucket, prefix = _split_folder(folder)
    with s3_errors(folder, bucket):
        listed = s3_client().list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return bool(listed.get("KeyCount") or listed.get("Contents"))


def list_files(folder: str) -> list[str]:
    """The regular files directly in `folder` (not in its subfolders), sorted; [] when it does not
    exist.

    Local files come back as `os.path.join(folder, name)` (absolute when `folder` is);
    S3 objects as `s3://bucket/key`. Nothing is filtered by name: hidden files
    (`.x`, `_SUCCESS`) are listed too.
    """
    if not is_s3(folder):
        try:
            with os.scandir(folder) as entries:
                return sorted(os.path.join(folder, e.name) for e in entries if e.is_file())
        except (FileNotFoundError, NotADirectoryError):
            return []
    bucket, prefix = _split_folder(folder)
    paginator = s3_client().get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/", PaginationConfig={"PageSize": _PAGE_SIZE}
    )
    found = []
    with s3_errors(folder, bucket):
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                if not key.endswith("/"):
                    found.append(f"{S3_SCHEME}{bucket}/{key}")
    return sorted(found)


def is_blank(path: str) -> bool:
    """Whether the file holds nothing but JSON whitespace and byte-order marks (gunzipped if `.gz`).

    Bytes are decoded as UTF-8 (an invalid byte counts as a character, so as not
    blank) and read in chunks only until the first other character.
    """
    with open_binary(path) as raw:
        handle = gzip.GzipFile(fileobj=raw, mode="rb") if str(path).endswith(".gz") else raw
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while True:
            chunk = handle.read(_CHUNK)
            if decoder.decode(chunk, final=not chunk).strip(BLANK_CHARACTERS):
                return False
            if not chunk:
                return True


# -- S3 ------------------------------------------------------------------------
def _split_folder(folder: str) -> tuple[str, str]:
    """(bucket, key prefix ending in `/`, or "" for the bucket's top level)."""
    bucket, _, key = folder[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise ValueError(f"{folder!r} names no bucket")
    key = key.strip("/")
    return bucket, f"{key}/" if key else ""


def _split_object(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len(S3_SCHEME) :].partition("/")
    if not bucket or not key or key.endswith("/"):
        raise ValueError(f"{uri!r} names no S3 object")
    return bucket, key


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


# A conditional request that lost: 412 when the condition failed, 409 when another conditional
# write to the same key was under way (S3's answer to two racing writers).
CONFLICT_CODES = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


def missing_object(exc: Exception) -> bool:
    """Whether an S3 error says the object is not there: NoSuchKey, or a 404 (HeadObject has no
    body)."""
    return _error_code(exc) in ("NoSuchKey", "404", "NotFound")


@contextlib.contextmanager
def s3_errors(uri: str, bucket: str, *, missing=None, conflict=None):
    """S3 requests about `uri` (in `bucket`): a missing object raises `missing` and a failed
    condition `conflict` (when given, else they are errors like any other); every other botocore
    error becomes one StorageError line naming them."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        if missing is not None and missing_object(exc):
            raise missing(f"{uri} does not exist") from None
        code = _error_code(exc)
        if conflict is not None and code in CONFLICT_CODES:
            raise conflict(f"{uri} changed since it was read ({code})") from None
        message = (exc.response.get("Error", {}).get("Message") or "").strip()
        if code == "NoSuchBucket":
            raise StorageError(f"S3 bucket {bucket} does not exist (reading {uri})") from None
        operation = getattr(exc, "operation_name", "") or "request"
        detail = f"{code}: {message}" if message and message != code else code
        raise StorageError(f"S3 {operation} on {uri} failed: {detail}") from None
    except BotoCoreError as exc:
        raise StorageError(f"S3 request on {uri} failed: {' '.join(str(exc).split())}") from None


def s3_client():
    """The S3 client for the current settings (region, credentials, AWS_ENDPOINT_URL), created on
    first use and shared by the process (stedi.lake.icefiles too): a new boto3 client loads
    botocore's service models again, about 0.2 s each."""
    settings = tuple(os.environ.get(name) for name in _CLIENT_SETTINGS)
    with _clients_lock:
        client = _clients.get(settings)
        if client is None:
            import boto3

            session = boto3.session.Session()
            region = session.region_name or os.environ.get("AWS_REGION")
            client = session.client("s3", region_name=region)
            _clients[settings] = client
        return client


class _S3Body:
    """An object's body as a closable binary stream (read in chunks, never whole)."""

    def __init__(self, uri: str):
        bucket, key = _split_object(uri)
        self._uri, self._bucket = uri, bucket
        with s3_errors(uri, bucket, missing=FileNotFoundError):
            self._body = s3_client().get_object(Bucket=bucket, Key=key)["Body"]

    def read(self, size: int = -1) -> bytes:
        with s3_errors(self._uri, self._bucket):
            return self._body.read(None if size is None or size < 0 else size)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self._body.close()


def open_binary(path: str):
    """A local file or an S3 object as a binary stream, read in chunks."""
    return _S3Body(path) if is_s3(path) else open(path, "rb")


def head(uri: str) -> dict:
    """An S3 object's metadata (ContentLength, LastModified, ETag)."""
    bucket, key = _split_object(uri)
    with s3_errors(uri, bucket, missing=FileNotFoundError):
        return s3_client().head_object(Bucket=bucket, Key=key)


def list_folders(folder: str) -> list[str]:
    """The subfolders directly in `folder` (S3: the common prefixes), sorted; [] when it does not
    exist."""
    if not is_s3(folder):
        try:
            with os.scandir(folder) as entries:
                return sorted(
                    os.path.join(folder, e.name) for e in entries if e.is_dir(follow_symlinks=False)
                )
        except (FileNotFoundError, NotADirectoryError):
            return []
    bucket, prefix = _split_folder(folder)
    found = []
    with s3_errors(folder, bucket):
        for page in (
            s3_client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
        ):
            found += [
                f"{S3_SCHEME}{bucket}/{p['Prefix'].rstrip('/')}"
                for p in page.get("CommonPrefixes", [])
            ]
    return sorted(found)


def move_folder(folder: str, target: str) -> None:
    """Move a folder to `target` (which must not exist): one rename locally; on S3 each object
    copied, then deleted."""
    if not is_s3(folder):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        os.replace(folder, target)
        return
    bucket, prefix = _split_folder(folder)
    to_bucket, to_prefix = _split_folder(target)
    with s3_errors(f"{folder} (moving to {target})", bucket):
        for page in (
            s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        ):
            for item in page.get("Contents", []):
                key = item["Key"]
                s3_client().copy_object(
                    Bucket=to_bucket,
                    Key=to_prefix + key[len(prefix) :],
                    CopySource={"Bucket": bucket, "Key": key},
                )
    remove_folder(folder)


def remove_folder(folder: str) -> None:
    """Remove a folder and everything in it (S3: every object under the prefix)."""
    if not is_s3(folder):
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        return
    bucket, prefix = _split_folder(folder)
    with s3_errors(folder, bucket):
        for page in (
            s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        ):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                done = s3_client().delete_objects(Bucket=bucket, Delete={"Objects": keys})
                if done.get(
                    "Errors"
                ):  # DeleteObjects answers 200 and lists what it could not delete
                    first = done["Errors"][0]
                    raise StorageError(
                        f"S3 DeleteObjects on s3://{bucket}/{first.get('Key')} failed: "
                        f"{first.get('Code')}: {first.get('Message', '')}".rstrip(": ")
                    )


# -- small text files: run records ----------------------------------------------
def write_text(where: str, text: str) -> None:
    """Write a small text file whole: locally through a rename, on S3 in one PUT."""
    if is_s3(where):
        bucket, key = _split_object(where)
        with s3_errors(where, bucket):
            s3_client().put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))
        return
    from stedi.atomic_files import write_atomic

    write_atomic(where, text)


def read_text(where: str) -> str | None:
    """A small text file's content, or None when there is no such file (S3: NoSuchKey). Any other S3
    error (AccessDenied, no such bucket, throttling, ...) raises StorageError naming the object."""
    if is_s3(where):
        bucket, key = _split_object(where)
        try:
            with s3_errors(where, bucket, missing=FileNotFoundError):
                return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        except FileNotFoundError:
            return None
    path = Path(where)
    return path.read_text(encoding="utf-8") if path.is_file() else None
