"""`stedi aws status`: a run of a deployment's Glue workflow, step by step, in the table `stedi run`
prints.

The run (the latest, or --run-id) is read back from Glue with its graph (GetWorkflowRun(s)
with IncludeGraph): each job node carries its job runs; a step's line shows its job's latest
run in that workflow run: its state (lower case, as `stedi run` prints `succeeded`) and its
execution time, or `not started` when the workflow has not reached it. The steps' completion
records are in the lake's `_runs/<workflow run id>/steps/` (stedi.aws.jobscript).
"""

from __future__ import annotations

import sys

from stedi.aws.deployed import deployment_name, job_name, missing, ours
from stedi.aws.session import aws_session
from stedi.errors import UsageError
from stedi.run import pipeline
from stedi.run.runner import step_line, step_outcome

NOT_STARTED = "not started"
FAILED_STATES = ("FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED")


def _seconds(job_run: dict) -> float | None:
    if job_run.get("ExecutionTime") is not None and job_run.get("CompletedOn") is not None:
        return float(job_run["ExecutionTime"])
    if job_run.get("StartedOn") is not None and job_run.get("CompletedOn") is not None:
        return (job_run["CompletedOn"] - job_run["StartedOn"]).total_seconds()
    return None


def step_states(run: dict, name: str) -> list[tuple[str, str, float | None]]:
    """(step, Glue job run state or NOT_STARTED, seconds or None) for every zone step, in pipeline
    order."""
    runs_of = {
        node["Name"]: (node.get("JobDetails") or {}).get("JobRuns") or []
        for node in (run.get("Graph") or {}).get("Nodes", [])
        if node.get("Type") == "JOB"
    }
    states = []
    for step in pipeline.ZONE_STEPS:
        job_runs = runs_of.get(job_name(name, step.name), [])
        if not job_runs:
            states.append((step.name, NOT_STARTED, None))
            continue
        latest = max(job_runs, key=lambda r: r.get("StartedOn") or 0)
        states.append((step.name, latest.get("JobRunState", "UNKNOWN"), _seconds(latest)))
    return states


def _run(glue, name: str, run_id: str) -> dict | None:
    from botocore.exceptions import ClientError

    if run_id:
        try:
            return glue.get_workflow_run(Name=name, RunId=run_id, IncludeGraph=True)["Run"]
        except ClientError as exc:
            if missing(exc):
                raise UsageError(f"workflow {name} has no run {run_id}") from None
            raise
    runs = [
        r
        for page in glue.get_paginator("get_workflow_runs").paginate(Name=name, IncludeGraph=True)
        for r in page["Runs"]
    ]
    return max(runs, key=lambda r: r["StartedOn"]) if runs else None


def status(*, name: str = "", prefix: str = "", run_id: str = "", out=None) -> dict | None:
    """Print the steps of a workflow run; returns {run_id, status, steps} or None when the workflow
    never ran."""
    from botocore.exceptions import ClientError

    out = out or sys.stdout
    name = deployment_name(name, prefix)
    glue = aws_session().client("glue")
    try:
        workflow = glue.get_workflow(Name=name)["Workflow"]
    except ClientError as exc:
        if missing(exc):
            raise UsageError(
                f"no Glue workflow {name}; deploy it with `stedi aws deploy` first"
            ) from None
        raise
    if not ours(workflow, name):
        raise UsageError(f"the Glue workflow {name} was not created by stedi deploy")
    run = _run(glue, name, run_id)
    if run is None:
        print(f"stedi aws status: workflow {name} has not run yet", file=out)
        return None
    steps = step_states(run, name)
    started = run["StartedOn"].strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    print(
        f"stedi aws status: workflow {name} run {run['WorkflowRunId']} ({run['Status'].lower()}, "
        f"started {started})",
        file=out,
    )
    for number, (step, state, seconds) in enumerate(steps, 1):
        print(step_line(number, len(steps), step) + step_outcome(state.lower(), seconds), file=out)
    return {"run_id": run["WorkflowRunId"], "status": run["Status"], "steps": steps}


def failed(result: dict | None) -> bool:
    """Whether a step of the run ended in failure (stopped, timed out, errored)."""
    return result is not None and any(state in FAILED_STATES for _, state, _ in result["steps"])
