"""The lake on AWS: publish a local lake to S3 and the Glue Data Catalog, query it with Athena.

Everything goes through awswrangler and boto3's standard configuration:
credentials from the usual chain (environment, shared files and profiles,
instance or container role), the region from AWS_DEFAULT_REGION, AWS_REGION or
the profile, and the endpoints from AWS_ENDPOINT_URL (boto3 >= 1.28 reads it
itself, for every service; the tests point it at a moto server).

The S3 layout is the one a Glue run writes: `stedi run --target glue` gives its
notebooks the lake root `config.s3_uri(bucket, prefix, config.GLUE_LAKE_KEY)` and
they write `<root>/<zone>/<table>/` (stedi.lake.store.Lake.path); `publish` uploads a
local table under exactly that place, into a version folder
`<root>/<zone>/<table>/<version>/` that the catalog entry then points at (so that
re-publishing never shows Athena a partial table, see _publish_folders). After a
publish the table folder holds that one version only. Spark given the table folder
itself does not read files in a non-partition subfolder (Parquet fails to infer a
schema, JSON with a schema reads 0 rows) unless `recursiveFileLookup` is set: read
a published table through the catalog, or at its catalog location.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from stedi import config
from stedi.core.tables import TABLES, Columns, Table, table

# The SerDe of the landing tables, as in sql/*_landing.sql (tests/test_aws.py keeps them equal).
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
JSON_SERDE_PARAMETERS = {"ignore.malformed.json": "FALSE", "dots.in.keys": "FALSE", "case.insensitive": "TRUE"}

# Arrow types of the files Spark writes, by declared type.
_ARROW_TYPES = {"string": ("string", "large_string"), "bigint": ("int64",), "int": ("int32",), "double": ("double",)}


class UsageError(ValueError):
    """Bad arguments, inputs or AWS settings: one line, exit code 2, nothing written."""


class QueryFailed(RuntimeError):
    """Athena ran the query and reported a failure (exit code 1)."""


def failure_types() -> tuple[type[BaseException], ...]:
    """What an AWS call can fail with: reported in one line, exit code 1."""
    import inspect

    from awswrangler import exceptions as wr_exceptions
    from botocore.exceptions import BotoCoreError, ClientError

    wrangler = tuple(c for _, c in inspect.getmembers(wr_exceptions, inspect.isclass) if issubclass(c, Exception))
    return (QueryFailed, ClientError, BotoCoreError, *wrangler)


# -- session -----------------------------------------------------------------
def aws_session():
    """A boto3 session from the standard chain; refuses, in one line, when there are no credentials or region."""
    import boto3

    session = boto3.Session()
    region = session.region_name or os.environ.get("AWS_REGION")
    if session.region_name is None and region:
        session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        raise UsageError(
            "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "
            "or run where an instance role applies"
        )
    if not session.region_name:
        raise UsageError("no AWS region: set AWS_DEFAULT_REGION (or AWS_REGION), or a region in your profile")
    return session


# -- layout ------------------------------------------------------------------
def lake_root(bucket: str, prefix: str = "") -> str:
    """The lake root on S3, the same one `stedi run --target glue` gives its notebooks."""
    return config.s3_uri(bucket, prefix, config.GLUE_LAKE_KEY)


def table_uri(bucket: str, prefix: str, name: str) -> str:
    t = table(name)
    return config.s3_uri(bucket, prefix, config.GLUE_LAKE_KEY, t.zone, t.name)


def quarantine_uri(bucket: str, prefix: str, name: str) -> str:
    """Where the quarantine of table `name` goes (stedi.lake.store.Lake.quarantine_path on S3)."""
    return config.s3_uri(bucket, prefix, config.GLUE_LAKE_KEY, config.QUARANTINE_ZONE, table(name).name)


def quarantine_table(name: str) -> str:
    """The catalog name of the quarantine of table `name`, when registered."""
    return f"{name}_{config.QUARANTINE_ZONE}"


def data_files(folder: Path) -> list[Path]:
    """The data files of a table folder written by Spark, relative to it: no _SUCCESS, no .crc, no hidden files."""
    return sorted(
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    )


def _parquet_columns(folder: Path, files: list[Path]) -> list[tuple[str, str]]:
    import pyarrow.parquet as pq

    schema = pq.read_schema(folder / files[0])
    return [(f.name, str(f.type)) for f in schema]


def _matches(found: list[tuple[str, str]], declared: Columns) -> bool:
    return len(found) == len(declared) and all(
        name == want_name and typ in _ARROW_TYPES[want_type]
        for (name, typ), (want_name, want_type) in zip(found, declared)
    )


def _json_keys(folder: Path, files: list[Path]) -> set[str]:
    import json

    for relative in files:
        with open(folder / relative, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    return set(json.loads(line))
    return set()


def declared_columns(t: Table, folder: Path, files: list[Path], policy: str | None) -> tuple[Columns, str | None]:
    """The declared columns the table's files carry, and the policy that layout belongs to (None: any).

    Parquet tables are recognised by their schema (names and types, in order); a
    landing table's first record must use declared column names only (Spark's JSON
    writer leaves out null fields, so a record may have fewer). A table that fits no
    declared layout, or not the one `policy` asks for, is refused.
    """
    policies = (policy,) if policy else config.POLICIES
    if t.fmt == "parquet":
        found = _parquet_columns(folder, files)
        for candidate in policies:
            if _matches(found, t.columns_for(candidate)):
                layout_policy = candidate if t.udacity_columns is not None else None
                return t.columns_for(candidate), layout_policy
        wanted = " or ".join(
            f"{p}: " + ", ".join(f"{n} {ty}" for n, ty in t.columns_for(p)) for p in policies
        )
        raise UsageError(
            f"table {t.name} at {folder} has an unknown layout ({', '.join(f'{n} {ty}' for n, ty in found)}); "
            f"declared {wanted}"
        )
    columns = t.columns_for(policy or config.DEFAULT_POLICY)
    unknown = _json_keys(folder, files) - {name for name, _ in columns}
    if unknown:
        raise UsageError(
            f"table {t.name} at {folder} has an unknown layout: undeclared fields {', '.join(sorted(unknown))}"
        )
    return columns, None


# -- publish -----------------------------------------------------------------
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
        folder = lake / t.zone / t.name
        if not folder.is_dir():
            raise UsageError(f"lake {lake} has no table {name} (no folder {folder}); run `stedi run` first")
        files = data_files(folder)
        if files:
            columns, layout_policy = declared_columns(t, folder, files, policy)
        else:  # an empty table (Spark wrote only _SUCCESS): nothing to recognise it by
            columns, layout_policy = t.columns_for(policy or config.DEFAULT_POLICY), None
        if layout_policy is not None:
            plan.policy = layout_policy
        plan.tables.append((t, folder, files, columns))
    for name in TABLES:  # quarantine/<table>/, for the tables that quarantined anything
        folder = lake / config.QUARANTINE_ZONE / name
        if folder.is_dir():
            plan.quarantine.append((name, folder, data_files(folder)))
    return plan


def _check_bucket(session, bucket: str) -> None:
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
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
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

    label: str
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
       table (awswrangler's mode "overwrite" updates an existing table in place).
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


def _register(session, database: str, name: str, fmt: str, uri: str, columns: Columns, description: str) -> None:
    import awswrangler as wr

    types = dict(columns)
    if fmt == "json":
        wr.catalog.create_json_table(
            database=database,
            table=name,
            path=f"{uri}/",
            columns_types=types,
            description=description,
            serde_library=JSON_SERDE,
            serde_parameters=dict(JSON_SERDE_PARAMETERS),
            mode="overwrite",
            boto3_session=session,
        )
    else:
        wr.catalog.create_parquet_table(
            database=database,
            table=name,
            path=f"{uri}/",
            columns_types=types,
            description=description,
            mode="overwrite",
            boto3_session=session,
        )


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
    Returns {lake, database, version, tables: {name: {...}}, quarantine: {...}}.
    """
    import awswrangler as wr

    out = out or sys.stdout
    plan = plan_publish(lake_dir, bucket, database, prefix, policy, tables)
    session = aws_session()
    _check_bucket(session, bucket)
    root = lake_root(bucket, prefix)
    print(f"stedi aws publish: {plan.lake_dir} -> {root}, catalog database {database}", file=out)
    wr.catalog.create_database(database, exist_ok=True, boto3_session=session)
    version = new_version()
    summary: dict = {
        "lake": root, "database": database, "policy": plan.policy, "version": version, "tables": {}, "quarantine": {}
    }
    folders = []
    for t, local, files, columns in plan.tables:
        uri = table_uri(bucket, prefix, t.name)

        def register_table(location, t=t, columns=columns):
            _register(session, database, t.name, t.fmt, location, columns, f"STEDI {t.zone} table {t.name}")

        folders.append(_Folder(t.name, local, files, uri, f"{uri}/{version}", register_table))
    for name, local, files in plan.quarantine:
        uri = quarantine_uri(bucket, prefix, name)
        register = None
        if register_quarantine:
            from stedi.lake.store import QUARANTINE_COLUMNS

            def register(location, name=name):
                description = f"STEDI quarantine of {name}"
                _register(session, database, quarantine_table(name), "json", location, QUARANTINE_COLUMNS, description)

        folders.append(_Folder(f"{config.QUARANTINE_ZONE}/{name}", local, files, uri, f"{uri}/{version}", register))
    _publish_folders(session, folders)
    for folder in folders:
        entry = {"path": folder.uri, "location": folder.location, "objects": len(folder.objects)}
        if folder.label in TABLES:
            t = TABLES[folder.label]
            summary["tables"][t.name] = {"zone": t.zone, **entry, "format": t.fmt}
            print(f"  {t.name:<26}{t.zone:<10}{len(folder.objects):>4} file(s)  {folder.location}/", file=out)
        else:
            name = folder.label.split("/", 1)[1]
            if folder.register is not None:
                entry["table"] = quarantine_table(name)
            summary["quarantine"][name] = entry
            print(f"  {folder.label:<36}{len(folder.objects):>4} file(s)  {folder.location}/", file=out)
    return summary


