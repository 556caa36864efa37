"""`stedi aws deploy | undeploy | status` against a moto server on 127.0.0.1, and the generated Glue
job scripts run locally under AWS's awsglue (awsglue-dev), GlueContext and Job stood in
(tests/glue_standin/jvm.py), on the real exports.

What moto cannot show, verified only on AWS (docs/aws.md, "Deployed Glue jobs"): UpdateJob and
UpdateTrigger (moto 5.2.5 has neither; tests/deploy_fixtures.py adds them to its Glue service
here), the workflow actually running the jobs (moto's workflow runs start no job and carry no
graph), IAM permissions, and Glue's JVM (tests/aws/test_glue_harness.py starts the scripts in a Glue
5.0 environment up to the Spark context).
"""

from __future__ import annotations

import datetime as dt
import runpy
import sys
from pathlib import Path

import boto3
import nbformat
import pytest

from aws_fixtures import BUCKET, one_line_error
from deploy_fixtures import FailingSession
from engines import on
from lakes import fingerprints
from stedi import config
from stedi.aws import deploy as deploying
from stedi.aws.deploy import plan_deployment
from stedi.aws.deployed import MARKER, MARKER_ARGUMENT
from stedi.aws.job_settings import job_settings
from stedi.aws.jobscript import glue_job
from stedi.aws.status import failed, step_states
from stedi.cli import main
from stedi.engine.glue_iceberg import glue_iceberg_settings, job_arguments, requirements_path
from stedi.errors import UsageError
from stedi.run import pipeline
from stedi.run.pipeline import ZONE_STEPS
from stedi.run.runner import step_line, step_outcome

ROLE = "StediGlueRole"
ROLE_ARN = f"arn:aws:iam::123456789012:role/{ROLE}"
NAME = "team"  # the deployment of --prefix team/
JOBS = [f"{NAME}-{step.name}" for step in ZONE_STEPS]


# -- helpers ---------------------------------------------------------------------
def _notebook(tmp_path, *cells, parameters="name: str = 'x'  # a name") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%glue_version 5.0\n%number_of_workers 3")]
    nb.cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    nb.cells += [
        nbformat.v4.new_markdown_cell(c) if c.startswith("# ") else nbformat.v4.new_code_cell(c)
        for c in cells
    ]
    path = tmp_path / "10_example.ipynb"
    nbformat.write(nb, path)
    return path


class _NoSparkContext:
    """pyspark.context.SparkContext for scripts run in this process on the local engine: the test's
    GlueContext wraps the session it was given (Sail has no SparkContext), so getOrCreate starts
    nothing."""

    @classmethod
    def getOrCreate(cls):
        return cls()


@pytest.fixture
def glue_standin(monkeypatch):
    """AWS's awsglue (awsglue-dev: the real getResolvedOptions) with GlueContext and Job stood in
    (tests/glue_standin/jvm.py), a SparkContext that starts nothing, and no Glue session
    registered."""
    import pyspark.context

    from glue_standin import jvm
    from stedi.engine import session as sessions

    monkeypatch.setattr(pyspark.context, "SparkContext", _NoSparkContext)
    monkeypatch.setattr(sessions, "_glue_job", {})
    jvm.install()
    yield jvm
    jvm.uninstall()
    jvm.GlueContext.session = None


def _run_script(script: str, argv: list[str], monkeypatch, session, folder: Path) -> dict:
    """Run a generated script (written into `folder`) in this process, its GlueContext wrapping
    `session` (needs the glue_standin fixture); returns the script's globals."""
    from glue_standin.jvm import GlueContext

    monkeypatch.setattr(GlueContext, "session", session)
    path = folder / f"{argv[argv.index('--JOB_NAME') + 1]}.py"
    path.write_text(script)
    monkeypatch.setattr(sys, "argv", [str(path), *argv])
    return runpy.run_path(str(path), run_name="__main__")


def _role():
    boto3.client("iam").create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")


def _deploy(*args) -> int:
    return main(
        ["aws", "deploy", "--bucket", BUCKET, "--role-arn", ROLE_ARN, "--prefix", "team/", *args]
    )


