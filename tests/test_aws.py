"""The AWS side against a moto server on 127.0.0.1: the lake layout, publish (S3 + Glue Data
Catalog), and a run under a stand-in for the Glue kernel that prints its failures
(Athena queries: tests/test_aws_query.py).

What moto cannot show: Athena executing SQL (it records the request and returns canned
results), Glue sessions, IAM. Those are verified only on AWS (README, "Running on AWS").
"""

from __future__ import annotations

import json
import re

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from aws_fixtures import BUCKET, aws_env, moto_endpoint, one_line_error  # noqa: F401 (pytest fixtures)
from glue_kernels import install_fake_glue_kernel

from stedi import config
from stedi.aws import catalog
from stedi.aws import publish as publishing
from stedi.aws.publish import publish
from stedi.cli import main
from stedi.core.tables import SOURCES, TABLES, landing_table
from stedi.errors import UsageError
from stedi.lake import layout
from stedi.lake.store import QUARANTINE_COLUMNS
from stedi.run.options import RunOptions
from stedi.run.runner import run

# quarantine/<table>/: every landing table, and one later table whose quality rules quarantined rows.
QUARANTINED = tuple(landing_table(s) for s in SOURCES) + ("accelerometer_trusted",)

ARROW = {"string": pa.string(), "bigint": pa.int64(), "int": pa.int32(), "double": pa.float64()}
SAMPLE = {"string": ["a@x.test", "b@x.test", None], "bigint": [1655564444000, 1655564445000, 1655564446000],
          "int": [1, 2, 3], "double": [0.5, -1.0, 2.25]}


# -- helpers (the moto server and its environment: tests/aws_fixtures.py) -------------
def _frame(columns, rows: int = 3) -> pd.DataFrame:
    return pd.DataFrame({name: SAMPLE[typ][:rows] for name, typ in columns})


