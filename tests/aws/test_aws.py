"""The AWS side against a moto server on 127.0.0.1: the lake layout, `stedi aws publish` (a local
Iceberg lake's current snapshots copied into Iceberg tables on S3 in the Glue Data Catalog), and a
run under a stand-in for the Glue kernel that prints its failures (Athena queries:
tests/aws/test_aws_query.py; a lake built on S3 directly: tests/e2e/test_s3_lake.py).

What moto cannot show: Athena executing SQL (it records the request and returns canned
results), Glue sessions. Those are verified only on AWS (docs/aws.md).
"""

from __future__ import annotations

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aws_fixtures import BUCKET, one_line_error
from glue_kernels import install_fake_glue_kernel
from stedi import config
from stedi.aws.publish import publish
from stedi.cli import main
from stedi.core.tables import SOURCES, TABLES, landing_table
from stedi.lake import layout
from stedi.lake.catalogs import forget_catalogs, quarantine_name
from stedi.lake.iceberg import IcebergLake
from stedi.lake.staged import Staged
from stedi.run.options import RunOptions
from stedi.run.runner import run

QUARANTINES = tuple(quarantine_name(landing_table(s)) for s in SOURCES)
S3_LAKE = f"s3://{BUCKET}/team/lake"
ARROW = {"string": pa.string(), "bigint": pa.int64(), "int": pa.int32(), "double": pa.float64()}
SAMPLE = {
    "string": ["a@x.test", "b@x.test", None],
    "bigint": [1655564444000, 1655564445000, 1655564446000],
    "int": [1, 2, 3],
    "double": [0.5, -1.0, 2.25],
}


# -- a small local Iceberg lake, made without an engine ------------------------------------
def _commit(lake: IcebergLake, name: str, rows: int = 3) -> int:
    """Replace table `name` by `rows` sample rows (a Parquet file pyarrow writes, one overwrite
    commit)."""
    from pyiceberg.io.pyarrow import parquet_file_to_data_file

    from stedi.lake import icefiles

    t = lake.ensure(name)
    columns = lake.place(name).columns
    path = f"{lake.place(name).location}/data/sample-{lake.run_id}.parquet"
    schema = pa.schema([(n, ARROW[typ]) for n, typ in columns])
    frame = {n: (SAMPLE[typ] * rows)[:rows] for n, typ in columns}
    pq.write_table(pa.table(frame, schema=schema), path) if _mkdir(path) else None
    staged = Staged(
        name,
        t,
        path,
        [parquet_file_to_data_file(t.io, t.metadata, path)],
        append=False,
        replaces=icefiles.live_data_files(t)[0],
    )
    lake._commit(staged)
    return lake.snapshot_id(name)


def _mkdir(path: str) -> bool:
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return True


def make_lake(root, run_id: str = "20261207T000000Z-strict-aaaa") -> IcebergLake:
    """A local Iceberg lake: every table and the landing tables' quarantines, 3 rows each."""
    forget_catalogs()
    lake = IcebergLake(None, str(root), run_id=run_id, step="00")
    for name in (*TABLES, *QUARANTINES):
        _commit(lake, name)
    return lake


def _keys(prefix: str = "") -> list[str]:
    found = []
    for page in (
        boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    ):
        found += [o["Key"] for o in page.get("Contents", [])]
    return sorted(found)


def _glue() -> dict[str, dict]:
    return {
        t["Name"]: t
        for t in boto3.client("glue").get_tables(DatabaseName=config.DEFAULT_DATABASE)["TableList"]
    }


def _metadata_locations() -> dict[str, str]:
    return {name: t["Parameters"]["metadata_location"] for name, t in _glue().items()}


# -- layout --------------------------------------------------------------------
def _table_uri(name: str) -> str:
    """Where table `name` goes in the lake of BUCKET without a prefix."""
    return layout.table_path(layout.s3_root(BUCKET), name)


def test_the_layout_places_tables_under_their_zone_for_any_root():
    assert layout.s3_root(BUCKET, "team/") == f"s3://{BUCKET}/team/lake"
    assert layout.s3_root(BUCKET) == f"s3://{BUCKET}/lake"
    for root in (f"s3://{BUCKET}/team/lake", "/data/lake"):
        assert layout.table_path(root, "customer_trusted") == f"{root}/trusted/customer_trusted"
        assert (
            layout.quarantine_path(root, "step_trainer_landing")
            == f"{root}/quarantine/step_trainer_landing"
        )
    with pytest.raises(KeyError, match="customer_lounge"):
        layout.table_path("/data/lake", "customer_lounge")


