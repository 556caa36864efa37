"""`stedi aws deploy` / `undeploy`: the zone steps as AWS Glue jobs chained in a Glue workflow.

A deployment `<name>` (default: the --prefix, else config.DEFAULT_DEPLOYMENT) is:
- in S3, under `s3://<bucket>/<prefix>/glue-jobs/<name>/`: `stedi-<sha>.zip` (`stedi package`),
  `glue-requirements-<sha>.txt` (glue_env/glue-requirements.txt: pyiceberg and pyarrow >= 18 over
  Glue 5.0's modules) and `scripts/<step>-<sha>.py`, one script per zone step generated from its
  notebook (stedi.aws.jobscript); `<sha>` is the first 12 hex digits of the content's SHA-256;
- one Glue job `<name>-<step>` per zone step of the pipeline (stedi.run.pipeline.ZONE_STEPS);
- the Glue workflow `<name>`, with the trigger `<name>-start` (on demand, or SCHEDULED with
  --schedule) starting the first step, and one CONDITIONAL trigger `<name>-<step>` per later
  step that starts it when every job writing a table it reads has SUCCEEDED.
The jobs' tables go to the lake `layout.s3_root(bucket, prefix)` and their completion records
to its `_runs/<workflow run id>/`, as `stedi run --target glue` would. Every job installs stedi's
modules in its DefaultArguments (`--additional-python-modules` naming that requirements file,
`--python-modules-installer-option -r`: stedi.engine.glue_iceberg), whatever its notebook's
`%%configure` cell names: pyiceberg commits the lake on Glue as it does everywhere else.

Everything deploy creates is marked as the deployment's (stedi.aws.deployed): that is how
deploy recognises its own (a same-named job, workflow or trigger without the mark is a clash,
exit 2) and what undeploy (stedi.aws.undeploy) removes, nothing else.

The order of the calls keeps a runnable deployment whatever call fails: (1) upload the zip
and scripts under new content-addressed keys (nothing points there yet), (2) create or update
the jobs, (3) the workflow, (4) its triggers, each naming jobs that exist by then, (5) only
then delete the triggers, jobs and S3 objects the new deployment no longer has. A failure
leaves each job and trigger at its previous or its new definition, all of them naming jobs
and scripts that exist. The one change Glue cannot make in place, the start trigger's type
(adding or dropping --schedule), is a delete and a create; when the create fails, the
previous start trigger is created again before the error is reported. Every job and trigger
is compared with what Glue holds first: re-deploying an unchanged pipeline changes nothing.
"""

from __future__ import annotations

import hashlib
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from stedi import config
from stedi.aws.deployed import (
    MARKER,
    MARKER_ARGUMENT,
    Current,
    current_state,
    delete_objects,
    deploy_root,
    deployment_name,
    job_name,
    missing,
    object_keys,
    ours,
    s3_key,
)
from stedi.aws.job_settings import job_settings
from stedi.aws.jobscript import glue_job
from stedi.aws.publish import check_bucket
from stedi.aws.session import aws_session
from stedi.context import Policy
from stedi.engine.glue_iceberg import requirements_path, with_stedi_modules
from stedi.errors import UsageError
from stedi.lake import layout
from stedi.run import pipeline

START = "start"  # the trigger <name>-start starts the workflow's first jobs
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")
SCHEDULE = re.compile(r"^cron\(.+\)$")


def _hashed(stem: str, suffix: str, content: bytes) -> str:
    return f"{stem}-{hashlib.sha256(content).hexdigest()[:12]}{suffix}"


@dataclass
class Deployment:
    """Everything deploy will make, worked out and checked before the first request."""

    name: str
    bucket: str
    root: str  # deploy_root
    objects: dict[str, bytes] = field(default_factory=dict)  # S3 key -> content
    jobs: dict[str, dict] = field(
        default_factory=dict
    )  # job name -> its definition (CreateJob fields)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # job name -> Tags
    triggers: dict[str, dict] = field(
        default_factory=dict
    )  # trigger name -> CreateTrigger fields, in order