def _write_table(folder, fmt: str, columns, parts: int = 1, run_tag: str = "0000") -> None:
    """What Spark leaves: part files, a _SUCCESS marker and hidden .crc files."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    frame = _frame(columns)
    for part in range(parts):
        name = f"part-{part:05d}-{run_tag}.{'json' if fmt == 'json' else 'snappy.parquet'}"
        if fmt == "json":  # JSON lines without the null fields, as Spark writes them
            records = [{k: v for k, v in r.items() if v is not None} for r in frame.to_dict("records")]
            (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records))
        else:
            schema = pa.schema([(n, ARROW[t]) for n, t in columns])
            pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), folder / name)
        (folder / f".{name}.crc").write_bytes(b"crc")
    (folder / "_SUCCESS").write_text("")


def make_lake(root, policy: str = "strict"):
    """A small lake in the layout stedi.lake.store.Lake writes, with the declared types, without Spark."""
    for t in TABLES.values():
        _write_table(root / t.zone / t.name, t.fmt, t.columns_for(policy), parts=2 if t.zone == "trusted" else 1)
    for name in QUARANTINED:
        _write_table(root / config.QUARANTINE_ZONE / name, "json", QUARANTINE_COLUMNS)
    return root


def _keys(prefix: str = "") -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def _catalog_table(name: str, database: str = config.DEFAULT_DATABASE) -> dict:
    return boto3.client("glue").get_table(DatabaseName=database, Name=name)["Table"]


def _catalog_columns(entry: dict) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in entry["StorageDescriptor"]["Columns"]]


def _declared(columns) -> list[tuple[str, str]]:
    """Declared columns as the Glue catalog keeps them: names in lower case (Athena and Hive are case-insensitive)."""
    return [(name.lower(), typ) for name, typ in columns]


# -- layout --------------------------------------------------------------------
def _table_uri(name: str) -> str:
    """Where table `name` goes in the lake of BUCKET without a prefix."""
    return layout.table_path(layout.s3_root(BUCKET), name)


def test_the_layout_places_tables_under_their_zone_for_any_root():
    assert layout.s3_root(BUCKET, "team/") == f"s3://{BUCKET}/team/lake"
    assert layout.s3_root(BUCKET) == f"s3://{BUCKET}/lake"
    for root in (f"s3://{BUCKET}/team/lake", "/data/lake"):
        assert layout.table_path(root, "customer_trusted") == f"{root}/trusted/customer_trusted"
        assert layout.quarantine_path(root, "step_trainer_landing") == f"{root}/quarantine/step_trainer_landing"
    with pytest.raises(KeyError, match="customer_lounge"):
        layout.table_path("/data/lake", "customer_lounge")


def test_published_tables_go_where_a_glue_run_writes_them(aws_env, tmp_path):
    from stedi.lake.store import Lake

    glue_lake = RunOptions(target="glue", bucket=BUCKET, prefix="team/").lake
    summary = publish(lake_dir=str(make_lake(tmp_path / "lake")), bucket=BUCKET, prefix="team/")
    assert summary["lake"] == glue_lake == f"s3://{BUCKET}/team/lake"
    assert {name: entry["path"] for name, entry in summary["tables"].items()} == {
        name: Lake(None, glue_lake).path(name) for name in TABLES
    }
    assert {name: entry["path"] for name, entry in summary["quarantine"].items()} == {
        name: Lake(None, glue_lake).quarantine_path(name) for name in QUARANTINED
    }


def test_the_json_serde_is_the_one_of_the_landing_ddl():
    for source in SOURCES:
        ddl = (config.SQL_DIR / f"{source}_landing.sql").read_text()
        assert f"ROW FORMAT SERDE '{catalog.JSON_SERDE}'" in ddl
        properties = re.search(r"WITH SERDEPROPERTIES \((.*?)\)\n", ddl).group(1)
        assert dict(re.findall(r"'([^']+)' = '([^']*)'", properties)) == catalog.JSON_SERDE_PARAMETERS


# -- publish -------------------------------------------------------------------
def test_publish_uploads_every_table_and_registers_its_declared_types(aws_env, tmp_path, capsys):
    lake = make_lake(tmp_path / "lake")
    code = main(["aws", "publish", "--bucket", BUCKET, "--lake-dir", str(lake), "--prefix", "team/"])
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"s3://{BUCKET}/team/lake" in out
    # One version folder for the whole publish, under each table's folder (see stedi.aws.publish._publish_folders).
    [version] = set(re.findall(r"/(v\d{8}T\d{12}Z-[0-9a-f]{8})/", out))

    expected = []
    for t in TABLES.values():
        folder = lake / t.zone / t.name
        expected += [
            f"team/lake/{t.zone}/{t.name}/{version}/{p.name}" for p in folder.iterdir() if p.name.startswith("part-")
        ]
    for name in QUARANTINED:
        expected += [
            f"team/lake/quarantine/{name}/{version}/{p.name}" for p in (lake / "quarantine" / name).glob("part-*")
        ]
    assert _keys() == sorted(expected)  # data files only: no _SUCCESS, no .crc

    import awswrangler as wr

    assert sorted(wr.catalog.tables(database="stedi", limit=100)["Table"]) == sorted(TABLES)
    for t in TABLES.values():
        entry = _catalog_table(t.name)
        storage = entry["StorageDescriptor"]
        assert _catalog_columns(entry) == _declared(t.columns_for("strict")), t.name
        assert storage["Location"] == f"s3://{BUCKET}/team/lake/{t.zone}/{t.name}/{version}/"
        assert entry["TableType"] == "EXTERNAL_TABLE"
        if t.fmt == "json":
            assert storage["SerdeInfo"]["SerializationLibrary"] == catalog.JSON_SERDE
            assert storage["SerdeInfo"]["Parameters"] == catalog.JSON_SERDE_PARAMETERS
            assert storage["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
        else:
            assert "parquet" in storage["SerdeInfo"]["SerializationLibrary"].lower()
            assert "parquet" in storage["InputFormat"].lower()
    assert "user" not in dict(catalog.declared_columns(TABLES["machine_learning_curated"], *_ml_files(lake), None)[0])


def _ml_files(lake):
    folder = lake / "curated" / "machine_learning_curated"
    return folder, catalog.data_files(folder)


def test_publishing_twice_replaces_and_never_appends(aws_env, tmp_path):
    import awswrangler as wr

    lake = make_lake(tmp_path / "lake")
    publish(lake_dir=str(lake), bucket=BUCKET)
    first_keys = _keys()
    first_rows = {
        name: len(wr.s3.read_parquet(_table_uri(name) + "/"))
        for name, t in TABLES.items()
        if t.fmt == "parquet"
    }
    # A new local run: Spark names its part files anew, so an appending upload would double the rows.
    for t in TABLES.values():
        _write_table(lake / t.zone / t.name, t.fmt, t.columns, parts=2 if t.zone == "trusted" else 1, run_tag="1111")
    publish(lake_dir=str(lake), bucket=BUCKET)
    second_keys = _keys()
    assert len(second_keys) == len(first_keys)
    assert not [k for k in second_keys if "-0000." in k and "/quarantine/" not in k]  # the old files are gone
    for name, rows in first_rows.items():
        assert len(wr.s3.read_parquet(_table_uri(name) + "/")) == rows == 3 * (
            2 if TABLES[name].zone == "trusted" else 1
        )
    assert sorted(wr.catalog.tables(database="stedi", limit=100)["Table"]) == sorted(TABLES)
    assert _catalog_columns(_catalog_table("customer_landing")) == _declared(TABLES["customer_landing"].columns)


def _locations() -> dict[str, str]:
    """Every table's catalog location, without the trailing slash (one request)."""
    entries = boto3.client("glue").get_tables(DatabaseName=config.DEFAULT_DATABASE)["TableList"]
    return {e["Name"]: e["StorageDescriptor"]["Location"].rstrip("/") for e in entries if e["Name"] in TABLES}