# -- publish ----------------------------------------------------------------------------
@pytest.mark.slow  # seconds: 11 tables committed locally, then to moto's Glue (make test)
def test_publish_copies_the_current_snapshots_into_iceberg_tables_in_the_glue_catalog(
    aws_env, tmp_path, capsys
):
    local = make_lake(tmp_path / "lake")
    code = main(["aws", "publish", "--lake-dir", str(tmp_path / "lake"), "--to", S3_LAKE])
    assert code == 0, capsys.readouterr().err
    glue = _glue()
    assert sorted(glue) == sorted([*TABLES, *QUARANTINES])
    assert {t["Parameters"]["table_type"] for t in glue.values()} == {"ICEBERG"}
    forget_catalogs()
    s3 = IcebergLake(None, S3_LAKE)
    for name in glue:
        t = s3.table(name)
        base = name.removesuffix(config.QUARANTINE_SUFFIX)
        assert t.location() == (layout.table_path if name in TABLES else layout.quarantine_path)(
            S3_LAKE, base
        )
        files = [f.file.file_path for f in t.scan().plan_files()]
        assert files and all(
            f.startswith(f"{t.location()}/data/publish-") for f in files
        )  # re-committed on S3
        assert t.scan().to_arrow().to_pylist() == local.table(name).scan().to_arrow().to_pylist()
        summary = s3.summary(name)
        assert summary["operation"] == "append" and summary["stedi.published-from"] == str(
            local.snapshot_id(name)
        )
        assert (
            summary["stedi.run-id"] == "20261207T000000Z-strict-aaaa"
            and summary["stedi.step"] == "00"
        )
    assert not any(k.endswith(".stedi.lake.lock") for k in _keys())  # the lock was released


@pytest.mark.slow
def test_publishing_again_changes_nothing_and_a_new_snapshot_replaces_the_copy(
    aws_env, tmp_path, capsys
):
    local = make_lake(tmp_path / "lake")
    publish(lake_dir=str(tmp_path / "lake"), to=S3_LAKE)
    before, objects = _metadata_locations(), _keys()
    summary = publish(lake_dir=str(tmp_path / "lake"), to=S3_LAKE)
    assert not any(entry["published"] for entry in summary["tables"].values())
    assert (
        _metadata_locations() == before and _keys() == objects
    )  # no new snapshot, no object written
    assert "unchanged" in capsys.readouterr().out

    local.run_id = "20261208T000000Z-strict-bbbb"
    _commit(local, "customer_trusted", rows=2)  # a later local run replaced one table
    summary = publish(lake_dir=str(tmp_path / "lake"), to=S3_LAKE)
    assert [n for n, e in summary["tables"].items() if e["published"]] == ["customer_trusted"]
    after = _metadata_locations()
    assert {n for n in after if after[n] != before[n]} == {"customer_trusted"}
    forget_catalogs()
    t = IcebergLake(None, S3_LAKE).table("customer_trusted")
    assert (
        len(t.snapshots()) == 1 and t.scan().to_arrow().num_rows == 2
    )  # the copy holds the current state only
    assert (
        t.current_snapshot().summary.operation.value == "overwrite"
    )  # one snapshot replaced the copy
    prefix = layout.table_path("team/lake", "customer_trusted") + "/data/"
    assert [k.rsplit("/", 2)[1] for k in _keys(prefix)] == [
        f"publish-{local.snapshot_id('customer_trusted')}"
    ]


def test_publish_into_a_lake_a_run_holds_stops_with_one_line(aws_env, tmp_path, capsys):
    from stedi.lake.lock import LakeLock

    make_lake(tmp_path / "lake")
    held = LakeLock(S3_LAKE, "20261207T010000Z-strict-cccc").acquire()
    try:
        code = main(["aws", "publish", "--lake-dir", str(tmp_path / "lake"), "--to", S3_LAKE])
    finally:
        held.release()
    one_line_error(capsys, code, "is being written by another run")
    assert [k for k in _keys() if not k.endswith(".stedi.lake.lock")] == []


@pytest.mark.parametrize(
    "args, fragment",
    [
        (
            ["--lake-dir", "/nonexistent/lake", "--to", S3_LAKE],
            "lake directory /nonexistent/lake does not exist",
        ),
        (["--table", "customer_lounge", "--to", S3_LAKE], "unknown table 'customer_lounge'"),
        (["--to", "/tmp/not-s3"], "--to /tmp/not-s3 is not an S3 lake"),
        ([], "--to s3://BUCKET/PREFIX is required"),
        (["--to", S3_LAKE, "--bucket", BUCKET], "give the S3 lake once"),
        (["--to", S3_LAKE, "--policy", "udacity"], "was built with policy strict, not udacity"),
        (["--to", "s3://no-such-bucket/lake"], "bucket no-such-bucket does not exist"),
    ],
)
def test_publish_bad_arguments_exit_2_with_one_line(aws_env, tmp_path, capsys, args, fragment):
    make_lake(tmp_path / "lake")
    code = main(["aws", "publish", "--lake-dir", str(tmp_path / "lake"), *args])
    one_line_error(capsys, code, fragment)
    assert _keys() == []