def _account() -> dict:
    """Every job, workflow, trigger and S3 key of the moto account, with the definitions deploy
    sets."""
    glue, s3 = boto3.client("glue"), boto3.client("s3")
    jobs = {
        j["Name"]: {
            k: j.get(k)
            for k in (
                "Command",
                "DefaultArguments",
                "GlueVersion",
                "WorkerType",
                "NumberOfWorkers",
                "Timeout",
                "Role",
                "ExecutionClass",
            )
        }
        for j in glue.get_jobs()["Jobs"]
    }
    triggers = {t["Name"]: t for t in glue.get_triggers()["Triggers"]}
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {
        "jobs": jobs,
        "workflows": sorted(glue.list_workflows()["Workflows"]),
        "triggers": triggers,
        "objects": {o["Key"]: (o["ETag"], o["LastModified"]) for o in listed},
    }


def _key(uri: str) -> str:
    return uri.split("/", 3)[3]


def _runnable(account: dict) -> None:
    """The workflow has a start trigger, every trigger names jobs that exist, every job's script and
    code are in S3."""
    assert {t["Type"] for t in account["triggers"].values()} & {"ON_DEMAND", "SCHEDULED"}, account[
        "triggers"
    ]
    for trigger in account["triggers"].values():
        named = [a["JobName"] for a in trigger["Actions"]]
        named += [c["JobName"] for c in trigger.get("Predicate", {}).get("Conditions", [])]
        assert set(named) <= set(account["jobs"]), trigger
    for job in account["jobs"].values():
        assert _key(job["Command"]["ScriptLocation"]) in account["objects"], job
        for uri in job["DefaultArguments"]["--extra-py-files"].split(","):
            assert _key(uri) in account["objects"], job


# -- the scripts ---------------------------------------------------------------------
@pytest.mark.parametrize("step", ZONE_STEPS, ids=lambda s: s.number)
def test_each_zone_notebook_becomes_a_glue_job_script_that_compiles(step):
    job = glue_job(step.notebook)
    compile(job.script, f"{step.name}.py", "exec")
    lines = job.script.splitlines()
    assert not [line for line in lines if line.lstrip().startswith(("%", "!"))]
    assert (
        lines.index('args = getResolvedOptions(sys.argv, ["JOB_NAME", *_given])')
        < lines.index("glueContext = GlueContext(sc)")
        < lines.index('job.init(args["JOB_NAME"], args)')
    )
    assert "use_glue_session(spark)  # stedi's target glue runs on this session" in lines
    assert lines[-1] == "job.commit()"
    notebook = nbformat.read(step.notebook, as_version=4)
    code = [
        c.source
        for c in notebook.cells
        if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
    ]
    for cell in notebook.cells:
        if cell.cell_type == "markdown":  # markdown as comments
            assert all(f"# {line}".rstrip() in lines for line in cell.source.splitlines())
    assert code[1].startswith("%%configure")  # the session's settings: job parameters, not code
    assert (
        "%%configure" not in job.script
        and job.configure["--python-modules-installer-option"] == "-r"
    )
    for source in code[
        2:
    ]:  # the code cells after the magics and %%configure, verbatim; a last expression shown
        *body, last = source.splitlines()
        assert (
            "\n".join([*body, last]) in job.script
            or "\n".join([*body, f"sys.displayhook({last})"]) in job.script
        )
    assert "sys.displayhook(step.finish())" in lines
    if step.transform:
        assert step.transform.rpartition(":")[2] in job.script


def test_the_magics_become_the_job_settings_and_the_package_is_the_deployments():
    job = glue_job(ZONE_STEPS[0].notebook)
    fields, arguments, tags = job_settings(job, "s3://b/glue-jobs/x/stedi-0123456789ab.zip")
    assert fields == {
        "GlueVersion": "5.0",
        "WorkerType": "G.1X",
        "NumberOfWorkers": 2,
        "Timeout": 30,
    }
    # the %%configure cell's keys are job parameters, as the glue_pyspark kernel passes them to the
    # session
    assert arguments == {
        "--extra-py-files": "s3://b/glue-jobs/x/stedi-0123456789ab.zip",
        **job_arguments(
            "s3://stedi-lakehouse-artifacts/artifacts/glue-requirements.txt",
            "s3://stedi-lakehouse-artifacts/lake",
        ),
    }
    assert tags == {}


