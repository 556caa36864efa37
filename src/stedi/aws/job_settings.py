"""A zone notebook's Glue job settings: the CreateJob fields, default arguments and tags its
magics ask for (`job_settings`), as stedi.aws.jobscript's docstring says; the job itself
(`GlueJob`, its script) is built there."""

from __future__ import annotations

import re
from pathlib import Path

from stedi import config
from stedi.aws.jobscript import ARGUMENT_MAGICS, GlueJob
from stedi.errors import UsageError


def _package_entries(value: str, package_uri: str) -> str:
    """%extra_py_files with its stedi.zip (any location) replaced by the deployment's."""
    name = Path(config.GLUE_PACKAGE_KEY).name
    entries = [e.strip() for e in value.split(",") if e.strip()]
    kept = [package_uri if e.rsplit("/", 1)[-1] == name else e for e in entries]
    return ",".join(kept if package_uri in kept else [package_uri, *kept])


def _tags(value: str, where: str) -> dict[str, str]:
    pairs = [p.split(":", 1) for p in re.split(r"\s*,\s*", value) if p]
    if any(len(p) != 2 for p in pairs):
        raise UsageError(f"{where}: %tags takes key:value,key:value")
    return {k.strip(): v.strip() for k, v in pairs}


def job_settings(job: GlueJob, package_uri: str) -> tuple[dict, dict[str, str], dict[str, str]]:
    """(CreateJob fields, DefaultArguments, Tags) the notebook's magics ask for; its stedi.zip is
    `package_uri`."""
    magics, where = job.magics, job.notebook.name
    fields: dict = {}
    if "glue_version" in magics:
        fields["GlueVersion"] = magics["glue_version"]
    if "worker_type" in magics:
        fields["WorkerType"] = magics["worker_type"]
    for name, key in (
        ("number_of_workers", "NumberOfWorkers"),
        ("idle_timeout", "Timeout"),
        ("timeout", "Timeout"),
    ):
        if name in magics:
            if not magics[name].isdigit():
                raise UsageError(f"{where}: %{name} {magics[name]} is not a whole number")
            fields[key] = int(magics[name])
    if "connections" in magics:
        fields["Connections"] = {
            "Connections": [c.strip() for c in magics["connections"].split(",") if c.strip()]
        }
    if "security_config" in magics:
        fields["SecurityConfiguration"] = magics["security_config"]
    arguments = {**job.configure}
    arguments["--extra-py-files"] = _package_entries(magics.get("extra_py_files", ""), package_uri)
    arguments |= {key: magics[name] for name, key in ARGUMENT_MAGICS.items() if name in magics}
    return fields, arguments, _tags(magics["tags"], where) if "tags" in magics else {}
