"""The deployed Glue job scripts under AWS's own awsglue library (awsglue-dev), with the argv Glue
passes.

- In this process (the project's environment, where awsglue-dev is a test dependency): each
  zone notebook's script gets past getResolvedOptions with Glue's argv; the stand-ins of the
  two JVM-bound classes (tests/glue_standin/jvm.py) keep awsglue's signatures.
- In the Glue 5.0 environment (tests/glue_harness.py: Python 3.11, pyspark 3.5.4, pandas 2.2.2,
  numpy 1.26.4, pyarrow 17.0.0, boto3 1.34.131; built once per machine and cached): every job
  deployed to a moto server is started with the argv Glue passes and stedi from the deployed
  stedi.zip; it reaches the Spark context, and every module its cells import imports there,
  none of them loading pyiceberg or Sail (importing a step's modules needs nothing Glue lacks).
- In that environment plus glue_env/glue-requirements.txt, installed over it as Glue installs
  `--additional-python-modules` (pip -r): the six deployed jobs run their zone steps whole, in the
  workflow's order, on a small input; pyiceberg commits every table (the lake a local folder with
  the SQLite catalog: local pyspark has no s3a), with the same rows as a local run.

What this cannot show, verified only on AWS: Glue's JVM (GlueContext, Job bookmarks), Glue's pip
installing the file (PyPI reachable from the job), the lake on S3 through the Glue Data Catalog
from inside a job (moto covers it from this machine: tests/test_s3_lake.py), IAM.
"""

from __future__ import annotations

import inspect
import os
import sys
import time

import boto3
import pytest

from aws_fixtures import BUCKET
from glue_harness import glue_argv, glue_env_dir, glue_python, start_jobs
from lake_files import holding
from stedi.aws.jobscript import GLUE_OWN_OPTIONS, glue_job
from stedi.cli import main
from stedi.lake.icelake import history_to_forget
from stedi.run.folder import lake_records
from stedi.run.pipeline import ZONE_STEPS

ROLE_ARN = "arn:aws:iam::123456789012:role/StediGlueRole"
CATALOG = "spark.sql.catalog.glue_catalog"
NAME = "team"
GLUE_5 = {
    "pyspark": "3.5.4",
    "pandas": "2.2.2",
    "numpy": "1.26.4",
    "pyarrow": "17.0.0",
    "boto3": "1.34.131",
    "botocore": "1.34.131",
}


def _ids(job: str) -> dict:
    return {
        "job_id": f"j_{job}",
        "job_run_id": f"jr_{job}",
        "workflow": NAME,
        "workflow_run_id": "wr_1",
        "temp_dir": f"s3://{BUCKET}/temporary/",
    }


def _boilerplate(script: str) -> str:
    """The script up to (not including) its Spark context: the argument parsing."""
    lines = script.splitlines()
    return "\n".join(lines[: lines.index("sc = SparkContext.getOrCreate()")])


# -- in this process -----------------------------------------------------------------------
@pytest.mark.parametrize("step", ZONE_STEPS, ids=lambda s: s.number)
def test_each_script_parses_glues_argv_with_awsglues_own_get_resolved_options(step, monkeypatch):
    """awsglue registers --JOB_ID, --JOB_RUN_ID, --SECURITY_CONFIGURATION itself: a script asking
    for JOB_RUN_ID again failed with argparse's "conflicting option string" at its first line."""
    import awsglue.utils

    script = glue_job(step.notebook).script
    assert "from awsglue.utils import getResolvedOptions" in script
    default = {
        "--lake_dir": f"s3://{BUCKET}/team/lake",
        "--policy": "strict",
        "--extra-py-files": "s3://x/stedi.zip",
        "--enable-glue-datacatalog": "true",
        "--additional-python-modules": "s3://x/glue-requirements.txt",
        "--python-modules-installer-option": "-r",
    }
    argv = glue_argv(
        {"Name": f"{NAME}-{step.name}", "DefaultArguments": default},
        **_ids(step.name),
        run_arguments={"--policy": "udacity"},
    )
    monkeypatch.setattr(sys, "argv", [f"{step.name}.py", *argv])
    scope: dict = {}
    exec(compile(_boilerplate(script), f"{step.name}.py", "exec"), scope)
    args = scope["args"]
    assert scope["getResolvedOptions"] is awsglue.utils.getResolvedOptions
    assert (args["JOB_NAME"], args["JOB_ID"], args["JOB_RUN_ID"]) == (
        f"{NAME}-{step.name}",
        f"j_{step.name}",
        f"jr_{step.name}",
    )
    assert args["WORKFLOW_RUN_ID"] == "wr_1" and scope["lake_dir"] == f"s3://{BUCKET}/team/lake"
    assert scope["policy"] == "udacity"  # the run's own argument wins over the job's default
    assert scope["run_dir"] == lake_records(f"s3://{BUCKET}/team/lake", "wr_1")