def test_parameters_become_typed_job_arguments_with_the_notebooks_defaults(
    tmp_path, glue_standin, monkeypatch, capsys
):
    parameters = (
        'name: str = "x"  # a name\n'
        "count: int = 2  # how many\n"
        "ratio: float = 0.5  # a share\n"
        "flag: bool = False  # a switch"
    )
    path = _notebook(
        tmp_path,
        "# A title\nof two lines",
        "result = (name, count, ratio, flag)\nresult",
        "None",
        parameters=parameters,
    )
    job = glue_job(path)
    assert [(p.name, p.kind, p.default, p.comment) for p in job.parameters] == [
        ("name", "str", "x", "a name"),
        ("count", "int", 2, "how many"),
        ("ratio", "float", 0.5, "a share"),
        ("flag", "bool", False, "a switch"),
    ]
    assert "# # A title\n# of two lines" in job.script
    done = _run_script(
        job.script,
        ["--JOB_NAME", "j", "--count", "7", "--flag", "true"],
        monkeypatch,
        object(),
        tmp_path,
    )
    assert done["result"] == ("x", 7, 0.5, True)
    # the cell's last expression is shown as IPython would (printed; a None is not)
    assert capsys.readouterr().out == "('x', 7, 0.5, True)\n"
    calls = glue_standin.Job.calls[-2:]
    assert calls[1] == ("commit", "j") and calls[0][:2] == ("init", "j")
    # awsglue's own getResolvedOptions: the asked arguments, and Glue's own (None when absent)
    assert {k: v for k, v in calls[0][2].items() if v is not None} == {
        "JOB_NAME": "j",
        "count": "7",
        "flag": "true",
        "job_bookmark_option": "job-bookmark-disable",
    }


@pytest.mark.parametrize(
    "cell, fragment",
    [
        ("%%sql\nSELECT 1", "%%sql"),
        ("x = 1\n!ls data", "!ls data"),
        ("display(1)", "display()"),
        ("get_ipython().system('ls')", "get_ipython()"),
    ],
)
def test_a_notebook_with_ipython_only_code_is_refused_naming_the_cell(tmp_path, cell, fragment):
    with pytest.raises(UsageError, match=r"10_example\.ipynb cell 3 uses") as refused:
        glue_job(_notebook(tmp_path, cell))
    assert fragment in str(refused.value)


def test_a_magic_without_a_job_setting_is_refused(tmp_path):
    path = _notebook(tmp_path)
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += "\n%streaming_magic on"
    nbformat.write(nb, path)
    with pytest.raises(UsageError, match="magic %streaming_magic has no Glue job setting"):
        glue_job(path)


def test_the_triggers_start_each_job_when_the_jobs_writing_its_inputs_succeeded():
    plan = plan_deployment(BUCKET, ROLE_ARN, prefix="team/", schedule="cron(0 6 * * ? *)")
    order = [f"{NAME}-{step.name}" for step in ZONE_STEPS]
    start = plan.triggers[f"{NAME}-start"]
    assert start["Type"] == "SCHEDULED" and start["Schedule"] == "cron(0 6 * * ? *)"
    assert start["Actions"] == [{"JobName": order[0]}]
    for step in ZONE_STEPS[1:]:
        trigger = plan.triggers[f"{NAME}-{step.name}"]
        assert trigger["Type"] == "CONDITIONAL" and trigger["Actions"] == [
            {"JobName": f"{NAME}-{step.name}"}
        ]
        waited = [c["JobName"] for c in trigger["Predicate"]["Conditions"]]
        assert {c["State"] for c in trigger["Predicate"]["Conditions"]} == {"SUCCEEDED"}
        assert waited == list(
            dict.fromkeys(f"{NAME}-{pipeline.producer(t).name}" for t in step.reads)
        )
        assert all(order.index(job) < order.index(f"{NAME}-{step.name}") for job in waited)
    assert set(plan.triggers) == {f"{NAME}-start", *(f"{NAME}-{s.name}" for s in ZONE_STEPS[1:])}


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--role-arn", "StediGlueRole"], "is not an IAM role ARN"),
        (["--schedule", "every day"], "is not a Glue cron expression"),
        (["--name", "no spaces"], "deployment name 'no spaces'"),
    ],
)
def test_bad_deploy_arguments_exit_2_with_one_line(capsys, args, fragment):
    code = main(["aws", "deploy", "--bucket", BUCKET, "--role-arn", ROLE_ARN, *args])
    one_line_error(capsys, code, fragment)