def _arguments(job, values: dict[str, object]) -> dict[str, str]:
    """`--<parameter> value` for the notebook's parameters deploy sets (the others keep their
    defaults)."""
    shown = {True: "true", False: "false"}
    return {
        f"--{p.name}": shown.get(values[p.name], str(values[p.name]))
        for p in job.parameters
        if p.name in values
    }


def _triggers(name: str, schedule: str) -> dict[str, dict]:
    """The start trigger, then one conditional trigger per step that reads what earlier steps
    write."""
    start = {"Name": f"{name}-{START}", "WorkflowName": name, "Actions": []}
    start |= {"Type": "SCHEDULED", "Schedule": schedule} if schedule else {"Type": "ON_DEMAND"}
    triggers = {start["Name"]: start}
    for step in pipeline.ZONE_STEPS:
        producers = list(dict.fromkeys(pipeline.producer(t).name for t in step.reads))
        action = {"JobName": job_name(name, step.name)}
        if not producers:
            start["Actions"].append(action)
            continue
        conditions = [
            {"LogicalOperator": "EQUALS", "JobName": job_name(name, p), "State": "SUCCEEDED"}
            for p in producers
        ]
        triggers[f"{name}-{step.name}"] = {
            "Name": f"{name}-{step.name}",
            "WorkflowName": name,
            "Type": "CONDITIONAL",
            "Predicate": {"Logical": "AND", "Conditions": conditions},
            "Actions": [action],
        }
    for trigger in triggers.values():
        trigger["Description"] = f"stedi deployment {name}"
    return triggers


