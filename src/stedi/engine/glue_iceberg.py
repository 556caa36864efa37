"""Iceberg on AWS Glue: pyiceberg, the one committer, installed over Glue 5.0's own Python modules.

A zone step opens the lake through pyiceberg everywhere (decision record 0001, decision 11):
on Glue too, where its pyarrow extra needs pyarrow >= 18 and Glue 5.0 ships 17.0.0. Glue
installs and *overrides* preinstalled modules with `--additional-python-modules`; from Glue 5.0
that may be a requirements file on S3, installed with pip when the job parameter
`--python-modules-installer-option` is `-r` (AWS Glue documentation, "Using Python libraries
with AWS Glue"). The file is glue_env/glue-requirements.txt, generated from uv.lock against
Glue 5.0's pins by scripts/lockfiles.py. Both parameters go in as job parameters:

- a deployed job: in its DefaultArguments (`with_stedi_modules`, stedi.aws.deploy, which uploads
  the file beside the job's scripts);
- an Interactive Session: the notebooks' `%%configure` cell (`configure_cell`). The glue_pyspark
  kernel (aws-glue-sessions) reads that cell with ast.literal_eval and passes every key it does
  not manage itself (glue_version, worker_type, ...) to the session as a default argument.

Glue's Spark needs no Iceberg of its own: it only writes the staged Parquet files and reads a
snapshot's data files as Parquet (decision 2). So neither `--datalake-formats iceberg` nor a
Spark Iceberg catalog is declared; `with_stedi_modules` removes both from what a notebook of the
previous layout declared.
"""

from __future__ import annotations

import json

from stedi import config

ADDITIONAL_MODULES = "--additional-python-modules"
INSTALLER_OPTION = "--python-modules-installer-option"
REQUIREMENTS_FILE = (
    "-r"  # pip's option: the value of --additional-python-modules is a requirements file
)
# What the previous layout declared for Glue's own Spark Iceberg catalog: removed where found.
DATALAKE_FORMATS = "--datalake-formats"
CONF = "--conf"
ICEBERG = "iceberg"
ICEBERG_SPARK_SETTINGS = (
    "spark.sql.extensions=org.apache.iceberg.",
    "spark.sql.catalog.glue_catalog",
)


def requirements_path():
    """glue_env/glue-requirements.txt of the project (scripts/lockfiles.py writes it)."""
    return config.PROJECT_ROOT / "glue_env" / "glue-requirements.txt"


def _without_glue_spark_iceberg(arguments: dict[str, str]) -> dict[str, str]:
    kept = dict(arguments)
    formats = [
        f.strip()
        for f in kept.pop(DATALAKE_FORMATS, "").split(",")
        if f.strip() and f.strip() != ICEBERG
    ]
    if formats:
        kept[DATALAKE_FORMATS] = ",".join(formats)
    settings = [s.strip() for s in kept.pop(CONF, "").split(f" {CONF} ") if s.strip()]
    settings = [s for s in settings if not s.startswith(ICEBERG_SPARK_SETTINGS)]
    if settings:
        kept[CONF] = f" {CONF} ".join(settings)
    return kept


def with_stedi_modules(arguments: dict[str, str], requirements_uri: str) -> dict[str, str]:
    """Job parameters that install stedi's modules on Glue from the requirements file
    `requirements_uri` (an s3:// object), over whatever a notebook declared (its own placeholder
    file is replaced). ValueError when the notebook asks for other modules too: a requirements file
    is the whole list."""
    given = arguments.get(ADDITIONAL_MODULES, "")
    if given and arguments.get(INSTALLER_OPTION) != REQUIREMENTS_FILE:
        raise ValueError(
            f"{ADDITIONAL_MODULES} {given!r}: stedi's jobs install a requirements file "
            f"({requirements_path().name}); add modules to it (scripts/lockfiles.py), not here"
        )
    return {
        **_without_glue_spark_iceberg(arguments),
        ADDITIONAL_MODULES: requirements_uri,
        INSTALLER_OPTION: REQUIREMENTS_FILE,
    }


def job_arguments(requirements_uri: str) -> dict[str, str]:
    """The DefaultArguments that give a Glue job stedi's modules (pyiceberg, pyarrow >= 18)."""
    return with_stedi_modules({}, requirements_uri)


def configure_cell(requirements_uri: str) -> str:
    """The `%%configure` cell that gives an Interactive Session the same (a JSON object, which the
    kernel's ast.literal_eval and the local kernel read alike)."""
    return "%%configure\n" + json.dumps(job_arguments(requirements_uri), indent=1)


def configured_for(source: str, requirements_uri: str) -> str:
    """A notebook's `%%configure` cell installing stedi's modules from `requirements_uri` (its other
    keys kept)."""
    import ast

    header, _, body = source.strip().partition("\n")
    settings = ast.literal_eval(body) if body.strip() else {}
    arguments = {str(k): str(v) for k, v in settings.items()}
    return f"{header}\n" + json.dumps(with_stedi_modules(arguments, requirements_uri), indent=1)
