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

The zone steps need no Iceberg of Glue's Spark: it only writes the staged Parquet files and reads a
snapshot's data files as Parquet (decision 2), and pyiceberg commits. Glue's own Iceberg (1.7.1 on
Glue 5.0) is declared all the same, as AWS documents it ("Using the Iceberg framework in AWS
Glue"): `--datalake-formats iceberg` and the `glue_catalog` Spark catalog (GlueCatalog, S3FileIO,
the lake as its warehouse), so that a session or job reads the lake's tables by name
(`spark.table("glue_catalog.stedi.customer_curated")`). Nothing of stedi writes through it: one
committer (decision 11). `with_glue_iceberg` replaces whatever Iceberg settings a notebook declared
and keeps its other formats and Spark settings.
"""

from __future__ import annotations

import json

from stedi import config

ADDITIONAL_MODULES = "--additional-python-modules"
INSTALLER_OPTION = "--python-modules-installer-option"
REQUIREMENTS_FILE = (
    "-r"  # pip's option: the value of --additional-python-modules is a requirements file
)
# Glue's own Iceberg, declared for reading the lake's tables by name (the module docstring).
DATALAKE_FORMATS = "--datalake-formats"
CONF = "--conf"
ICEBERG = "iceberg"
SPARK_CATALOG = "glue_catalog"
ICEBERG_SPARK_SETTINGS = (
    "spark.sql.extensions=org.apache.iceberg.",
    f"spark.sql.catalog.{SPARK_CATALOG}",
)


def glue_iceberg_settings(warehouse: str) -> list[str]:
    """The Spark settings of AWS's documented Iceberg setup on Glue, for the lake at `warehouse`."""
    catalog = f"spark.sql.catalog.{SPARK_CATALOG}"
    return [
        "spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        f"{catalog}=org.apache.iceberg.spark.SparkCatalog",
        f"{catalog}.warehouse={warehouse.rstrip('/')}/",
        f"{catalog}.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog",
        f"{catalog}.io-impl=org.apache.iceberg.aws.s3.S3FileIO",
    ]


def requirements_path():
    """glue_env/glue-requirements.txt of the project (scripts/lockfiles.py writes it)."""
    return config.PROJECT_ROOT / "glue_env" / "glue-requirements.txt"


def with_glue_iceberg(arguments: dict[str, str], warehouse: str) -> dict[str, str]:
    """`arguments` declaring Glue's own Iceberg for the lake at `warehouse`: `iceberg` added to
    `--datalake-formats`, the `glue_catalog` settings in `--conf` (Glue takes one `--conf` key,
    its value chaining `--conf` settings) in place of any Iceberg setting declared before."""
    kept = dict(arguments)
    formats = [f.strip() for f in kept.pop(DATALAKE_FORMATS, "").split(",") if f.strip()]
    kept[DATALAKE_FORMATS] = ",".join([*(f for f in formats if f != ICEBERG), ICEBERG])
    settings = [s.strip() for s in kept.pop(CONF, "").split(f" {CONF} ") if s.strip()]
    settings = [s for s in settings if not s.startswith(ICEBERG_SPARK_SETTINGS)]
    kept[CONF] = f" {CONF} ".join([*settings, *glue_iceberg_settings(warehouse)])
    return kept


def with_stedi_modules(
    arguments: dict[str, str], requirements_uri: str, warehouse: str
) -> dict[str, str]:
    """Job parameters that install stedi's modules on Glue from the requirements file
    `requirements_uri` (an s3:// object), over whatever a notebook declared (its own placeholder
    file is replaced), and declare Glue's own Iceberg for the lake at `warehouse`
    (`with_glue_iceberg`). ValueError when the notebook asks for other modules too: a requirements
    file is the whole list."""
    given = arguments.get(ADDITIONAL_MODULES, "")
    if given and arguments.get(INSTALLER_OPTION) != REQUIREMENTS_FILE:
        raise ValueError(
            f"{ADDITIONAL_MODULES} {given!r}: stedi's jobs install a requirements file "
            f"({requirements_path().name}); add modules to it (scripts/lockfiles.py), not here"
        )
    declared = with_glue_iceberg(arguments, warehouse)
    return {
        **{k: v for k, v in declared.items() if k not in (ADDITIONAL_MODULES, INSTALLER_OPTION)},
        ADDITIONAL_MODULES: requirements_uri,
        INSTALLER_OPTION: REQUIREMENTS_FILE,
    }


def job_arguments(requirements_uri: str, warehouse: str) -> dict[str, str]:
    """The DefaultArguments that give a Glue job stedi's modules (pyiceberg, pyarrow >= 18) and
    Glue's Iceberg for the lake at `warehouse`."""
    return with_stedi_modules({}, requirements_uri, warehouse)


def configure_cell(requirements_uri: str, warehouse: str) -> str:
    """The `%%configure` cell that gives an Interactive Session the same (a JSON object, which the
    kernel's ast.literal_eval and the local kernel read alike)."""
    return "%%configure\n" + json.dumps(job_arguments(requirements_uri, warehouse), indent=1)


def configured_for(source: str, requirements_uri: str, warehouse: str) -> str:
    """A notebook's `%%configure` cell installing stedi's modules from `requirements_uri`, with
    Glue's Iceberg for the lake at `warehouse` (its other keys kept)."""
    import ast

    header, _, body = source.strip().partition("\n")
    settings = ast.literal_eval(body) if body.strip() else {}
    arguments = {str(k): str(v) for k, v in settings.items()}
    return f"{header}\n" + json.dumps(
        with_stedi_modules(arguments, requirements_uri, warehouse), indent=1
    )
