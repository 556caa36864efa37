"""The files of an Iceberg table: which ones its metadata reaches, which ones lie under its
location.

Local paths and `s3://bucket/key` URIs alike. pyiceberg deletes no file when snapshots
expire and has no orphan-file removal (0.12): `unreachable` is what stedi.lake.iceberg
deletes after an erasure (and `vacuum`), so that no file keeps erased rows.
"""

from __future__ import annotations

import os
from pathlib import Path

from stedi.core import storage

PARQUET_SUFFIX = ".parquet"


def _local(path: str) -> str:
    """A local path from a `file:` URI or a plain path."""
    return path.removeprefix("file://")


def files_under(location: str) -> list[str]:
    """Every file under `location`, recursively, sorted (S3: every object under the prefix)."""
    if not storage.is_s3(location):
        root = Path(_local(location))
        return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    bucket, _, key = location[len(storage.S3_SCHEME) :].partition("/")
    prefix = key.strip("/") + "/" if key.strip("/") else ""
    found = []
    for page in (
        storage.s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    ):
        found += [
            f"{storage.S3_SCHEME}{bucket}/{item['Key']}"
            for item in page.get("Contents", [])
            if not item["Key"].endswith("/")
        ]
    return sorted(found)


def parquet_files(folder: str) -> list[str]:
    """The Parquet data files an engine wrote into `folder` (its `_SUCCESS`, `.crc` and hidden files
    left out)."""
    return [
        f
        for f in files_under(folder)
        if f.endswith(PARQUET_SUFFIX) and not os.path.basename(f).startswith(("_", "."))
    ]


def delete_files(paths: list[str]) -> None:
    """Delete files (S3: objects, 1,000 per request); a file already gone is no error."""
    local = [p for p in paths if not storage.is_s3(p)]
    for path in local:
        Path(_local(path)).unlink(missing_ok=True)
    by_bucket: dict[str, list[str]] = {}
    for uri in paths:
        if storage.is_s3(uri):
            bucket, _, key = uri[len(storage.S3_SCHEME) :].partition("/")
            by_bucket.setdefault(bucket, []).append(key)
    for bucket, keys in by_bucket.items():
        client = storage.s3_client()
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[start : start + 1000]]
            client.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})


def missing(paths: list[str]) -> list[str]:
    """Those of `paths` that do not exist (S3: those not listed under their folders)."""
    local = [p for p in paths if not storage.is_s3(p)]
    gone = [p for p in local if not Path(_local(p)).is_file()]
    remote = [p for p in paths if storage.is_s3(p)]
    if remote:
        listed = set()
        for folder in sorted({p.rsplit("/", 1)[0] for p in remote}):
            listed.update(files_under(folder))
        gone += [p for p in remote if p not in listed]
    return gone


def remove_empty_folders(location: str) -> None:
    """Remove the empty folders under a local `location` (staging folders once emptied); S3 has
    none."""
    if storage.is_s3(location):
        return
    root = Path(_local(location))
    if not root.is_dir():
        return
    for folder in sorted(
        (p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
    ):
        if not any(folder.iterdir()):
            folder.rmdir()


def reachable(table) -> set[str]:
    """Every file the table's current metadata reaches: the metadata JSON itself, and for every
    snapshot it keeps, its manifest list, manifests and their data and delete files (live or not:
    a manifest names a file it marks deleted, and that file is then unreachable by data)."""
    io, metadata = table.io, table.metadata
    found = {table.metadata_location}
    for snapshot in metadata.snapshots:
        found.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            found.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                found.add(entry.data_file.file_path)
    for stats in [*metadata.statistics, *metadata.partition_statistics]:
        found.add(stats.statistics_path)
    return {_normalized(p) for p in found}


def _normalized(path: str) -> str:
    """A path to compare: S3 URIs as they are, local paths resolved (a lake opened through a
    link)."""
    return path if storage.is_s3(path) else os.path.realpath(_local(path))


def same_location(a: str, b: str) -> bool:
    """Whether two locations name the same place (locally: through any symbolic link on the way)."""
    if storage.is_s3(a) or storage.is_s3(b):
        return a.rstrip("/") == b.rstrip("/")
    return os.path.realpath(_local(a)) == os.path.realpath(_local(b))


def unreachable(table) -> list[str]:
    """The files under the table's location that its current metadata does not reach (see
    `reachable`)."""
    keep = reachable(table)
    return [f for f in files_under(table.location()) if _normalized(f) not in keep]


def live_data_files(table, snapshot_id: int | None = None) -> tuple[list, list[str]]:
    """(data files, delete file paths) of a snapshot (the current one by default), from its
    manifests."""
    snapshot = (
        table.current_snapshot()
        if snapshot_id is None
        else table.metadata.snapshot_by_id(snapshot_id)
    )
    if snapshot is None:
        return [], []
    tasks = list(table.scan(snapshot_id=snapshot_id).plan_files())
    deletes = sorted({d.file_path for t in tasks for d in t.delete_files})
    return [t.file for t in tasks], deletes


METADATA_SUFFIX = ".metadata.json"


def _metadata_version(path: str) -> int:
    """The version a metadata file's name starts with (`00003-<uuid>.metadata.json`), -1 if none."""
    head = os.path.basename(path).split("-", 1)[0]
    return int(head) if head.isdigit() else -1


def newest_metadata_is_current(table) -> bool:
    """Whether the newest metadata file under the table's metadata folder is the catalog's current
    one, alone at its version, with no version hint: then an engine that takes the newest metadata
    file it finds (Sail) reads the catalog's. A failed or concurrent commit, or a stray copy, can
    leave another one there."""
    from stedi import config

    folder = f"{table.location().rstrip('/')}/{config.ICEBERG_METADATA_DIR}"
    files = files_under(folder)
    if any(os.path.basename(f) == "version-hint.text" for f in files):
        return False
    current = _normalized(table.metadata_location)
    version = _metadata_version(current)
    others = [f for f in files if f.endswith(METADATA_SUFFIX) and _normalized(f) != current]
    return version >= 0 and all(_metadata_version(f) < version for f in others)