# -- query -------------------------------------------------------------------
def statements(text: str) -> list[str]:
    """The statements of a SQL text (split on `;`), each without its leading comment lines."""
    found = []
    for chunk in text.split(";"):
        lines = chunk.strip().splitlines()
        while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
            lines.pop(0)
        statement = "\n".join(lines).strip()
        if statement:
            found.append(statement)
    return found


_INTEGER_TYPES = {"tinyint", "smallint", "integer", "int", "bigint"}
_FLOAT_TYPES = {"float", "real", "double", "decimal"}


def _result_frame(pages: list[dict]):
    """A DataFrame of Athena's GetQueryResults pages, typed by their column metadata."""
    import pandas as pd

    columns = pages[0]["ResultSet"]["ResultSetMetadata"].get("ColumnInfo", []) if pages else []
    names = [c["Name"] for c in columns]
    rows = [
        [datum.get("VarCharValue") for datum in row.get("Data", [])]
        for page in pages
        for row in page["ResultSet"].get("Rows", [])
    ]
    if rows and rows[0] == names:  # a SELECT's first row repeats the column names
        rows = rows[1:]
    frame = pd.DataFrame(rows, columns=names or None)
    for column in columns:
        kind = column.get("Type", "varchar").split("(")[0].lower()
        if kind in _INTEGER_TYPES:
            frame[column["Name"]] = pd.to_numeric(frame[column["Name"]]).astype("Int64")
        elif kind in _FLOAT_TYPES:
            frame[column["Name"]] = pd.to_numeric(frame[column["Name"]])
    return frame