# -- deploy, undeploy, status against moto ------------------------------------------------
def test_deploy_creates_one_job_per_zone_step_and_a_workflow_chaining_them(aws_env, capsys):
    _role()
    assert _deploy() == 0, capsys.readouterr().err
    glue, s3 = boto3.client("glue"), boto3.client("s3")
    plan = plan_deployment(BUCKET, ROLE_ARN, prefix="team/")
    account = _account()
    assert sorted(account["jobs"]) == sorted(JOBS)
    for step in ZONE_STEPS:
        job = glue.get_job(JobName=f"{NAME}-{step.name}")["Job"]
        assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"], job["Timeout"]) == (
            "5.0",
            "G.1X",
            2,
            30,
        )
        assert job["ExecutionClass"] == "STANDARD"
        assert job["Role"] == ROLE_ARN and job["Command"]["Name"] == "glueetl"
        arguments = job["DefaultArguments"]
        assert arguments[MARKER_ARGUMENT] == NAME
        assert (
            arguments["--lake_dir"] == f"s3://{BUCKET}/team/lake"
            and arguments["--target"] == "glue"
        )
        assert (
            arguments["--raw_dir"] == f"s3://{BUCKET}/team/raw"
            and arguments["--policy"] == "strict"
        )
        # pyiceberg and pyarrow >= 18 over Glue 5.0's modules: the deployment's copy of
        # glue-requirements.txt, installed by pip -r; Glue's own Iceberg declared to read the
        # lake's tables by name (pyiceberg commits, the steps' Spark reads Parquet)
        requirements = arguments["--additional-python-modules"]
        assert requirements.startswith(f"s3://{BUCKET}/team/glue-jobs/{NAME}/glue-requirements-")
        assert arguments["--python-modules-installer-option"] == "-r"
        assert (
            s3.get_object(Bucket=BUCKET, Key=_key(requirements))["Body"].read()
            == requirements_path().read_bytes()
        )
        assert arguments["--datalake-formats"] == "iceberg"
        assert arguments["--conf"].split(" --conf ") == glue_iceberg_settings(
            f"s3://{BUCKET}/team/lake"
        )
        script = (
            s3.get_object(Bucket=BUCKET, Key=_key(job["Command"]["ScriptLocation"]))["Body"]
            .read()
            .decode()
        )
        assert script == glue_job(step.notebook, ends_workflow=step is ZONE_STEPS[-1]).script
        assert job["Command"]["ScriptLocation"].startswith(
            f"s3://{BUCKET}/team/glue-jobs/{NAME}/scripts/{step.name}-"
        )
        [package] = arguments["--extra-py-files"].split(",")
        assert (
            s3.get_object(Bucket=BUCKET, Key=_key(package))["Body"].read()
            == plan.objects[_key(package)]
        )
        arn = f"arn:aws:glue:us-east-1:123456789012:job/{NAME}-{step.name}"
        assert glue.get_tags(ResourceArn=arn)["Tags"] == {MARKER: NAME}
    assert account["workflows"] == [NAME]
    assert glue.get_workflow(Name=NAME)["Workflow"]["DefaultRunProperties"] == {MARKER: NAME}
    assert {
        name: (t["Actions"], t.get("Predicate")) for name, t in account["triggers"].items()
    } == {name: (t["Actions"], t.get("Predicate")) for name, t in plan.triggers.items()}
    assert all(t["WorkflowName"] == NAME for t in account["triggers"].values())
    _runnable(account)


def test_flex_is_an_option_of_deploy_and_every_field_deploy_sets_is_what_glue_holds(
    aws_env, glue_updates, capsys
):
    _role()
    glue = boto3.client("glue")
    assert _deploy("--execution-class", "FLEX") == 0, capsys.readouterr().err
    plan = plan_deployment(BUCKET, ROLE_ARN, prefix="team/", execution_class="FLEX")
    for name, definition in plan.jobs.items():
        held = glue.get_job(JobName=name)["Job"]
        assert held["ExecutionClass"] == "FLEX"
        # every field of the CreateJob call, as Glue (moto) holds it: nothing dropped or renamed
        assert not deploying.differs(definition, held), (name, definition, held)
    assert _deploy() == 0  # back to STANDARD: an update in place
    assert {job["ExecutionClass"] for job in _account()["jobs"].values()} == {"STANDARD"}
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:  # argparse's choices: one line, exit 2
        _deploy("--execution-class", "SPOT")
    one_line_error(capsys, refused.value.code, "argument --execution-class: invalid choice: 'SPOT'")
    with pytest.raises(UsageError, match="--execution-class 'SPOT'"):
        plan_deployment(BUCKET, ROLE_ARN, execution_class="SPOT")


