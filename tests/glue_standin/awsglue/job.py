"""awsglue.job stand-in: Job.init and Job.commit record the job's name and arguments, nothing else."""

from __future__ import annotations

from typing import ClassVar


class Job:
    calls: ClassVar[list[tuple]] = []  # ("init", name, arguments) and ("commit", name), in order, across jobs

    def __init__(self, glue_context):
        self.glue_context = glue_context
        self.name = None

    def init(self, name: str, arguments: dict) -> None:
        self.name = name
        Job.calls.append(("init", name, dict(arguments)))

    def commit(self) -> None:
        Job.calls.append(("commit", self.name))