def test_a_job_run_outside_a_workflow_names_its_records_by_the_job_run_id(monkeypatch):
    script = glue_job(ZONE_STEPS[1].notebook).script
    argv = [
        "--JOB_NAME",
        "j",
        "--JOB_ID",
        "j_1",
        "--JOB_RUN_ID",
        "jr_9",
        "--lake_dir",
        "s3://b/lake",
    ]
    monkeypatch.setattr(sys, "argv", ["j.py", *argv])
    scope: dict = {}
    exec(compile(_boilerplate(script), "j.py", "exec"), scope)
    assert scope["run_dir"] == lake_records("s3://b/lake", "jr_9")
    monkeypatch.setattr(
        sys, "argv", ["j.py", "--JOB_NAME", "j", "--lake_dir", "s3://b/lake"]
    )  # no run id at all
    exec(compile(_boilerplate(script), "j.py", "exec"), scope)
    assert scope["run_dir"] == ""


def test_asking_awsglue_for_an_argument_it_registers_itself_is_the_error_glue_would_give():
    """The failure the scripts had, with awsglue-dev: what the test above guards against."""
    from awsglue.utils import getResolvedOptions

    argv = ["j.py", "--JOB_NAME", "j", "--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1"]
    with pytest.raises(Exception, match="conflicting option string"):
        getResolvedOptions(argv, ["JOB_NAME", "JOB_RUN_ID"])
    assert getResolvedOptions(argv, ["JOB_NAME"])["JOB_RUN_ID"] == "jr_1"


def test_a_parameter_named_as_an_argument_glue_passes_is_refused(tmp_path):
    import nbformat

    from stedi.errors import UsageError

    for name in ("JOB_RUN_ID", "TempDir", "WORKFLOW_RUN_ID"):
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell(f"{name}: str = ''  # x", metadata={"tags": ["parameters"]})
        ]
        path = tmp_path / "10_x.ipynb"
        nbformat.write(nb, path)
        with pytest.raises(
            UsageError, match=f"parameter {name} has the name of an argument Glue passes"
        ):
            glue_job(path)
    assert "JOB_RUN_ID" in GLUE_OWN_OPTIONS and "JOB_NAME" not in GLUE_OWN_OPTIONS


def test_the_standins_replace_only_the_jvm_bound_classes_with_awsglues_signatures():
    import awsglue.context
    import awsglue.job
    import awsglue.utils

    from glue_standin import jvm

    for standin, real in (
        (jvm.GlueContext, awsglue.context.GlueContext),
        (jvm.Job, awsglue.job.Job),
    ):
        assert standin.__mro__[1] is real
        overridden = [
            name
            for name, value in vars(standin).items()
            if (callable(value) and not name.startswith("__")) or name == "__init__"
        ]
        assert overridden, standin
        for name in overridden:
            assert inspect.signature(getattr(standin, name)) == inspect.signature(
                getattr(real, name)
            ), name
    jvm.install()
    try:
        assert awsglue.context.GlueContext is jvm.GlueContext and awsglue.job.Job is jvm.Job
        assert (
            awsglue.utils.getResolvedOptions.__module__ == "awsglue.utils"
        )  # the real one, never stood in
    finally:
        jvm.uninstall()
    assert awsglue.context.GlueContext is not jvm.GlueContext


def test_the_glue_environment_is_cached_per_lock(tmp_path, monkeypatch):
    """A changed glue_env lock gets a new environment; the same lock, the same folder (outside the
    clone)."""
    import shutil

    import glue_harness
    from stedi import config

    project = tmp_path / "glue_env"
    shutil.copytree(glue_harness.GLUE_ENV_PROJECT, project)
    monkeypatch.setattr(glue_harness, "GLUE_ENV_PROJECT", project)
    monkeypatch.setenv(glue_harness.CACHE_ENV, str(tmp_path / "cache"))
    before = glue_harness.glue_env_dir()
    assert before == glue_harness.glue_env_dir() and before.parent == tmp_path / "cache"
    (project / "uv.lock").write_text((project / "uv.lock").read_text() + "\n")
    assert glue_harness.glue_env_dir() != before
    monkeypatch.delenv(glue_harness.CACHE_ENV)
    assert config.PROJECT_ROOT not in glue_harness.glue_env_dir().parents
    lock = (glue_harness.config.PROJECT_ROOT / "glue_env" / "uv.lock").read_text()
    for name, version in GLUE_5.items():  # the lock pins Glue 5.0's versions
        assert f'name = "{name}"\nversion = "{version}"' in lock, name


