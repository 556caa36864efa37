"""`stedi aws undeploy`: remove what `stedi aws deploy` (stedi.aws.deploy) created for a
deployment, recognised by the deployment's mark (stedi.aws.deployed), and nothing else."""

from __future__ import annotations

import sys

from stedi.aws.deployed import (
    current_state,
    delete_objects,
    deploy_root,
    deployment_name,
    object_keys,
    ours,
)
from stedi.aws.publish import check_bucket
from stedi.aws.session import aws_session
from stedi.errors import UsageError


def undeploy(bucket: str, *, prefix: str = "", name: str = "", out=None) -> dict:
    """Remove what deploy created for deployment `name`, and nothing else; returns what was
    removed."""
    out = out or sys.stdout
    if not bucket:
        raise UsageError("--bucket is required (the S3 bucket of the jobs' scripts)")
    name = deployment_name(name, prefix)
    session = aws_session()
    check_bucket(session, bucket)
    glue, s3 = session.client("glue"), session.client("s3")
    current = current_state(glue, name)
    removed: list[str] = []
    print(f"stedi aws undeploy: deployment {name}", file=out)

    def say(kind: str, what: str) -> None:
        removed.append(f"{kind} {what}")
        print(f"  removed  {kind:<9}{what}", file=out)

    if ours(current.workflow, name):  # the triggers first: none may name a job that is gone
        for trigger in current.triggers:
            glue.delete_trigger(Name=trigger)
            say("trigger", trigger)
        glue.delete_workflow(Name=name)
        say("workflow", name)
    elif current.workflow is not None:
        print(f"  kept     workflow {name}: stedi deploy did not create it", file=out)
    for job in sorted(current.jobs):
        glue.delete_job(JobName=job)
        say("job", job)
    root = deploy_root(bucket, prefix, name)
    keys = object_keys(s3, bucket, root)
    delete_objects(s3, bucket, keys)
    for key in keys:
        say("object", f"s3://{bucket}/{key}")
    if not removed:
        print("  nothing to remove: no such deployment", file=out)
    return {"name": name, "removed": removed}