def test_redeploying_an_unchanged_pipeline_changes_nothing(aws_env, glue_updates, capsys):
    _role()
    assert _deploy() == 0
    before = _account()
    capsys.readouterr()
    assert _deploy() == 0
    assert "nothing changed" in capsys.readouterr().out
    assert _account() == before


def test_redeploy_updates_in_place_and_removes_what_no_longer_exists(aws_env, glue_updates, capsys):
    _role()
    assert _deploy() == 0
    glue, s3 = boto3.client("glue"), boto3.client("s3")
    old = _retired_step(glue, s3)
    capsys.readouterr()
    assert _deploy("--policy", "udacity", "--schedule", "cron(0 6 * * ? *)") == 0, (
        capsys.readouterr().err
    )
    out = capsys.readouterr().out
    account = _account()
    assert sorted(account["jobs"]) == sorted(JOBS)
    assert {job["DefaultArguments"]["--policy"] for job in account["jobs"].values()} == {"udacity"}
    assert f"replaced trigger  {NAME}-start" in out and f"removed  job      {old}" in out
    assert account["triggers"][f"{NAME}-start"]["Type"] == "SCHEDULED"
    assert old not in account["triggers"]
    assert not [key for key in account["objects"] if "06_retired_step" in key]
    _runnable(account)


def test_undeploy_removes_what_deploy_created_and_nothing_else(aws_env, capsys):
    _role()
    glue, s3 = boto3.client("glue"), boto3.client("s3")
    glue.create_job(
        Name="someone-elses-job",
        Role=ROLE_ARN,
        Command={"Name": "glueetl", "ScriptLocation": "s3://x/y.py"},
    )
    s3.put_object(Bucket=BUCKET, Key="team/glue-jobs/notes.txt", Body=b"kept")
    s3.put_object(
        Bucket=BUCKET, Key="team/lake/trusted/customer_trusted/part-0.parquet", Body=b"kept"
    )
    before = _account()
    assert _deploy() == 0
    assert _account() != before
    assert main(["aws", "undeploy", "--bucket", BUCKET, "--prefix", "team/"]) == 0, (
        capsys.readouterr().err
    )
    assert _account() == before
    capsys.readouterr()
    assert main(["aws", "undeploy", "--bucket", BUCKET, "--prefix", "team/"]) == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_a_job_of_the_same_name_that_deploy_did_not_create_is_a_clash(aws_env, capsys):
    _role()
    boto3.client("glue").create_job(
        Name=JOBS[2], Role=ROLE_ARN, Command={"Name": "glueetl", "ScriptLocation": "s3://x/y.py"}
    )
    before = _account()
    one_line_error(
        capsys, _deploy(), f"a Glue job {JOBS[2]} exists that stedi deploy did not create"
    )
    assert _account() == before
    assert main(["aws", "undeploy", "--bucket", BUCKET, "--prefix", "team/"]) == 0
    assert JOBS[2] in _account()["jobs"]


@pytest.mark.parametrize(
    "missing, fragment",
    [
        ("bucket", "bucket other-bucket does not exist"),
        ("role", f"IAM role {ROLE} does not exist"),
        ("credentials", "no AWS credentials found"),
    ],
)
def test_a_missing_bucket_role_or_credentials_exits_2_with_one_line(
    aws_env, monkeypatch, capsys, missing, fragment
):
    bucket = "other-bucket" if missing == "bucket" else BUCKET
    if missing != "role":
        _role()
    if missing == "credentials":
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.delenv(name)
    code = main(["aws", "deploy", "--bucket", bucket, "--role-arn", ROLE_ARN])
    one_line_error(capsys, code, fragment)
    if missing != "credentials":
        assert _account()["jobs"] == {} and _account()["objects"] == {}


def _retired_step(glue, s3) -> str:
    """What an older deployment had and this pipeline no longer has: a job, its trigger, an old
    script."""
    old, key = (
        f"{NAME}-06_retired_step",
        f"team/glue-jobs/{NAME}/scripts/06_retired_step-000000000000.py",
    )
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"")
    glue.create_job(
        Name=old,
        Role=ROLE_ARN,
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/{key}"},
        DefaultArguments={MARKER_ARGUMENT: NAME, "--extra-py-files": f"s3://{BUCKET}/{key}"},
    )
    glue.create_trigger(
        Name=old,
        WorkflowName=NAME,
        Type="CONDITIONAL",
        Actions=[{"JobName": old}],
        Predicate={
            "Logical": "AND",
            "Conditions": [
                {"LogicalOperator": "EQUALS", "JobName": JOBS[-1], "State": "SUCCEEDED"}
            ],
        },
    )
    return old


