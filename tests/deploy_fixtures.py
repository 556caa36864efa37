"""What the deploy tests add to the moto server (tests/aws_fixtures.py), and a Glue client that
fails on cue.

moto 5.2.5 implements CreateJob, GetJob(s), DeleteJob, CreateWorkflow, GetWorkflow, DeleteWorkflow,
CreateTrigger, GetTrigger(s), DeleteTrigger, StartWorkflowRun and GetWorkflowRun(s), but not
UpdateJob or UpdateTrigger, and its workflow runs have no graph (no job runs). `glue_updates`
adds the two update calls to moto's Glue service in this process (the moto server of the tests
runs on a thread here), as AWS documents them: UpdateJob replaces the job's definition with
JobUpdate, UpdateTrigger replaces the fields TriggerUpdate gives.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def glue_updates(monkeypatch):
    from moto.core.responses import ActionResult
    from moto.glue.responses import GlueResponse
    from moto.glue.utils import Action, Predicate

    def update_job(self):
        name, update = self._get_param("JobName"), self._get_param("JobUpdate")
        self.glue_backend.get_job(name)  # EntityNotFoundException when there is none
        self.glue_backend.create_job(
            name=name,
            role=update.get("Role"),
            command=update.get("Command"),
            description=update.get("Description"),
            log_uri=update.get("LogUri"),
            execution_property=update.get("ExecutionProperty"),
            default_arguments=update.get("DefaultArguments"),
            non_overridable_arguments=update.get("NonOverridableArguments"),
            connections=update.get("Connections"),
            max_retries=update.get("MaxRetries"),
            allocated_capacity=update.get("AllocatedCapacity"),
            timeout=update.get("Timeout"),
            max_capacity=update.get("MaxCapacity"),
            security_configuration=update.get("SecurityConfiguration"),
            tags={},
            notification_property=update.get("NotificationProperty"),
            glue_version=update.get("GlueVersion"),
            number_of_workers=update.get("NumberOfWorkers"),
            worker_type=update.get("WorkerType"),
            code_gen_configuration_nodes=None,
            execution_class=update.get("ExecutionClass"),
            source_control_details=None,
        )
        return ActionResult({"JobName": name})

    def update_trigger(self):
        trigger = self.glue_backend.get_trigger(self._get_param("Name"))
        update = self._get_param("TriggerUpdate")
        if "Actions" in update:
            trigger.actions = [Action(a) for a in update["Actions"]]
        if "Predicate" in update:
            trigger.predicate = Predicate(update["Predicate"])
        trigger.description = update.get("Description", trigger.description)
        trigger.schedule = update.get("Schedule", trigger.schedule)
        return ActionResult({"Trigger": trigger.as_dict()})

    monkeypatch.setattr(GlueResponse, "update_job", update_job, raising=False)
    monkeypatch.setattr(GlueResponse, "update_trigger", update_trigger, raising=False)


class FailingGlue:
    """A Glue client whose `fail_at`-th call that changes something raises, as an AWS failure
    would."""

    CHANGES = ("create_", "update_", "delete_")

    def __init__(self, client, fail_at: int):
        self._client, self._fail_at, self.changes = client, fail_at, 0

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if not name.startswith(self.CHANGES):
            return attribute

        def call(**kwargs):
            self.changes += 1
            if self.changes == self._fail_at:
                from botocore.exceptions import ClientError

                raise ClientError(
                    {"Error": {"Code": "InternalServiceException", "Message": "injected"}}, name
                )
            return attribute(**kwargs)

        return call


class FailingSession:
    """A boto3 session whose Glue clients are FailingGlue ones sharing one count of changes."""

    def __init__(self, session, fail_at: int):
        self._session, self._fail_at = session, fail_at
        self.glue = None

    def __getattr__(self, name):
        return getattr(self._session, name)

    def client(self, service, **kwargs):
        client = self._session.client(service, **kwargs)
        if service != "glue":
            return client
        self.glue = FailingGlue(client, self._fail_at)
        return self.glue