def _objects_under(uri: str, keys: list[str] | None = None) -> list[str]:
    """The names of the objects under `uri/` (among `keys`, when given)."""
    prefix = uri.split(f"s3://{BUCKET}/", 1)[1] + "/"
    return [k[len(prefix) :] for k in (_keys(prefix) if keys is None else keys) if k.startswith(prefix)]


def _part_files(lake, name: str) -> list[str]:
    t = TABLES[name]
    return sorted(p.name for p in (lake / t.zone / t.name).glob("part-*"))


def _new_local_run(lake, run_tag: str = "1111") -> None:
    """The lake rebuilt: Spark names its part files anew (and the trusted tables get a third part)."""
    for t in TABLES.values():
        _write_table(lake / t.zone / t.name, t.fmt, t.columns, parts=3 if t.zone == "trusted" else 1, run_tag=run_tag)


@pytest.mark.slow  # seconds: the whole tier (make test), not make check
def test_republishing_switches_each_table_to_a_complete_new_version(aws_env, tmp_path, monkeypatch):
    """Athena reads a table at its catalog location: during a re-publish, that is always a complete version."""
    lake = make_lake(tmp_path / "lake")
    first = publish(lake_dir=str(lake), bucket=BUCKET)
    old = _locations()
    old_files = {name: _part_files(lake, name) for name in TABLES}
    for name, location in old.items():
        assert location == first["tables"][name]["location"] == f"{_table_uri(name)}/{first['version']}"
        assert _objects_under(location) == old_files[name]
    _new_local_run(lake)
    # Files a Glue run wrote straight into a table folder are replaced too.
    glue_file = "lake/trusted/customer_trusted/part-00000-glue.snappy.parquet"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=glue_file, Body=b"x")
    new_files = {name: _part_files(lake, name) for name in TABLES}
    observed = {"uploads": 0, "removals": 0}

    def table_of(uri: str) -> str:
        return next(name for name in TABLES if f"/{TABLES[name].zone}/{name}/" in uri + "/")

    real_upload, real_remove = publishing._upload_file, publishing._remove_other_versions

    def upload_and_check(session, local, target):
        # While files go up, every table is read where the first publish put it, complete.
        observed["uploads"] += 1
        assert _locations() == old
        keys = _keys()
        assert all(_objects_under(old[name], keys) == old_files[name] for name in TABLES)
        real_upload(session, local, target)

    def remove_and_check(session, uri, location):
        # By the time old versions go, the table's entry points at its complete new version.
        if "/quarantine/" not in uri:
            observed["removals"] += 1
            name = table_of(uri)
            assert _locations()[name] == location != old[name]
            assert _objects_under(location) == new_files[name]
        return real_remove(session, uri, location)

    monkeypatch.setattr(publishing, "_upload_file", upload_and_check)
    monkeypatch.setattr(publishing, "_remove_other_versions", remove_and_check)
    second = publish(lake_dir=str(lake), bucket=BUCKET)
    assert observed["uploads"] > len(TABLES) and observed["removals"] == len(TABLES)

    new = _locations()
    for name in TABLES:
        assert new[name] == second["tables"][name]["location"] != old[name]
        assert _objects_under(new[name]) == new_files[name]  # exactly the new files
        assert _objects_under(old[name]) == []  # the previous version is gone
        assert _keys(f"lake/{TABLES[name].zone}/{name}/") == [
            f"lake/{TABLES[name].zone}/{name}/{second['version']}/{f}" for f in new_files[name]
        ]