@pytest.mark.slow  # seconds: the whole tier (make test), not make check
def test_a_failure_half_way_leaves_a_runnable_deployment_and_the_next_deploy_completes(
    aws_env, glue_updates, monkeypatch, capsys
):
    """Each round changes every job, replaces the start trigger (on demand <-> scheduled) and
    removes a retired job and its trigger: 10 changes; round N fails at its Nth change, until a
    round has fewer. When the start trigger's create fails (round 8), deploy creates the previous
    one again (a 9th call)."""
    _role()
    assert _deploy() == 0
    glue, s3 = boto3.client("glue"), boto3.client("s3")
    session = deploying.aws_session
    changes = []
    for fail_at in range(1, 20):
        _retired_step(glue, s3)
        failing = []

        def failing_session(failing=failing, fail_at=fail_at):
            failing.append(FailingSession(session(), fail_at))
            return failing[-1]

        monkeypatch.setattr(deploying, "aws_session", failing_session)
        scheduled = glue.get_trigger(Name=f"{NAME}-start")["Trigger"]["Type"] == "SCHEDULED"
        code = _deploy(
            "--database",
            f"db{fail_at}",
            *([] if scheduled else ["--schedule", "cron(0 6 * * ? *)"]),
        )
        changes.append(failing[-1].glue.changes)
        _runnable(_account())
        if code == 0:
            break
        assert code == 1 and "injected" in capsys.readouterr().err
    assert changes == [
        *range(1, 8),
        9,
        9,
        10,
        10,
    ]  # each of the 10 changes failed once, then a round finished
    monkeypatch.setattr(deploying, "aws_session", session)
    assert _deploy() == 0
    account = _account()
    assert sorted(account["jobs"]) == sorted(JOBS) and set(account["triggers"]) == set(
        plan_deployment(BUCKET, ROLE_ARN, prefix="team/").triggers
    )
    assert {job["DefaultArguments"]["--database"] for job in account["jobs"].values()} == {
        config.DEFAULT_DATABASE
    }
    _runnable(account)


def test_status_prints_the_latest_workflow_run_in_the_run_table(aws_env, capsys):
    _role()
    assert main(["aws", "status", "--prefix", "team/"]) == 2
    assert "no Glue workflow team" in capsys.readouterr().err
    assert _deploy() == 0
    capsys.readouterr()
    assert main(["aws", "status", "--prefix", "team/"]) == 0
    assert "workflow team has not run yet" in capsys.readouterr().out
    glue = boto3.client("glue")
    glue.start_workflow_run(Name=NAME)
    latest = glue.start_workflow_run(Name=NAME)["RunId"]
    assert main(["aws", "status", "--prefix", "team/"]) == 0
    out = capsys.readouterr().out.splitlines()
    # moto's workflow runs start no job: every step is `not started`
    assert out[0].startswith(f"stedi aws status: workflow {NAME} run {latest} (running, started ")
    assert out[1:] == [
        step_line(n, len(ZONE_STEPS), s.name) + " not started" for n, s in enumerate(ZONE_STEPS, 1)
    ]
    one_line_error(
        capsys,
        main(["aws", "status", "--prefix", "team/", "--run-id", "wr_nope"]),
        "has no run wr_nope",
    )


