"""A Glue deployment's names and marks, and what the account holds of it (stedi.aws.deploy makes
it).

Deployment `<name>`: Glue jobs `<name>-<step>`, the workflow `<name>` and its triggers, and the
S3 folder `s3://<bucket>/<prefix>/glue-jobs/<name>/`. What deploy creates is marked: the tag
MARKER = name on everything, the job argument `--stedi-deployment name` on jobs and the run
property MARKER on the workflow (the get calls return these two, no tag look-up needed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stedi import config
from stedi.errors import UsageError

MARKER = "stedi-deployment"
MARKER_ARGUMENT = f"--{MARKER}"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def deployment_name(name: str, prefix: str) -> str:
    """`name`, else the prefix made a valid Glue name, else config.DEFAULT_DEPLOYMENT; UsageError
    when invalid."""
    chosen = (
        name or re.sub(r"[^A-Za-z0-9_-]+", "-", prefix).strip("-_") or config.DEFAULT_DEPLOYMENT
    )
    if not NAME.match(chosen):
        raise UsageError(
            f"deployment name {chosen!r}: use up to 64 letters, digits, - and _ (give --name)"
        )
    return chosen


def job_name(name: str, step: str) -> str:
    return f"{name}-{step}"


def deploy_root(bucket: str, prefix: str, name: str) -> str:
    """s3://<bucket>/<prefix>/glue-jobs/<name>: everything deployment `name` keeps in S3."""
    return config.s3_uri(bucket, prefix, config.GLUE_DEPLOY_KEY, name)


def s3_key(uri: str) -> str:
    """The key of an s3://bucket/key URI."""
    return uri.split("/", 3)[3]


def missing(exc) -> bool:
    """Whether a Glue ClientError says the entity does not exist."""
    return exc.response.get("Error", {}).get("Code", "") == "EntityNotFoundException"


@dataclass
class Current:
    """What the account holds of deployment `name`: its workflow (or a foreign one), jobs and
    triggers."""

    workflow: dict | None
    jobs: dict[str, dict]  # every job marked as this deployment's
    triggers: dict[str, dict]  # every trigger of the workflow `name`


def current_state(glue, name: str) -> Current:
    from botocore.exceptions import ClientError

    try:
        workflow = glue.get_workflow(Name=name)["Workflow"]
    except ClientError as exc:
        if not missing(exc):
            raise
        workflow = None
    jobs = {
        job["Name"]: job
        for page in glue.get_paginator("get_jobs").paginate()
        for job in page["Jobs"]
        if job.get("DefaultArguments", {}).get(MARKER_ARGUMENT) == name
    }
    triggers = {
        trigger["Name"]: trigger
        for page in glue.get_paginator("get_triggers").paginate()
        for trigger in page["Triggers"]
        if trigger.get("WorkflowName") == name
    }
    return Current(workflow, jobs, triggers)


def ours(workflow: dict | None, name: str) -> bool:
    """Whether `workflow` (a GetWorkflow reply) is deployment `name`'s."""
    return workflow is not None and (workflow.get("DefaultRunProperties") or {}).get(MARKER) == name


def object_keys(s3, bucket: str, root: str) -> list[str]:
    """Every S3 key under the folder `root` (an s3:// URI)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{s3_key(root)}/")
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def delete_objects(s3, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), 1000):
        chunk = [{"Key": key} for key in keys[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