def test_an_upload_failure_leaves_every_table_on_its_complete_previous_version(
    aws_env, tmp_path, monkeypatch, capsys
):
    from botocore.exceptions import ClientError

    lake = make_lake(tmp_path / "lake")
    publish(lake_dir=str(lake), bucket=BUCKET, register_quarantine=True)
    keys, old = _keys(), _locations()
    old_quarantine = _catalog_table("customer_landing_quarantine")["StorageDescriptor"]["Location"]
    _new_local_run(lake)
    real_upload = publishing._upload_file
    uploads = []

    def failing_upload(session, local, target):
        uploads.append(target)
        if "accelerometer_trusted" in target and len([u for u in uploads if "accelerometer_trusted" in u]) == 2:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "injected: slow down"}}, "PutObject")
        real_upload(session, local, target)

    monkeypatch.setattr(publishing, "_upload_file", failing_upload)
    code = main(["aws", "publish", "--bucket", BUCKET, "--lake-dir", str(lake), "--register-quarantine"])
    err = capsys.readouterr().err
    assert code == 1 and "SlowDown" in err, err
    assert len(uploads) > 2  # other tables' files had gone up before the failure
    assert _locations() == old  # no entry moved, not even those of the tables uploaded in full
    assert _catalog_table("customer_landing_quarantine")["StorageDescriptor"]["Location"] == old_quarantine
    assert _keys() == keys  # the previous versions are whole, and nothing of the failed publish is left


def test_the_ml_table_layout_is_read_from_its_schema(aws_env, tmp_path, capsys):
    lake = make_lake(tmp_path / "lake", policy="udacity")
    summary = publish(
        lake_dir=str(lake), bucket=BUCKET, database="stedi_udacity", tables=["machine_learning_curated"]
    )
    assert summary["policy"] == "udacity"
    columns = _catalog_columns(_catalog_table("machine_learning_curated", "stedi_udacity"))
    assert columns == _declared(TABLES["machine_learning_curated"].columns_for("udacity"))
    assert ("user", "string") in columns
    # Saying strict about a udacity table is refused, before anything is written.
    before = _keys()
    code = main(["aws", "publish", "--bucket", BUCKET, "--lake-dir", str(lake), "--policy", "strict"])
    one_line_error(capsys, code, "machine_learning_curated")
    assert _keys() == before


def test_a_table_of_unknown_layout_is_refused(aws_env, tmp_path, capsys):
    lake = make_lake(tmp_path / "lake")
    _write_table(lake / "trusted" / "customer_trusted", "parquet", (("email", "string"), ("phone", "bigint")))
    code = main(["aws", "publish", "--bucket", BUCKET, "--lake-dir", str(lake)])
    err = one_line_error(capsys, code, "table customer_trusted")
    assert "unknown layout (email string, phone int64)" in err
    assert _keys() == []  # checked before anything is written


