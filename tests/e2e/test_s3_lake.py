"""The lake on S3 end to end, against one moto server (S3, Glue, IAM) on 127.0.0.1 started once for
the module: `stedi run --lake-dir s3://…` on the local engine (Sail writes the files, pyiceberg
commits them to the Glue Data Catalog), reached through AWS_ENDPOINT_URL only.

One scenario, its phases in order, sharing the lake (tests/aws_fixtures.py's per-test reset would
wipe it): day 1 then a new day (incremental, counts exact); a re-run with nothing new skips every
step and commits nothing; two erasure requests at once are both kept; AccessDenied on the
registry stops a run with one line; a killed run's expired lock is taken over by the erasure run
while a second run started meanwhile stops with one line, and after it no object in the bucket,
decoded, holds the erased addresses or serial.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from test_incremental import STRICT_COUNTS, _day, _people

from aws_fixtures import download_bucket, set_aws_env
from lake_files import holding
from lakes import STEDI, ZONE_STEPS_ONLY, start_run, stedi_run
from stedi import config
from stedi.core import shared_files
from stedi.core.intake import erasure
from stedi.core.intake.erasure import Erasures, keyed_hash, normalize_email
from stedi.core.tables import TABLES
from stedi.lake.catalogs import forget_catalogs, quarantine_name
from stedi.lake.icelake import IcebergTables
from stedi.lake.lock import LOCK_FILE
from stedi.run.folder import RunFolder

# A whole scenario on one lake: its phases run in order, on one worker. The group is the one of
# the other long own-lake scenario (tests/e2e/test_incremental.py): under `make test` both go,
# together, to the worker that does not make the session's clean builds (tests/conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.own_lake, pytest.mark.xdist_group("scenarios")]

BUCKET = "stedi-s3-lake"
DATABASE = "stedi_s3_scenario"  # not the default: --database names the Glue database
LANDING_COUNTS = {
    "customer_landing": 956,
    "accelerometer_landing": 81_273,
    "step_trainer_landing": 28_680,
}
QUARANTINES = [quarantine_name(n) for n in LANDING_COUNTS]


class Scenario:
    def __init__(self, tmp: Path, endpoint: str):
        self.tmp, self.endpoint = tmp, endpoint
        self.lake = config.s3_uri(BUCKET, "team", config.GLUE_LAKE_KEY)
        self.raw, self.runs = tmp / "raw", tmp / "runs"

    def run(self, *args, check=True) -> subprocess.CompletedProcess:
        return stedi_run(
            self.lake,
            self.runs,
            "--raw-dir",
            str(self.raw),
            "--database",
            DATABASE,
            *ZONE_STEPS_ONLY,
            *args,
            check=check,
        )

    def tables(self) -> IcebergTables:
        forget_catalogs()  # another process committed: read the catalog afresh
        return IcebergTables(None, self.lake, database=DATABASE)

    def glue_tables(self) -> dict[str, dict]:
        pages = boto3.client("glue").get_paginator("get_tables").paginate(DatabaseName=DATABASE)
        return {t["Name"]: t for page in pages for t in page["TableList"]}

    def metadata_locations(self) -> dict[str, str]:
        return {
            name: t["Parameters"]["metadata_location"] for name, t in self.glue_tables().items()
        }

    def download(self, name: str) -> Path:
        """Every object of the bucket, as local files, for decoding."""
        return download_bucket(self.tmp / name, BUCKET)


@pytest.fixture(scope="module")
def s3(moto_endpoint, tmp_path_factory):
    """The scenario's environment, set for the module (inherited by every `stedi` process it
    starts)."""
    tmp = tmp_path_factory.mktemp("s3-lake")
    with pytest.MonkeyPatch.context() as env:
        set_aws_env(env, moto_endpoint, tmp)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield Scenario(tmp, moto_endpoint)
    forget_catalogs()


def test_day_one_then_a_new_day_on_an_s3_lake_in_the_glue_catalog(s3):
    _day(s3.raw, 1)
    s3.run()
    assert not (config.PROJECT_ROOT / "s3:").exists()  # the URI is never taken for a local folder
    day1 = s3.tables()
    day1_snapshot = day1.lake.snapshot_id("accelerometer_landing")
    day1_rows = day1.rows("accelerometer_landing")
    assert type(day1.lake.catalog).__name__ == "GlueCatalog"

    _day(s3.raw, 2)  # the raw folder now holds every file of data/raw
    s3.run()
    manifest = RunFolder.latest(s3.runs).read_manifest()
    assert {n: a["run"]["mode"] for n, a in manifest["intake"].items()} == {
        "customer_landing": "keep",
        "accelerometer_landing": "append",
        "step_trainer_landing": "append",
    }
    day2 = s3.tables()
    assert {n: day2.rows(n) for n in TABLES} == {
        **LANDING_COUNTS,
        **STRICT_COUNTS,
    }  # the README's strict counts
    history = day2.lake.history("accelerometer_landing")
    assert [h["operation"] for h in history] == [
        "append",
        "append",
    ]  # the new day: one append snapshot
    assert (
        history[0]["snapshot_id"] == day1_snapshot
        and history[1]["rows_added"] == 81_273 - day1_rows
    )
    # downstream too: the trusted readings of the new day's rows only, added to day 1's
    assert [h["operation"] for h in day2.lake.history("accelerometer_trusted")] == [
        "append",
        "append",
    ]
    glue = s3.glue_tables()
    assert sorted(glue) == sorted([*TABLES, *QUARANTINES])
    assert {t["Parameters"].get("table_type") for t in glue.values()} == {"ICEBERG"}
    assert all(t["StorageDescriptor"]["Location"].startswith(f"{s3.lake}/") for t in glue.values())


def test_a_rerun_with_nothing_new_skips_every_step_and_commits_nothing(s3):
    before = s3.metadata_locations()
    done = s3.run()
    assert done.stdout.count("up to date, skipped") == len(ZONE_STEPS_ONLY[1].split(",")), (
        done.stdout
    )
    assert "nothing new" in done.stdout
    assert s3.metadata_locations() == before  # no table got a snapshot
    manifest = RunFolder.latest(s3.runs).read_manifest()
    assert {n: t["rows"] for n, t in manifest["tables"].items()} == {
        **LANDING_COUNTS,
        **STRICT_COUNTS,
    }
    assert shared_files.read_versioned(f"{s3.lake}/{LOCK_FILE}") == (
        None,
        None,
    )  # released at the end


ERASE = [*STEDI, "erase", "--lake-dir"]


def test_two_erasure_requests_at_once_are_both_kept(s3):
    withdraws, consents, _ = _people()
    running = [
        subprocess.Popen(
            [*ERASE, s3.lake, "--email", who["email"]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=config.PROJECT_ROOT,
        )
        for who in (withdraws, consents)
    ]
    done = [(p.wait(timeout=120), *p.communicate()) for p in running]
    assert [code for code, _, _ in done] == [0, 0], done
    registry = Erasures.load(s3.lake)
    wanted = {
        keyed_hash(registry.key, normalize_email(who["email"])) for who in (withdraws, consents)
    }
    assert {r["email_hash"] for r in registry.pending} == wanted


def _moto_auth(endpoint: str, after: str) -> None:
    """moto's IAM authorization on (after "0" more requests) or off ("inf")."""
    import urllib.request

    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=after.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(request).close()


