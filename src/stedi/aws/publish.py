"""`stedi aws publish`: the current snapshots of a local Iceberg lake copied into Iceberg tables on
S3, registered in the Glue Data Catalog (`table_type=ICEBERG`), where Athena queries them.

For each table of the local lake (the declared ones and their quarantines) that has a snapshot:
its live data files are uploaded under the S3 table's location (`<lake>/<zone>/<table>/data/
publish-<source snapshot id>/`) and committed there by pyiceberg (stedi.lake.iceberg) as ONE
overwrite snapshot replacing whatever the S3 table held. The snapshot's summary names the run,
step and policy of the source snapshot and the source snapshot itself (`stedi.published-from`):
a table whose S3 copy already comes from its current local snapshot is left as it is (no new
snapshot), so publishing again with nothing new changes nothing. After a commit the S3 table's
older snapshots are expired and the files nothing reaches are deleted: the copy holds the local
lake's current state and nothing older (an erasure applied locally reaches S3 with the next
publish). History and time travel are the local lake's.

The S3 lake is the one `stedi run --lake-dir s3://BUCKET/PREFIX/lake` builds and reads: a lake can
be built locally and published, or built on S3 directly; both are the same Iceberg tables.
"""

from __future__ import annotations

import sys
from pathlib import Path

from stedi import config
from stedi.aws.session import aws_session
from stedi.context import Policy
from stedi.core import storage
from stedi.core.tables import TABLES
from stedi.errors import UsageError
from stedi.lake import icefiles, layout

PUBLISHED_FROM = "published-from"  # meta key: the source snapshot a published snapshot copies
PUBLISH_STEP = "publish"


def check_bucket(session, bucket: str) -> None:
    """UsageError in one line when `bucket` does not exist or these credentials may not use it."""
    from botocore.exceptions import ClientError

    try:
        session.client("s3").head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise UsageError(
                f"bucket {bucket} does not exist; create it first (see "
                "docs/aws.md#running-on-aws-from-an-empty-account)"
            ) from None
        if code in ("403", "AccessDenied", "Forbidden"):
            raise UsageError(f"access to bucket {bucket} is denied for these credentials") from None
        raise


def target_lake(to: str = "", bucket: str = "", prefix: str = "") -> str:
    """The S3 lake to publish into: `to` (s3://BUCKET/PREFIX), or the old form --bucket/--prefix."""
    if to and bucket:
        raise UsageError(
            "give the S3 lake once: --to s3://BUCKET/PREFIX (or the old --bucket/--prefix)"
        )
    if bucket:
        return layout.s3_root(bucket, prefix)
    if not to:
        raise UsageError("--to s3://BUCKET/PREFIX is required (the S3 lake to publish into)")
    if not storage.is_s3(to):
        raise UsageError(f"--to {to} is not an S3 lake (s3://BUCKET/PREFIX)")
    return config.resolve(to)


def _source_lake(lake_dir: str, policy: Policy | None):
    """The local Iceberg lake to publish, with its policy (the one its commits recorded, else
    `policy`)."""
    from stedi.lake.iceberg import IcebergLake
    from stedi.lake.snapshots import POLICY

    if storage.is_s3(lake_dir):
        raise UsageError(f"--lake-dir {lake_dir} is already on S3; publish copies a local lake")
    root = Path(config.resolve(lake_dir))
    if not root.is_dir():
        raise UsageError(f"lake directory {root} does not exist; build it with `stedi run` first")
    if not (root / config.ICEBERG_CATALOG_FILE).is_file():
        raise UsageError(
            f"{root} is not an Iceberg lake (no {config.ICEBERG_CATALOG_FILE}); build it with "
            "`stedi run`"
        )
    source = IcebergLake(None, str(root), policy or config.DEFAULT_POLICY)
    recorded = {source.summary(n).get(POLICY) for n in source.names()} - {None, ""}
    if len(recorded) > 1:
        raise UsageError(
            f"the lake {root} holds tables of both policies ({', '.join(sorted(recorded))}); "
            "rebuild it"
        )
    if recorded:
        built = recorded.pop()
        if policy is not None and policy != built:
            raise UsageError(f"the lake {root} was built with policy {built}, not {policy}")
        source.policy = Policy.parse(built)  # as the lake's commits recorded it (text)
    return source