def run_query(
    sql: str,
    database: str = config.DEFAULT_DATABASE,
    workgroup: str = "primary",
    s3_output: str | None = None,
    session=None,
):
    """Run one statement on Athena and wait for it; returns (query execution id, result DataFrame)."""
    import awswrangler as wr

    session = session or aws_session()
    try:
        execution = wr.athena.start_query_execution(
            sql,
            database=database,
            workgroup=workgroup,
            s3_output=s3_output,
            wait=True,
            athena_query_wait_polling_delay=0.25,
            boto3_session=session,
        )
    except wr.exceptions.QueryFailed as exc:
        raise QueryFailed(f"Athena query failed: {exc}") from None
    state = execution["Status"]["State"]
    if state != "SUCCEEDED":
        raise QueryFailed(f"Athena query {state.lower()}: {execution['Status'].get('StateChangeReason', '')}".strip())
    query_id = execution["QueryExecutionId"]
    paginator = session.client("athena").get_paginator("get_query_results")
    pages = list(paginator.paginate(QueryExecutionId=query_id))
    return query_id, _result_frame(pages)


def query(
    text: str,
    database: str = config.DEFAULT_DATABASE,
    workgroup: str = "primary",
    s3_output: str | None = None,
    out=None,
) -> list[str]:
    """Run every statement of `text` on Athena and print each result; returns the query execution ids."""
    out = out or sys.stdout
    found = statements(text)
    if not found:
        raise UsageError("no SQL statement to run")
    if s3_output is not None and not s3_output.startswith("s3://"):
        raise UsageError(f"--s3-output must be an s3:// URI, not {s3_output!r}")
    session = aws_session()
    ids = []
    for statement in found:
        query_id, frame = run_query(statement, database, workgroup, s3_output, session=session)
        ids.append(query_id)
        print(frame.to_string(index=False) if len(frame.columns) else f"(no result; query {query_id})", file=out)
    return ids