# -- in the Glue 5.0 environment ----------------------------------------------------------------
@pytest.fixture(scope="module")
def glue5():
    """The Glue 5.0 environment's python (built on first use on this machine: about a minute)."""
    started = time.monotonic()
    python = glue_python()
    print(f"Glue 5.0 environment {glue_env_dir()} ready in {time.monotonic() - started:.1f} s")
    return python


def _deployed(tmp_path) -> tuple[list[dict], object]:
    """Deploy to moto; every job as GetJob returns it, its script from S3, and the deployed
    stedi.zip."""
    boto3.client("iam").create_role(RoleName="StediGlueRole", AssumeRolePolicyDocument="{}")
    assert (
        main(["aws", "deploy", "--bucket", BUCKET, "--role-arn", ROLE_ARN, "--prefix", "team/"])
        == 0
    )
    glue, s3 = boto3.client("glue"), boto3.client("s3")
    jobs = [glue.get_job(JobName=f"{NAME}-{step.name}")["Job"] for step in ZONE_STEPS]
    [package_uri] = {job["DefaultArguments"]["--extra-py-files"] for job in jobs}
    package = tmp_path / "stedi.zip"
    package.write_bytes(
        s3.get_object(Bucket=BUCKET, Key=package_uri.split("/", 3)[3])["Body"].read()
    )
    for job in jobs:
        key = job["Command"]["ScriptLocation"].split("/", 3)[3]
        job["script"] = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    return jobs, package