def test_the_status_of_each_step_comes_from_its_job_runs_in_the_run_graph():
    """A GetWorkflowRun reply with IncludeGraph, in the shape AWS documents (moto returns no
    graph)."""
    at = dt.datetime(2026, 1, 2, 6, 0, tzinfo=dt.UTC)
    runs = {
        ZONE_STEPS[0].name: [
            {"JobRunState": "FAILED", "StartedOn": at, "CompletedOn": at, "ExecutionTime": 5},
            {
                "JobRunState": "SUCCEEDED",
                "StartedOn": at + dt.timedelta(minutes=1),
                "CompletedOn": at + dt.timedelta(minutes=3),
                "ExecutionTime": 118,
            },
        ],
        ZONE_STEPS[1].name: [{"JobRunState": "RUNNING", "StartedOn": at + dt.timedelta(minutes=4)}],
    }
    graph = {
        "Nodes": [
            {"Type": "JOB", "Name": f"{NAME}-{step}", "JobDetails": {"JobRuns": job_runs}}
            for step, job_runs in runs.items()
        ]
        + [{"Type": "TRIGGER", "Name": f"{NAME}-start", "TriggerDetails": {}}]
    }
    states = step_states({"Graph": graph}, NAME)
    assert states == [
        (ZONE_STEPS[0].name, "SUCCEEDED", 118.0),
        (ZONE_STEPS[1].name, "RUNNING", None),
        *((s.name, "not started", None) for s in ZONE_STEPS[2:]),
    ]
    assert not failed({"steps": states})
    assert failed({"steps": [*states[:1], (ZONE_STEPS[1].name, "FAILED", 3.0)]})
    assert step_line(1, 6, states[0][0]) + step_outcome("succeeded", 118.0) == (
        f"  [1/6] {ZONE_STEPS[0].name} ... succeeded (118.0 s)"
    )


def test_only_the_workflows_last_job_forgets_an_erasures_history_after_every_other_step(tmp_path):
    """The last job waits, through the triggers, for every other job of the same workflow run; its
    script alone ends by forgetting an erasure's history, and only in a workflow run. A notebook
    ending the workflow without lake_dir and database parameters is refused."""
    plan = plan_deployment(BUCKET, ROLE_ARN, prefix="team/")
    waits = {
        t["Actions"][0]["JobName"]: {c["JobName"] for c in t["Predicate"]["Conditions"]}
        for t in plan.triggers.values()
        if "Predicate" in t
    }
    before, last = set(), JOBS[-1]
    todo = [last]
    while todo:
        for job in waits.get(todo.pop(), ()):
            before.add(job)
            todo.append(job)
    assert before == set(JOBS[:-1])
    scripts = {
        name: plan.objects[_key(job["Command"]["ScriptLocation"])].decode()
        for name, job in plan.jobs.items()
    }
    forgetting = [name for name, script in scripts.items() if "forget_history(" in script]
    assert forgetting == [last]
    lines = scripts[last].splitlines()
    guard = lines.index('if args.get("WORKFLOW_RUN_ID"):')
    assert lines.index("sys.displayhook(step.finish())") < guard < lines.index("job.commit()")
    assert "    if history_to_forget(lake_dir):" in lines[guard:]
    with pytest.raises(UsageError, match="ends the workflow: it needs parameters lake_dir"):
        glue_job(_notebook(tmp_path), ends_workflow=True)


# -- the scripts on the real exports ---------------------------------------------------------
@pytest.mark.e2e
def test_the_generated_scripts_give_the_tables_of_the_notebooks(
    sail, clean_fingerprints, glue_standin, tmp_path, monkeypatch, capsys
):
    """The six scripts, in pipeline order, in this process on the local default engine (Sail), with
    GlueContext and Job stood in over AWS's awsglue: the same table contents as the clean build the
    notebooks made."""
    from stedi.run.folder import RunFolder, lake_records

    assert config.DEFAULT_ENGINE == "sail"
    expected = clean_fingerprints("strict", "sail")
    lake = tmp_path / "lake"
    argv = [
        "--raw_dir",
        str(config.RAW_DIR),
        "--lake_dir",
        str(lake),
        "--target",
        "glue",
        "--WORKFLOW_RUN_ID",
        "wr_1",
    ]
    with on("sail"):
        for step in ZONE_STEPS:
            script = glue_job(step.notebook, ends_workflow=step is ZONE_STEPS[-1]).script
            _run_script(
                script, ["--JOB_NAME", f"{NAME}-{step.name}", *argv], monkeypatch, sail, tmp_path
            )
    assert [c[:2] for c in glue_standin.Job.calls[-12:]] == [
        call
        for step in ZONE_STEPS
        for call in (("init", f"{NAME}-{step.name}"), ("commit", f"{NAME}-{step.name}"))
    ]
    records = RunFolder(tmp_path, lake_records(str(lake), "wr_1"))
    assert [records.read_record(step.name)["status"] for step in ZONE_STEPS] == ["succeeded"] * len(
        ZONE_STEPS
    )
    assert {records.read_record(step.name)["target"] for step in ZONE_STEPS} == {"glue"}
    capsys.readouterr()
    assert fingerprints(sail, lake, "strict") == expected
