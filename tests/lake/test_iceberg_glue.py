"""stedi.lake.iceberg on an S3 lake with the Glue Data Catalog, against a moto server (S3 + Glue) on
127.0.0.1, reached through AWS_ENDPOINT_URL only; Sail writes and reads the files, pyiceberg's
GlueCatalog commits."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from aws_fixtures import BUCKET, download_bucket
from engines import on_sail
from lake_files import holding
from stedi import config
from stedi.lake import icemaint
from stedi.lake.catalogs import CommitConflict, forget_catalogs
from stedi.lake.iceberg import IcebergLake

# Seconds a test (a moto server, Sail on S3): the whole tier (make test), not make check.
pytestmark = pytest.mark.slow

ACCEL_SCHEMA = "user string, timestamp bigint, x double, y double, z double"


@pytest.fixture
def s3_lake(aws_env, sail):
    forget_catalogs()
    with on_sail():
        yield IcebergLake(
            sail, config.s3_uri(BUCKET, "prefix", config.GLUE_LAKE_KEY), run_id="r1", step="00"
        )
    forget_catalogs()


def rows(user: str, n: int, start: int = 0) -> list[tuple]:
    return [(user, start + i, 1.0, 2.0, 3.0) for i in range(n)]


def publish(lake, name, data, *, append=False, schema=ACCEL_SCHEMA):
    return lake.publish(lake.stage(name, lake.spark.createDataFrame(data, schema), append=append))


def download(tmp_path) -> Path:
    """Every object of the bucket, as local files, for decoding."""
    return download_bucket(tmp_path / "bucket")


def test_an_s3_lake_commits_to_the_glue_catalog_and_reads_pinned(s3_lake):
    assert type(s3_lake.catalog).__name__ == "GlueCatalog"
    publish(s3_lake, "accelerometer_landing", rows("a@x.com", 2))
    first = s3_lake.snapshot_id("accelerometer_landing")
    s3_lake.run_id = "r2"
    publish(s3_lake, "accelerometer_landing", rows("b@x.com", 1), append=True)

    glue = boto3.client("glue").get_table(
        DatabaseName=config.DEFAULT_DATABASE, Name="accelerometer_landing"
    )["Table"]
    assert glue["Parameters"]["table_type"] == "ICEBERG"
    assert glue["Parameters"]["metadata_location"].startswith(
        f"s3://{BUCKET}/prefix/lake/landing/accelerometer_landing/metadata/"
    )
    assert (
        s3_lake.table("accelerometer_landing").properties["write.metadata.metrics.column.user"]
        == "none"
    )
    assert (
        sorted(r.user for r in s3_lake.read("accelerometer_landing", first).collect())
        == ["a@x.com"] * 2
    )
    assert s3_lake.read("accelerometer_landing").count() == 3
    assert [
        (h["run_id"], h["operation"], h["rows_total"])
        for h in s3_lake.history("accelerometer_landing")
    ] == [("r1", "append", 2), ("r2", "append", 3)]

    # A failed check commits nothing and leaves no staged object behind.
    before = sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"])

    def refuse(frame, staged):
        raise ValueError("error rule failed")

    with pytest.raises(ValueError):
        s3_lake.publish(
            s3_lake.stage(
                "accelerometer_landing",
                s3_lake.spark.createDataFrame(rows("c@x.com", 1), ACCEL_SCHEMA),
            ),
            checks=[refuse],
        )
    assert (
        sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"])
        == before
    )


def test_a_conflicting_commit_on_glue_fails_in_one_line(s3_lake, sail):
    publish(s3_lake, "accelerometer_trusted", rows("a@x.com", 1))
    other = IcebergLake(sail, s3_lake.root, run_id="other", step="03")
    mine = s3_lake.stage(
        "accelerometer_trusted", s3_lake.spark.createDataFrame(rows("b@x.com", 1), ACCEL_SCHEMA)
    )
    other.publish(
        other.stage(
            "accelerometer_trusted", s3_lake.spark.createDataFrame(rows("c@x.com", 1), ACCEL_SCHEMA)
        )
    )
    with pytest.raises(CommitConflict) as conflict:
        s3_lake.publish(mine)
    assert "\n" not in str(conflict.value)
    assert [r.user for r in s3_lake.read("accelerometer_trusted").collect()] == ["c@x.com"]


def test_erasure_on_s3_leaves_no_object_holding_the_address(s3_lake, tmp_path):
    from pyspark.sql import functions as F

    publish(
        s3_lake,
        "accelerometer_landing",
        rows("erase.me@example.com", 2) + rows("keep@example.com", 1),
    )
    s3_lake.run_id = "r2"
    publish(s3_lake, "accelerometer_landing", rows("keep@example.com", 1, start=5), append=True)
    assert holding(download(tmp_path / "before"), "erase.me@example.com")

    done = icemaint.erase(s3_lake, "accelerometer_landing", F.col("user") == "erase.me@example.com")
    assert done["rows_removed"] == 2 and done["files_rewritten"] == 1
    assert holding(download(tmp_path / "after"), "erase.me@example.com") == []
    assert s3_lake.read("accelerometer_landing").count() == 2


def test_the_lake_files_on_s3_share_one_client(aws_env, monkeypatch):
    """Listing, checking and deleting a table's files on S3 reuse the process's S3 client
    (stedi.core.storage's, one per AWS settings): a new boto3 client loads botocore's models again,
    a fifth of a second each, and the runner's checks list table folders dozens of times a run."""
    from stedi.core import storage
    from stedi.lake import icefiles

    s3 = boto3.client("s3")
    folder = f"s3://{BUCKET}/lake/landing/t/data"
    for name in ("a.parquet", "b.parquet"):
        s3.put_object(Bucket=BUCKET, Key=f"lake/landing/t/data/{name}", Body=b"x")
    storage.s3_client()  # the process's client for these settings
    made = []
    real = boto3.session.Session.client
    monkeypatch.setattr(
        boto3.session.Session, "client", lambda self, *a, **k: made.append(a) or real(self, *a, **k)
    )
    assert icefiles.files_under(folder) == [f"{folder}/a.parquet", f"{folder}/b.parquet"]
    assert icefiles.missing([f"{folder}/a.parquet", f"{folder}/c.parquet"]) == [
        f"{folder}/c.parquet"
    ]
    icefiles.delete_files([f"{folder}/a.parquet"])
    assert icefiles.parquet_files(folder) == [f"{folder}/b.parquet"]
    assert made == []