# about 15 s (one JVM), plus about a minute the first time on a machine (the environment)
@pytest.mark.slow
def test_every_deployed_job_reaches_the_spark_context_in_the_glue_5_environment(
    glue5, aws_env, tmp_path
):
    jobs, package = _deployed(tmp_path)
    lake = f"s3://{BUCKET}/team/lake"
    runs = [
        (job["script"], glue_argv(job, **_ids(job["Name"]), run_arguments={"--policy": "udacity"}))
        for job in jobs
    ]
    done, reports = start_jobs(runs, package, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(reports) == len(jobs)
    for job, report in zip(jobs, reports, strict=True):
        args = report["args"]
        assert report["job_init"] == job["Name"] == args["JOB_NAME"]
        assert (args["JOB_ID"], args["JOB_RUN_ID"], args["WORKFLOW_RUN_ID"]) == (
            f"j_{job['Name']}",
            f"jr_{job['Name']}",
            "wr_1",
        )
        assert args["lake_dir"] == lake and args["target"] == "glue" and args["policy"] == "udacity"
        assert (
            args["job_bookmark_option"] == "job-bookmark-disable"
            and args["TempDir"] == f"s3://{BUCKET}/temporary/"
        )
        assert report["run_dir"] == lake_records(lake, "wr_1")
        assert report["session"] == "pyspark.sql.session.SparkSession"
        assert report["spark"]["version"] == "3.5.4" and report["python"].startswith("3.11.")
        assert report["versions"] == GLUE_5
        assert report["stedi"] == str(
            package / "stedi" / "__init__.py"
        )  # from the zip, as --extra-py-files
        assert "stedi.run.step" in report["imported"] or "stedi.run" in report["imported"]
        assert report["not_on_glue_loaded"] == []
        # Glue 5.0's botocore has no S3 conditional writes: stedi.core.storage sees it
        # (test_s3_writers.py)
        assert report["conditional_writes"] is False
        # Glue's own Iceberg declared as AWS documents it, for reading the lake by name; the
        # session starts with its settings (the jars, which --datalake-formats adds on Glue, are
        # absent here, and no step uses the catalog: pyiceberg commits)
        assert "iceberg" in job["DefaultArguments"]["--datalake-formats"].split(",")
        conf = report["spark"]["conf"]
        assert {
            key: conf.get(key)
            for key in (f"{CATALOG}", f"{CATALOG}.warehouse", "spark.sql.extensions")
        } == {
            CATALOG: "org.apache.iceberg.spark.SparkCatalog",
            f"{CATALOG}.warehouse": f"{lake}/",
            "spark.sql.extensions": (
                "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
            ),
        }
        assert job["DefaultArguments"]["--python-modules-installer-option"] == "-r"
        assert job["DefaultArguments"]["--additional-python-modules"].endswith(".txt")


@pytest.mark.slow
def test_the_harness_fails_a_script_that_asks_awsglue_for_job_run_id(glue5, tmp_path):
    """The harness can fail: the scripts' old boilerplate stops at getResolvedOptions under
    awsglue-dev."""
    from stedi.dev.package import build

    step = ZONE_STEPS[0]
    script = glue_job(step.notebook).script.replace(
        '"WORKFLOW_RUN_ID") if', '"WORKFLOW_RUN_ID", "JOB_RUN_ID") if'
    )
    assert '"JOB_RUN_ID") if' in script
    argv = glue_argv({"Name": step.name, "DefaultArguments": {}}, **_ids(step.name))
    done, reports = start_jobs([(script, argv)], build(tmp_path / "stedi.zip"), tmp_path)
    assert done.returncode == 1 and reports == []
    assert "argument --JOB_RUN_ID: conflicting option string: --JOB_RUN_ID" in done.stderr


# -- the zone steps run whole on Glue 5.0's libraries plus what deploy adds ------------------------
SMALL = {
    "customer": 60,
    "accelerometer": 600,
    "step_trainer": 300,
}  # real records, the first of each export


def _small_raw(raw) -> None:
    from intake_fixtures import json_lines, real_records

    for source, limit in SMALL.items():
        (raw / source).mkdir(parents=True)
        (raw / source / f"{source}-small.json").write_text(json_lines(real_records(source, limit)))


def _snapshots(lake) -> dict[str, dict]:
    """table -> (rows, the current snapshot's summary) of every table of the local lake, read by
    pyiceberg here."""
    from stedi.core.tables import TABLES
    from stedi.lake.catalogs import forget_catalogs
    from stedi.lake.iceberg import IcebergLake

    opened = IcebergLake(None, str(lake))
    found = {}
    for name in TABLES:
        if opened.exists(name):
            table = opened.ensure(name)
            snapshot = table.current_snapshot()
            found[name] = {
                "rows": table.scan().to_arrow().num_rows,
                "summary": dict(snapshot.summary.additional_properties),
            }
    forget_catalogs()
    return found


def _landed_customer(lake) -> tuple[str, str]:
    """The email and serial number of a customer in the lake's customer_landing."""
    from stedi.lake.catalogs import forget_catalogs
    from stedi.lake.iceberg import IcebergLake

    forget_catalogs()
    rows = IcebergLake(None, str(lake)).table("customer_landing").scan().to_arrow().to_pylist()
    forget_catalogs()
    return next((r["email"], r["serialNumber"]) for r in rows if r["email"] and r["serialNumber"])


# The landing job on Glue 5.0's pyspark spends minutes in Catalyst's analysis of the intake's
# expressions on a loaded machine (8 min on 2 cores at load 16: notes.md), whatever the input size;
# `make test` therefore starts the chain after the landing, on a copy of a local run's landing
# tables. STEDI_GLUE_HARNESS_LANDING=1 runs all six jobs, the landing included.
WITH_LANDING = os.environ.get("STEDI_GLUE_HARNESS_LANDING") == "1"


# 171-219 s measured at load 16-20 on 2 cores (the environment: a few minutes more, once per
# machine)
@pytest.mark.slow
def test_the_deployed_jobs_run_the_zone_steps_whole_in_the_glue_5_environment_with_deploys_modules(
    aws_env, tmp_path
):
    """The deployed jobs, started in workflow order with Glue's argv under awsglue-dev, in Glue
    5.0's environment plus glue_env/glue-requirements.txt installed as Glue installs
    --additional-python-modules: each runs its zone step to job.commit(), committing Iceberg
    snapshots with pyiceberg (the lake a local folder here, SQLite catalog); the tables equal a
    local run's (Sail) on the same small input."""
    import subprocess

    from lakes import STEDI, copy_lake
    from stedi import config

    raw, lake, local_lake = tmp_path / "raw", tmp_path / "lake", tmp_path / "local-lake"
    _small_raw(raw)

    def local_run(*steps: str) -> subprocess.Popen:
        return subprocess.Popen(
            [
                *STEDI,
                "run",
                "--raw-dir",
                str(raw),
                "--lake-dir",
                str(local_lake),
                "--runs-dir",
                str(tmp_path / "runs"),
                "--only",
                ",".join(steps),
            ],
            cwd=config.PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def finished(run: subprocess.Popen) -> None:
        output, _ = run.communicate(timeout=600)
        assert run.returncode == 0, output[-3000:]

    on_glue = ZONE_STEPS if WITH_LANDING else ZONE_STEPS[1:]
    erased = ()
    if (
        not WITH_LANDING
    ):  # the landing tables from a local run, copied: the Glue jobs start after the landing
        finished(local_run(ZONE_STEPS[0].name))
        # An erasure, applied by the landing alone: the landing's older snapshot keeps the
        # customer until the workflow's last job forgets the history.
        erased = _landed_customer(local_lake)
        assert main(["erase", "--lake-dir", str(local_lake), "--email", erased[0]]) == 0
        finished(local_run(ZONE_STEPS[0].name))
        copy_lake(local_lake, lake)
        assert holding(lake, *erased) != [] and history_to_forget(str(lake))
    local = local_run(*(step.name for step in on_glue))
    python = glue_python(with_stedi_modules=True)
    jobs, package = _deployed(tmp_path)
    jobs = [job for job in jobs if job["Name"] in {f"{NAME}-{step.name}" for step in on_glue}]
    given = {"--lake_dir": str(lake), "--raw_dir": str(raw), "--policy": "strict"}
    runs = [
        (job["script"], glue_argv(job, **_ids(job["Name"]), run_arguments=given)) for job in jobs
    ]
    done, reports = start_jobs(runs, package, tmp_path, to_the_end=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    finished(local)
    print(
        "seconds per job on Glue 5.0's libraries:",
        {job["Name"]: r["seconds"] for job, r in zip(jobs, reports)},
    )

    # the environment: Glue 5.0's, with pyarrow and pyiceberg as glue-requirements.txt pins them,
    # nothing else moved
    requirements = (
        (config.PROJECT_ROOT / "glue_env" / "glue-requirements.txt").read_text().splitlines()
    )
    pins = {
        line.strip().lower() for line in requirements if line.strip() and not line.startswith("#")
    }
    added = set((python.parent.parent / "stedi-added.txt").read_text().split())
    assert added - pins == {
        p for p in added if p.split("==")[0] in ("sqlalchemy", "greenlet")
    }  # the harness's own
    assert pins <= added
    for job, report in zip(jobs, reports, strict=True):
        assert report["calls"] == [
            ["init", job["Name"]],
            ["commit", job["Name"]],
        ]  # the whole script ran
        assert report["python"].startswith("3.11.") and report["spark"] == "3.5.4"
        versions = report["versions"]
        assert {k: versions[k] for k in ("pandas", "numpy", "boto3", "botocore", "pyspark")} == {
            k: GLUE_5[k] for k in ("pandas", "numpy", "boto3", "botocore", "pyspark")
        }
        assert (
            f"pyarrow=={versions['pyarrow']}" in pins
            and f"pyiceberg=={versions['pyiceberg']}" in pins
        )
        assert int(versions["pyarrow"].split(".")[0]) >= 18

    steps, (on_glue, here) = on_glue, (_snapshots(lake), _snapshots(local_lake))
    assert set(on_glue) == set(here) and {"customer_landing", "machine_learning_curated"} <= set(
        on_glue
    )
    assert {name: t["rows"] for name, t in on_glue.items()} == {
        name: t["rows"] for name, t in here.items()
    }
    assert (
        on_glue["customer_trusted"]["rows"] > 0 and on_glue["machine_learning_curated"]["rows"] > 0
    )
    written = {t for step in steps for t in step.writes}
    assert written and written <= set(on_glue)
    for where in (lake, local_lake) if erased else ():  # the last job forgot the history
        assert holding(where, *erased) == [] and not history_to_forget(str(where)), where
    for name in (
        written
    ):  # every snapshot the jobs committed names the workflow's run, its step and the policy
        summary = on_glue[name]["summary"]
        assert summary["stedi.run-id"] == "wr_1", (name, summary)
        assert summary["stedi.policy"] == "strict" and summary["stedi.step"], (name, summary)
