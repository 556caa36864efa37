"""Publish a local lake to S3 and the Glue Data Catalog, never showing Athena a partial table.

The S3 layout is the one a Glue run writes (stedi.lake.layout): `stedi run --target glue`
gives its notebooks the lake root `layout.s3_root(bucket, prefix)` and they write
`<root>/<zone>/<table>/`. `publish` uploads a local table under exactly that place,
into a version folder `<root>/<zone>/<table>/<version>/` that the catalog entry then
points at (see _publish_folders). After a publish the table folder holds that one
version only. Spark given the table folder itself does not read files in a
non-partition subfolder (Parquet fails to infer a schema, JSON with a schema reads
0 rows) unless `recursiveFileLookup` is set: read a published table through the
catalog, or at its catalog location.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from stedi import config
from stedi.aws import catalog
from stedi.aws.session import aws_session
from stedi.core.tables import TABLES, Columns, Table
from stedi.errors import UsageError
from stedi.lake import layout


@dataclass
class PublishPlan:
    """Everything publish will do, worked out and checked before the first request."""

    lake_dir: Path
    bucket: str
    prefix: str
    database: str
    tables: list[tuple[Table, Path, list[Path], Columns]] = field(default_factory=list)
    quarantine: list[tuple[str, Path, list[Path]]] = field(default_factory=list)
    policy: str | None = None


def plan_publish(
    lake_dir: str,
    bucket: str,
    database: str = config.DEFAULT_DATABASE,
    prefix: str = "",
    policy: str | None = None,
    tables: list[str] | None = None,
) -> PublishPlan:
    """Check the arguments and the local lake; raises UsageError naming the first problem."""
    if not bucket:
        raise UsageError("--bucket is required (the S3 bucket of the lake)")
    if policy is not None and policy not in config.POLICIES:
        raise UsageError(f"unknown policy {policy!r}; choose one of: {', '.join(config.POLICIES)}")
    if not database:
        raise UsageError("--database must not be empty")
    lake = Path(config.resolve(lake_dir))
    if lake_dir.startswith("s3://"):
        raise UsageError(f"--lake-dir {lake_dir} is already on S3; publish uploads a local lake")
    if not lake.is_dir():
        raise UsageError(f"lake directory {lake} does not exist; build it with `stedi run` first")
    names = tables or list(TABLES)
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise UsageError(f"unknown table {unknown[0]!r}; known: {', '.join(TABLES)}")
    plan = PublishPlan(lake_dir=lake, bucket=bucket, prefix=prefix, database=database)
    for name in names:
        t = TABLES[name]
        folder = Path(layout.table_path(str(lake), name))
        if not folder.is_dir():
            raise UsageError(f"lake {lake} has no table {name} (no folder {folder}); run `stedi run` first")
        files = catalog.data_files(folder)
        if files:
            columns, layout_policy = catalog.declared_columns(t, folder, files, policy)
        else:  # an empty table (Spark wrote only _SUCCESS): nothing to recognise it by
            columns, layout_policy = t.columns_for(policy or config.DEFAULT_POLICY), None
        if layout_policy is not None:
            plan.policy = layout_policy
        plan.tables.append((t, folder, files, columns))
    for name in TABLES:  # quarantine/<table>/, for the tables that quarantined anything
        folder = Path(layout.quarantine_path(str(lake), name))
        if folder.is_dir():
            plan.quarantine.append((name, folder, catalog.data_files(folder)))
    return plan


def check_bucket(session, bucket: str) -> None:
    """UsageError in one line when `bucket` does not exist or these credentials may not use it."""
    from botocore.exceptions import ClientError

    try:
        session.client("s3").head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise UsageError(f"bucket {bucket} does not exist; create it first (see README, Running on AWS)") from None
        if code in ("403", "AccessDenied", "Forbidden"):
            raise UsageError(f"access to bucket {bucket} is denied for these credentials") from None
        raise


def new_version() -> str:
    """The name of a publish's version folder: sortable by time, unique, neither hidden nor a partition.

    Not `_x` or `.x` (Hadoop, Spark and Athena skip such names) and no `=` (Spark would
    read `<table>/v=…/` as a partition column when a Glue run reads the table folder).
    """
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"v{stamp}-{uuid.uuid4().hex[:8]}"


def _upload_file(session, local: Path, target: str) -> None:
    import awswrangler as wr

    wr.s3.upload(str(local), target, boto3_session=session)


def _upload_version(session, folder: Path, files: list[Path], location: str) -> list[str]:
    """Upload `files` under the new version folder `location`; returns the objects' URIs."""
    written = []
    for relative in files:
        target = f"{location}/{relative.as_posix()}"
        _upload_file(session, folder / relative, target)
        written.append(target)
    return written