def plan_deployment(
    bucket: str,
    role_arn: str,
    *,
    prefix: str = "",
    name: str = "",
    database: str = config.DEFAULT_DATABASE,
    policy: Policy = config.DEFAULT_POLICY,
    schedule: str = "",
    execution_class: str = config.DEFAULT_EXECUTION_CLASS,
    notebooks_dir: str = str(config.GLUE_SESSIONS_DIR),
) -> Deployment:
    """Check the arguments, build stedi.zip and generate every script; no AWS request. UsageError
    naming a problem."""
    from stedi.dev.package import build

    if not bucket:
        raise UsageError("--bucket is required (the S3 bucket of the lake and the jobs' scripts)")
    if not ROLE_ARN.match(role_arn or ""):
        raise UsageError(
            f"--role-arn {role_arn!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        )
    if not database:
        raise UsageError("--database must not be empty")
    if execution_class not in config.EXECUTION_CLASSES:
        raise UsageError(
            f"--execution-class {execution_class!r}: choose one of "
            f"{', '.join(config.EXECUTION_CLASSES)}"
        )
    if schedule and not SCHEDULE.match(schedule):
        raise UsageError(
            f"--schedule {schedule!r} is not a Glue cron expression, e.g. 'cron(0 6 * * ? *)'"
        )
    name = deployment_name(name, prefix)
    root = deploy_root(bucket, prefix, name)
    plan = Deployment(name, bucket, root)
    with tempfile.TemporaryDirectory() as scratch:
        package = build(Path(scratch) / Path(config.GLUE_PACKAGE_KEY).name).read_bytes()
    package_uri = f"{root}/{_hashed('stedi', '.zip', package)}"
    plan.objects[s3_key(package_uri)] = package
    if not requirements_path().is_file():
        raise UsageError(
            f"{requirements_path()} is missing: run `make lock` (scripts/lockfiles.py writes it)"
        )
    requirements = requirements_path().read_bytes()
    requirements_uri = f"{root}/{_hashed('glue-requirements', '.txt', requirements)}"
    plan.objects[s3_key(requirements_uri)] = requirements
    values = {
        "raw_dir": config.s3_uri(bucket, prefix, config.GLUE_RAW_KEY),
        "lake_dir": layout.s3_root(bucket, prefix),
        "policy": policy,
        "target": "glue",
        "database": database,
    }
    for step in pipeline.ZONE_STEPS:
        job = glue_job(
            Path(config.resolve(notebooks_dir)) / step.notebook.name,
            ends_workflow=step is pipeline.ZONE_STEPS[-1],
        )
        script = job.script.encode()
        script_uri = f"{root}/scripts/{_hashed(step.name, '.py', script)}"
        plan.objects[s3_key(script_uri)] = script
        fields, arguments, tags = job_settings(job, package_uri)
        try:
            # pyiceberg, pyarrow >= 18 over Glue's; Glue's Iceberg to read the lake by name
            arguments = with_stedi_modules(arguments, requirements_uri, values["lake_dir"])
        except ValueError as exc:
            raise UsageError(f"{step.notebook.name}: {exc}") from None
        plan.jobs[job_name(name, step.name)] = {
            "Description": f"stedi deployment {name}: {step.name}, generated from "
            f"{step.notebook.name}",
            "Role": role_arn,
            "Command": {"Name": "glueetl", "ScriptLocation": script_uri, "PythonVersion": "3"},
            "DefaultArguments": {
                "--job-language": "python",
                "--enable-glue-datacatalog": "true",
                **arguments,
                **_arguments(job, values),
                MARKER_ARGUMENT: name,
            },
            "ExecutionProperty": {"MaxConcurrentRuns": 1},
            "ExecutionClass": execution_class,
            "MaxRetries": 0,
            **fields,
        }
        plan.tags[job_name(name, step.name)] = {**tags, MARKER: name}
    plan.triggers = _triggers(name, schedule)
    return plan


def check_role(session, role_arn: str) -> None:
    """UsageError in one line when the Glue role does not exist or cannot be looked up."""
    from botocore.exceptions import ClientError

    role = ROLE_ARN.match(role_arn).group(1)
    try:
        session.client("iam").get_role(RoleName=role)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "NoSuchEntity":
            raise UsageError(
                f"IAM role {role} does not exist; create it first (see "
                "docs/aws.md#running-on-aws-from-an-empty-account)"
            ) from None
        if code in ("AccessDenied", "AccessDeniedException"):
            raise UsageError(
                f"these credentials may not read IAM role {role} (deploy needs iam:GetRole)"
            ) from None
        raise


def _check_clashes(glue, plan: Deployment, current: Current) -> None:
    """UsageError naming the first Glue job, workflow or trigger of the plan's names that deploy did
    not create."""
    from botocore.exceptions import ClientError

    if current.workflow is not None and not ours(current.workflow, plan.name):
        raise UsageError(
            f"a Glue workflow {plan.name} exists that stedi deploy did not create; choose another "
            "--name"
        )
    for job in plan.jobs:
        if job in current.jobs:
            continue
        try:
            glue.get_job(JobName=job)
        except ClientError as exc:
            if missing(exc):
                continue
            raise
        raise UsageError(
            f"a Glue job {job} exists that stedi deploy did not create; choose another --name"
        )
    for trigger in plan.triggers:
        if trigger in current.triggers:
            continue
        try:
            found = glue.get_trigger(Name=trigger)["Trigger"]
        except ClientError as exc:
            if missing(exc):
                continue
            raise
        raise UsageError(
            f"a Glue trigger {trigger} exists (workflow {found.get('WorkflowName', 'none')}) that "
            "stedi deploy "
            "did not create; choose another --name"
        )


def differs(wanted, held) -> bool:
    """Whether `held` (what Glue returns) differs from `wanted` in anything `wanted` sets."""
    if isinstance(wanted, dict):
        return not isinstance(held, dict) or any(differs(v, held.get(k)) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (
            not isinstance(held, list)
            or len(wanted) != len(held)
            or any(map(differs, wanted, held))
        )
    return wanted != held


def _put_trigger(glue, wanted: dict, held: dict | None, tags: dict[str, str], say) -> None:
    create = {**wanted, "Tags": tags} | (
        {} if wanted["Type"] == "ON_DEMAND" else {"StartOnCreation": True}
    )
    if held is None:
        glue.create_trigger(**create)
        say("created", "trigger", wanted["Name"])
    elif held.get("Type") != wanted["Type"]:  # Glue cannot change a trigger's type: replace it
        glue.delete_trigger(Name=wanted["Name"])
        try:
            glue.create_trigger(**create)
        except Exception:  # put the previous one back, so the workflow keeps its start
            kept = (
                "Name",
                "WorkflowName",
                "Type",
                "Schedule",
                "Predicate",
                "Actions",
                "Description",
            )
            previous = {k: held[k] for k in kept if k in held} | {"Tags": tags}
            glue.create_trigger(
                **previous,
                **({"StartOnCreation": True} if held.get("State") == "ACTIVATED" else {}),
            )
            raise
        say("replaced", "trigger", wanted["Name"])
    elif differs(wanted, held):
        update = {k: v for k, v in wanted.items() if k not in ("WorkflowName", "Type")}
        glue.update_trigger(Name=wanted["Name"], TriggerUpdate=update)
        say("updated", "trigger", wanted["Name"])


def deploy(bucket: str, role_arn: str, *, out=None, **options) -> dict:
    """Create or update deployment (see plan_deployment for `options`); returns what changed, by
    kind of change."""
    out = out or sys.stdout
    plan = plan_deployment(bucket, role_arn, **options)
    session = aws_session()
    check_bucket(session, bucket)
    check_role(session, role_arn)
    glue, s3 = session.client("glue"), session.client("s3")
    current = current_state(glue, plan.name)
    _check_clashes(glue, plan, current)
    print(
        f"stedi aws deploy: deployment {plan.name}, {len(plan.jobs)} jobs, scripts in {plan.root}/",
        file=out,
    )
    changes: dict[str, list[str]] = {"created": [], "updated": [], "replaced": [], "removed": []}

    def say(change: str, kind: str, what: str) -> None:
        changes[change].append(f"{kind} {what}")
        print(f"  {change:<9}{kind:<9}{what}", file=out)

    held_keys = set(object_keys(s3, bucket, plan.root))
    for key, content in plan.objects.items():  # 1. the new code, under keys nothing points at yet
        if key not in held_keys:
            s3.put_object(Bucket=bucket, Key=key, Body=content)
            say("created", "object", f"s3://{bucket}/{key}")
    for job, definition in plan.jobs.items():  # 2. the jobs
        if job not in current.jobs:
            glue.create_job(Name=job, Tags=plan.tags[job], **definition)
            say("created", "job", job)
        elif differs(definition, current.jobs[job]):
            glue.update_job(JobName=job, JobUpdate=definition)
            say("updated", "job", job)
    if current.workflow is None:  # 3. the workflow
        glue.create_workflow(
            Name=plan.name,
            Description=f"stedi deployment {plan.name}: the zone steps in pipeline order",
            DefaultRunProperties={MARKER: plan.name},
            MaxConcurrentRuns=1,
            Tags={MARKER: plan.name},
        )
        say("created", "workflow", plan.name)
    for trigger, wanted in plan.triggers.items():  # 4. its triggers, naming jobs that exist now
        _put_trigger(glue, wanted, current.triggers.get(trigger), {MARKER: plan.name}, say)
    for trigger in (
        current.triggers.keys() - plan.triggers.keys()
    ):  # 5. what the deployment no longer has
        glue.delete_trigger(Name=trigger)
        say("removed", "trigger", trigger)
    for job in sorted(current.jobs.keys() - plan.jobs.keys()):
        glue.delete_job(JobName=job)
        say("removed", "job", job)
    stale = sorted(held_keys - plan.objects.keys())
    delete_objects(s3, bucket, stale)
    for key in stale:
        say("removed", "object", f"s3://{bucket}/{key}")
    if not any(changes.values()):
        print("  nothing changed: the deployment is up to date", file=out)
    return {"name": plan.name, "root": plan.root, **changes}