def publish(
    lake_dir: str = str(config.LAKE_DIR),
    to: str = "",
    database: str = config.DEFAULT_DATABASE,
    policy: Policy | None = None,
    tables: list[str] | None = None,
    *,
    bucket: str = "",
    prefix: str = "",
    out=None,
) -> dict:
    """Copy the current snapshot of each table of the local lake into the S3 lake `to` (see the
    module docstring). Returns {lake, database, policy, tables: {name: {snapshot_id,
    source_snapshot_id, files, rows, published}}}; `published` False: the S3 copy already was that
    snapshot."""
    from stedi.lake.catalogs import quarantine_name

    out = out or sys.stdout
    if not database:
        raise UsageError("--database must not be empty")
    root = target_lake(to, bucket, prefix)
    source = _source_lake(lake_dir, policy)
    present = source.names()
    known = [n for t in TABLES for n in (t, quarantine_name(t))]
    chosen = tables or [n for n in known if n in present]
    for name in chosen:
        if name not in known:
            raise UsageError(
                f"unknown table {name!r}; known: {', '.join(TABLES)} and their <table>_quarantine"
            )
        if not source.exists(name):
            raise UsageError(f"lake {source.root} has no table {name}; run `stedi run` first")
    session = aws_session()
    check_bucket(session, layout.bucket_and_prefix(root)[0])
    from stedi.lake.iceberg import IcebergLake
    from stedi.lake.lock import LakeBusy, LakeLock

    target = IcebergLake(None, root, source.policy, database, step=PUBLISH_STEP)
    print(f"stedi aws publish: {source.root} -> {root}, Glue database {database}", file=out)
    summary: dict = {"lake": root, "database": database, "policy": source.policy, "tables": {}}
    lock = LakeLock(
        root, "stedi-aws-publish"
    )  # not while a run (or another publish) writes the S3 lake
    try:
        lock.acquire()
    except LakeBusy as exc:
        raise UsageError(str(exc)) from None
    try:
        for name in chosen:
            entry = _publish_table(source, target, name, session)
            summary["tables"][name] = entry
            what = f"snapshot {entry['snapshot_id']}" if entry["published"] else "unchanged"
            print(
                f"  {name:<34}{entry['rows']:>9,} rows  {entry['files']:>3} file(s)  {what}",
                file=out,
            )
    finally:
        lock.release()
    return summary


def _publish_table(source, target, name: str, session) -> dict:
    from stedi.lake import icemaint
    from stedi.lake.snapshots import META_PREFIX, RUN_ID, STEP
    from stedi.lake.staged import Staged

    snapshot = source.table(name).current_snapshot()
    files, deletes = icefiles.live_data_files(source.table(name))
    if deletes:
        raise UsageError(
            f"table {name} has delete files; rewrite it without them before publishing"
        )
    t = target.ensure(name)
    current = target.summary(name)
    entry = {
        "source_snapshot_id": snapshot.snapshot_id,
        "files": len(files),
        "rows": source.rows(name),
    }
    if current.get(META_PREFIX + PUBLISHED_FROM) == str(snapshot.snapshot_id):
        return {**entry, "snapshot_id": target.snapshot_id(name), "published": False}
    place = target.place(name)
    folder = f"{place.location}/{config.ICEBERG_DATA_DIR}/publish-{snapshot.snapshot_id}"
    s3 = session.client("s3")
    uploaded = []
    try:
        for data_file in files:
            uri = f"{folder}/{Path(icefiles._local(data_file.file_path)).name}"
            bucket, _, key = uri[len(storage.S3_SCHEME) :].partition("/")
            s3.upload_file(icefiles._local(data_file.file_path), bucket, key)
            uploaded.append(uri)
        from pyiceberg.io.pyarrow import parquet_file_to_data_file

        data_files = [parquet_file_to_data_file(t.io, t.metadata, uri) for uri in uploaded]
        replaced, _ = icefiles.live_data_files(t)
        recorded = source.summary(name)
        target.run_id, target.step = (
            recorded.get(RUN_ID, ""),
            recorded.get(STEP, "") or PUBLISH_STEP,
        )
        meta = {PUBLISHED_FROM: str(snapshot.snapshot_id)}
        staged = Staged(name, t, folder, data_files, append=False, replaces=replaced, meta=meta)
        target._commit(staged)
    except BaseException:
        icefiles.delete_files(uploaded)
        raise
    if (
        replaced or current
    ):  # the copy holds the current state only: older snapshots and their files go
        icemaint.expire_and_vacuum(target, name)
    return {**entry, "snapshot_id": target.snapshot_id(name), "published": True}