def test_access_denied_on_the_erasure_registry_stops_a_run_with_one_line(s3):
    registry = erasure._path(s3.lake, erasure.REQUESTS_FILE)
    iam = boto3.client("iam")
    iam.create_user(UserName="no-registry")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{registry[len('s3://') :]}",
            },
        ],
    }
    iam.put_user_policy(
        UserName="no-registry", PolicyName="no-registry", PolicyDocument=json.dumps(policy)
    )
    key = iam.create_access_key(UserName="no-registry")["AccessKey"]
    before = s3.metadata_locations()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }
    _moto_auth(s3.endpoint, "0")
    try:
        denied = subprocess.run(
            [
                *STEDI,
                "run",
                "--lake-dir",
                s3.lake,
                "--runs-dir",
                str(s3.tmp / "runs-denied"),
                "--raw-dir",
                str(s3.raw),
                "--database",
                DATABASE,
                "--only",
                "00_raw_to_landing",
            ],
            capture_output=True,
            text=True,
            cwd=config.PROJECT_ROOT,
            env=env,
        )
    finally:
        _moto_auth(s3.endpoint, "inf")
    assert denied.returncode != 0
    assert denied.stderr.count("\n") == 1, denied.stderr
    assert "AccessDenied" in denied.stderr and registry in denied.stderr, denied.stderr
    assert s3.metadata_locations() == before  # nothing landed: the requests were not taken for none
    assert len(Erasures.load(s3.lake).pending) == 2


def test_a_killed_runs_lock_is_taken_over_a_second_run_stops_and_the_erasure_leaves_no_trace(s3):
    withdraws, consents, _ = _people()
    lock = f"{s3.lake}/{LOCK_FILE}"
    # A run killed while it held the lake: its lease expired 100 s ago and was never released.
    shared_files.acquire_lease(lock, "killed-run", 1, now=lambda: time.time() - 100)
    first = start_run(
        s3.lake, s3.runs, "--raw-dir", str(s3.raw), "--database", DATABASE, *ZONE_STEPS_ONLY
    )
    try:
        deadline = time.monotonic() + 120
        while "killed-run" in (
            shared_files.read_versioned(lock)[0] or "killed-run"
        ):  # until the run holds it
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        second = s3.run(check=False)  # meanwhile
    finally:
        out, err = first.communicate(timeout=900)
    assert first.returncode == 0, out + err
    assert "took over the lake lock of run killed-run" in out
    assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stdout + second.stderr
    assert second.stderr.startswith(
        f"stedi: error: lake {s3.lake} is being written by another run: "
    ), second.stderr
    assert "is held by" in second.stderr
    assert shared_files.read_versioned(lock) == (None, None)

    assert Erasures.load(s3.lake).pending == []  # both requests applied, neither lost
    tables = s3.tables()
    assert tables.rows("customer_landing") == LANDING_COUNTS["customer_landing"] - 2
    bucket = s3.download("bucket-after-erasure")
    assert len(list(bucket.rglob("*.avro"))) >= len(
        TABLES
    )  # manifests and manifest lists were decoded too
    # every object decoded once, looked through for the three values
    assert holding(bucket, withdraws["email"], consents["email"], withdraws["serialNumber"]) == []


def test_report_and_history_of_an_s3_lake_and_sql_names_athena(s3, capsys):
    from stedi.cli import main

    assert (
        main(["history", "accelerometer_landing", "--lake-dir", s3.lake, "--database", DATABASE])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    latest = RunFolder.latest(s3.runs).path.name
    assert (
        len(lines) == 2 and latest in lines[1]
    )  # the erasure run forgot the history: one snapshot, its own
    assert main(["report", "--runs-dir", str(s3.runs)]) == 0
    manifest = RunFolder.latest(s3.runs).read_manifest()
    assert manifest["lake_dir"] == s3.lake and manifest["status"] == "succeeded"
    refused = subprocess.run(
        [*STEDI, "sql", "SELECT 1", "--lake-dir", s3.lake], capture_output=True, text=True
    )
    assert (
        refused.returncode == 2
        and refused.stderr.count("\n") == 1
        and "stedi aws query" in refused.stderr
    )
    assert not refused.stdout