def test_the_quarantine_is_uploaded_and_can_be_registered(aws_env, tmp_path):
    lake = make_lake(tmp_path / "lake")
    summary = publish(lake_dir=str(lake), bucket=BUCKET, tables=["customer_landing"], register_quarantine=True)
    assert sorted(summary["quarantine"]) == sorted(QUARANTINED)
    for name in QUARANTINED:
        entry = _catalog_table(f"{name}_quarantine")
        assert _catalog_columns(entry) == _declared(QUARANTINE_COLUMNS)
        location = f"s3://{BUCKET}/lake/quarantine/{name}/{summary['version']}/"
        assert entry["StorageDescriptor"]["Location"] == location == summary["quarantine"][name]["location"] + "/"
        assert entry["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == catalog.JSON_SERDE


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--lake-dir", "/nonexistent/lake"], "lake directory /nonexistent/lake does not exist"),
        (["--table", "customer_lounge"], "unknown table 'customer_lounge'"),
    ],
)
def test_publish_bad_arguments_exit_2_with_one_line(aws_env, tmp_path, capsys, args, fragment):
    lake = make_lake(tmp_path / "lake")
    code = main(["aws", "publish", "--bucket", BUCKET, "--lake-dir", str(lake), *args])
    one_line_error(capsys, code, fragment)
    assert _keys() == []


def test_publish_refuses_an_unknown_policy_before_anything_is_written(aws_env, tmp_path, capsys):
    lake = make_lake(tmp_path / "lake")
    with pytest.raises(SystemExit) as exit_info:  # argparse's choices
        main(["aws", "publish", "--bucket", BUCKET, "--lake-dir", str(lake), "--policy", "lenient"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'lenient'" in err, err
    with pytest.raises(UsageError, match="unknown policy 'lenient'"):
        publish(lake_dir=str(lake), bucket=BUCKET, policy="lenient")
    assert _keys() == []


def test_publish_refuses_a_lake_missing_a_table(aws_env, tmp_path, capsys):
    lake = make_lake(tmp_path / "lake")
    for p in (lake / "curated" / "customer_curated").iterdir():
        p.unlink()
    (lake / "curated" / "customer_curated").rmdir()
    code = main(["aws", "publish", "--bucket", BUCKET, "--lake-dir", str(lake)])
    one_line_error(capsys, code, "no table customer_curated")


def test_publish_to_a_missing_bucket_or_without_credentials_exits_2(aws_env, tmp_path, capsys, monkeypatch):
    lake = make_lake(tmp_path / "lake")
    publish = ["aws", "publish", "--lake-dir", str(lake), "--bucket"]
    one_line_error(capsys, main([*publish, "no-such-bucket"]), "bucket no-such-bucket does not exist")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    one_line_error(capsys, main([*publish, BUCKET]), "no AWS credentials")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    one_line_error(capsys, main([*publish, BUCKET]), "no AWS region")
    assert _keys() == []


def test_publish_without_bucket_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["aws", "publish"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--bucket" in err


# -- a run under a kernel that prints its failures --------------------------------
@pytest.fixture
def printing_glue_kernel(tmp_path, monkeypatch):
    """A stand-in for glue_pyspark that prints its failure and completes the cell (tests/glue_kernels.py)."""
    return install_fake_glue_kernel(tmp_path, monkeypatch, "printed")


def test_a_glue_kernel_that_prints_its_failure_fails_the_run(aws_env, printing_glue_kernel, tmp_path, capsys):
    from jupyter_client.kernelspec import KernelSpecManager

    assert KernelSpecManager().get_kernel_spec(printing_glue_kernel).display_name.endswith("failure: printed)")
    options = RunOptions(
        kernel=printing_glue_kernel, target="glue", bucket=BUCKET,
        lake_dir=str(tmp_path / "lake"), runs_dir=str(tmp_path / "runs"),
    )
    manifest = run(options)
    err = capsys.readouterr().err
    assert manifest["status"] == "failed"
    [step] = manifest["steps"]  # the run stops at the first step
    assert step["name"] == "00_raw_to_landing" and step["status"] == "failed"
    assert "An error was encountered: Session" in step["error"] and "failed to start" in step["error"]
    assert "step 00_raw_to_landing failed in 00_raw_to_landing.ipynb, cell [" in err
    assert _keys() == []  # nothing reached the lake

    code = main(["run", "--target", "glue", "--bucket", BUCKET, "--runs-dir", str(tmp_path / "runs2")])
    err = capsys.readouterr().err
    assert code == 1
    assert "step 00_raw_to_landing failed" in err and "An error was encountered" in err