def test_publish_refuses_a_lake_that_is_not_iceberg_and_one_without_credentials(
    aws_env, tmp_path, capsys, monkeypatch
):
    (tmp_path / "folders" / "landing").mkdir(parents=True)
    one_line_error(
        capsys,
        main(["aws", "publish", "--lake-dir", str(tmp_path / "folders"), "--to", S3_LAKE]),
        "is not an Iceberg lake (no catalog.db)",
    )
    make_lake(tmp_path / "lake")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    one_line_error(
        capsys,
        main(["aws", "publish", "--lake-dir", str(tmp_path / "lake"), "--to", S3_LAKE]),
        "no AWS credentials",
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert _keys() == []


def test_the_old_bucket_and_prefix_name_the_same_s3_lake(aws_env, tmp_path):
    make_lake(tmp_path / "lake")
    summary = publish(
        lake_dir=str(tmp_path / "lake"), bucket=BUCKET, prefix="team/", tables=["customer_landing"]
    )
    assert (
        summary["lake"] == S3_LAKE == RunOptions(target="glue", bucket=BUCKET, prefix="team/").lake
    )
    assert list(_glue()) == ["customer_landing"]


# -- a run under a kernel that prints its failures --------------------------------
@pytest.fixture
def printing_glue_kernel(tmp_path, monkeypatch):
    """A stand-in for glue_pyspark that prints its failure and completes the cell
    (tests/glue_kernels.py)."""
    return install_fake_glue_kernel(tmp_path, monkeypatch, "printed")


def test_a_glue_kernel_that_prints_its_failure_fails_the_run(
    aws_env, printing_glue_kernel, tmp_path, capsys
):
    from jupyter_client.kernelspec import KernelSpecManager

    assert (
        KernelSpecManager()
        .get_kernel_spec(printing_glue_kernel)
        .display_name.endswith("failure: printed)")
    )
    options = RunOptions(
        kernel=printing_glue_kernel,
        target="glue",
        bucket=BUCKET,
        lake_dir=str(tmp_path / "lake"),
        runs_dir=str(tmp_path / "runs"),
    )
    manifest = run(options)
    err = capsys.readouterr().err
    assert manifest["status"] == "failed"
    [step] = manifest["steps"]  # the run stops at the first step
    assert step["name"] == "00_raw_to_landing" and step["status"] == "failed"
    assert (
        "An error was encountered: Session" in step["error"] and "failed to start" in step["error"]
    )
    assert "step 00_raw_to_landing failed in 00_raw_to_landing.ipynb, cell [" in err
    assert _keys() == []  # nothing reached the lake

    code = main(
        ["run", "--target", "glue", "--bucket", BUCKET, "--runs-dir", str(tmp_path / "runs2")]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "step 00_raw_to_landing failed" in err and "An error was encountered" in err


def test_a_glue_run_holds_the_s3_lakes_lock_from_this_machine(
    aws_env, printing_glue_kernel, tmp_path, capsys
):
    """`stedi run --target glue` takes the S3 lake's lease as a local run on it does: while another
    run holds it, it stops with one line before any session starts; its own lease goes at its
    end, even when a step failed."""
    from stedi.lake.lock import LakeLock

    args = ["run", "--target", "glue", "--lake-dir", S3_LAKE, "--runs-dir", str(tmp_path / "runs")]
    held = LakeLock(S3_LAKE, "20261207T010000Z-strict-cccc").acquire()
    try:
        code = main(args)
    finally:
        held.release()
    one_line_error(capsys, code, "is being written by another run")
    assert main(args) == 1  # the stand-in kernel fails step 00: the lake was free
    assert "step 00_raw_to_landing failed" in capsys.readouterr().err
    assert _keys() == []  # no lease left behind


def test_a_succeeded_glue_run_forgets_an_erasures_history_from_this_machine(
    aws_env, tmp_path, monkeypatch, capsys
):
    """The runner's end of a `--target glue` run (its steps stood in: the Glue kernels here run
    none): once every zone step succeeded, the erasure's history is forgotten on the S3 lake through
    the Glue catalog, as after a local run; after part of the pipeline, it is kept and named."""
    from stedi.lake import icelake
    from stedi.run import runner
    from stedi.run.manifest import manifest_for
    from stedi.run.pipeline import ZONE_STEPS

    def steps_succeeded(options, folder, selected, steps, out, *rest):
        done = [{"name": s.name, "status": "succeeded", "seconds": 0.0} for s in selected]
        return manifest_for(folder.run_id, options, done, "succeeded", 0.0)

    monkeypatch.setattr(runner, "_execute", steps_succeeded)
    forget_catalogs()  # this process's catalogs of the S3 lake: from before moto's reset
    icelake.mark_history_to_forget(S3_LAKE, "20261207T010000Z-strict-cccc")
    args = ["run", "--target", "glue", "--lake-dir", S3_LAKE, "--runs-dir", str(tmp_path / "runs")]
    assert main([*args, "--only", ZONE_STEPS[0].name]) == 0
    assert "the erased customers are still in the tables of 01_" in capsys.readouterr().out
    assert icelake.history_to_forget(S3_LAKE)
    assert main(args) == 0
    assert "still in the tables" not in capsys.readouterr().out
    assert not icelake.history_to_forget(S3_LAKE)
