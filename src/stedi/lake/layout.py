"""Where a lake keeps its tables: `<root>/<zone>/<table>` and `<root>/quarantine/<table>`, for any
root.

A root is a local folder or an S3 URI; on AWS it is `s3_root(bucket, prefix)`, the one
`stedi run --target glue` gives its notebooks. Pure string work, no Spark and no I/O:
stedi.lake.catalogs.locate (the Iceberg tables' locations) and stedi.aws place tables through these
functions.
"""

from __future__ import annotations

from stedi import config
from stedi.core.tables import table


def s3_root(bucket: str, prefix: str = "") -> str:
    """The lake root on S3: `s3://<bucket>/<prefix>/lake`."""
    return config.s3_uri(bucket, prefix, config.GLUE_LAKE_KEY)


def bucket_and_prefix(root: str) -> tuple[str, str]:
    """(bucket, prefix) of an S3 lake root: the prefix is the folder the lake is in, where `stedi
    run
    --target glue` and `stedi aws deploy` also find `raw/` and `artifacts/` (s3://B/team/lake: B,
    team)."""
    bucket, _, key = root[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"{root!r} names no bucket")
    return bucket, key.strip("/").rpartition("/")[0]


def table_path(root: str, name: str) -> str:
    """Where table `name` lives under `root`: `<root>/<zone>/<table>` (an unknown name raises,
    listing the known)."""
    t = table(name)
    return f"{root}/{t.zone}/{t.name}"


def quarantine_path(root: str, name: str) -> str:
    """Where the records of table `name` that could not be used go: `<root>/quarantine/<table>`."""
    return f"{root}/{config.QUARANTINE_ZONE}/{table(name).name}"