def _remove_other_versions(session, uri: str, location: str) -> int:
    """Delete every object under the table folder `uri/` that is not under `location/`; returns how many."""
    import awswrangler as wr

    stale = [p for p in wr.s3.list_objects(f"{uri}/", boto3_session=session) if not p.startswith(f"{location}/")]
    if stale:
        wr.s3.delete_objects(stale, boto3_session=session)
    return len(stale)


@dataclass
class _Folder:
    """One table folder (or quarantine folder) of a publish: where its new version goes, how it is registered."""

    table: str
    is_quarantine: bool
    local: Path
    files: list[Path]
    uri: str  # the table folder, s3://…/<zone>/<table>
    location: str  # the new version folder, <uri>/<version>
    register: Callable[[str], None] | None = None  # points the catalog entry at a location; None: unregistered
    objects: list[str] = field(default_factory=list)


def _publish_folders(session, folders: list[_Folder]) -> None:
    """Replace what each table folder holds with its local files, never showing readers a partial table.

    1. Upload every folder's files to its fresh version folder `<uri>/<version>/` (nothing
       points there yet). A failure here deletes what this publish uploaded and re-raises:
       every catalog entry still points at its previous complete version.
    2. Point each catalog entry at its new version: one CreateTable or UpdateTable call per
       table (catalog.register_table).
    3. Delete everything else under each `<uri>/`: the previous version, files a Glue run
       wrote straight into `<uri>/`, leftovers of an interrupted publish.
    A failure in 2 leaves the tables registered so far on their new version, the others on
    their previous one; the unused new versions are removed by the next publish (step 3).
    """
    import awswrangler as wr

    try:
        for folder in folders:
            folder.objects = _upload_version(session, folder.local, folder.files, folder.location)
    except BaseException:
        for folder in folders:  # best effort: the next publish removes any leftover anyway
            with contextlib.suppress(Exception):
                wr.s3.delete_objects(f"{folder.location}/", boto3_session=session)
        raise
    for folder in folders:
        if folder.register is not None:
            folder.register(folder.location)
    for folder in folders:
        _remove_other_versions(session, folder.uri, folder.location)


def publish(
    lake_dir: str = str(config.LAKE_DIR),
    bucket: str = "",
    database: str = config.DEFAULT_DATABASE,
    prefix: str = "",
    policy: str | None = None,
    tables: list[str] | None = None,
    register_quarantine: bool = False,
    out=None,
) -> dict:
    """Upload the local lake's tables and quarantine to S3 and register the tables in the Glue Data Catalog.

    Every table (and quarantine) goes to `<zone>/<table>/<version>/`, one new version
    folder per publish, and its catalog entry is pointed there before the previous
    version is deleted (_publish_folders): re-publishing replaces, never appends, and
    Athena readers see the previous complete table or the new complete one.
    Returns {lake, database, policy, version, tables: {name: {...}}, quarantine: {...}}.
    """
    import awswrangler as wr

    out = out or sys.stdout
    plan = plan_publish(lake_dir, bucket, database, prefix, policy, tables)
    session = aws_session()
    check_bucket(session, bucket)
    root = layout.s3_root(bucket, prefix)
    print(f"stedi aws publish: {plan.lake_dir} -> {root}, catalog database {database}", file=out)
    wr.catalog.create_database(database, exist_ok=True, boto3_session=session)
    version = new_version()
    folders = []
    for t, local, files, columns in plan.tables:
        uri = layout.table_path(root, t.name)
        register = functools.partial(catalog.register_table, session, database, t, columns)
        folders.append(_Folder(t.name, False, local, files, uri, f"{uri}/{version}", register))
    for name, local, files in plan.quarantine:
        uri = layout.quarantine_path(root, name)
        register = functools.partial(catalog.register_quarantine, session, database, name)
        folders.append(
            _Folder(name, True, local, files, uri, f"{uri}/{version}", register if register_quarantine else None)
        )
    _publish_folders(session, folders)
    return _summary(root, database, plan.policy, version, folders, out)


def _summary(root: str, database: str, policy: str | None, version: str, folders: list[_Folder], out) -> dict:
    """What a publish wrote, printed one line a folder and returned as publish's summary."""
    summary: dict = {
        "lake": root, "database": database, "policy": policy, "version": version, "tables": {}, "quarantine": {}
    }
    for folder in folders:
        entry = {"path": folder.uri, "location": folder.location, "objects": len(folder.objects)}
        if folder.is_quarantine:
            if folder.register is not None:
                entry["table"] = catalog.quarantine_table(folder.table)
            summary["quarantine"][folder.table] = entry
            label = f"{config.QUARANTINE_ZONE}/{folder.table}"
            print(f"  {label:<36}{len(folder.objects):>4} file(s)  {folder.location}/", file=out)
        else:
            t = TABLES[folder.table]
            summary["tables"][t.name] = {"zone": t.zone, **entry, "format": t.fmt}
            print(f"  {t.name:<26}{t.zone:<10}{len(folder.objects):>4} file(s)  {folder.location}/", file=out)
    return summary
