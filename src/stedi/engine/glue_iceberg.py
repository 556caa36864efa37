"""Glue 5.0's own Iceberg, declared for a Glue job or an Interactive Session.

On Glue, Spark reaches the lake's Iceberg tables through the Glue Data Catalog: Glue loads
its Iceberg runtime (Iceberg 1.7.1 on Glue 5.0) when `--datalake-formats` names `iceberg`,
and the catalog `config.GLUE_ICEBERG_CATALOG` is Iceberg's SparkCatalog over its GlueCatalog,
with S3FileIO and the lake root as warehouse (AWS Glue documentation, "Using the Iceberg
framework in AWS Glue"). Both go in as job parameters:

- a deployed job: in its DefaultArguments (`job_arguments`, stedi.aws.deploy);
- an Interactive Session: the notebooks' `%%configure` cell (`configure_cell`). The
  glue_pyspark kernel (aws-glue-sessions) reads that cell with ast.literal_eval and passes every
  key it does not manage itself (glue_version, worker_type, ...) to the session as a default
  argument; it has no line magic for --datalake-formats (its %spark_conf sets --conf only).

Glue takes one `--conf` parameter: several Spark settings are one value,
`k1=v1 --conf k2=v2 ...`, which Glue hands to spark-submit as it stands (`conf_argument`).
"""

from __future__ import annotations

import json

from stedi import config

DATALAKE_FORMATS = "--datalake-formats"
CONF = "--conf"
ICEBERG = "iceberg"


def spark_settings(warehouse: str) -> dict[str, str]:
    """The Spark settings of the Glue Data Catalog as the Iceberg catalog, its warehouse the lake root."""
    catalog = f"spark.sql.catalog.{config.GLUE_ICEBERG_CATALOG}"
    return {
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        catalog: "org.apache.iceberg.spark.SparkCatalog",
        f"{catalog}.catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog",
        f"{catalog}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        f"{catalog}.warehouse": warehouse,
    }


def conf_argument(settings: dict[str, str]) -> str:
    """Spark settings as the value of Glue's one `--conf` parameter."""
    return f" {CONF} ".join(f"{key}={value}" for key, value in settings.items())


def parse_conf_argument(value: str) -> dict[str, str]:
    """The Spark settings of a `--conf` value (conf_argument's inverse; a setting holds no space).
    ValueError naming the first word that is not where a `key=value` or `--conf` belongs."""
    settings: dict[str, str] = {}
    setting_next = True
    for word in value.split():
        if setting_next and word != CONF and "=" in word:
            key, _, setting = word.partition("=")
            settings[key] = setting
        elif not setting_next and word == CONF:
            pass
        else:
            raise ValueError(f"{CONF} value {value!r}: {word!r} is out of place (k1=v1 {CONF} k2=v2 ...)")
        setting_next = not setting_next
    if value.split() and setting_next:
        raise ValueError(f"{CONF} value {value!r} ends with {CONF}")
    return settings


def with_iceberg(arguments: dict[str, str], warehouse: str) -> dict[str, str]:
    """Job parameters with Iceberg declared: `iceberg` added to --datalake-formats, and the catalog's
    settings (warehouse `warehouse`) over whatever --conf already held."""
    formats = [f.strip() for f in arguments.get(DATALAKE_FORMATS, "").split(",") if f.strip()]
    settings = parse_conf_argument(arguments.get(CONF, "")) | spark_settings(warehouse)
    return {**arguments, DATALAKE_FORMATS: ",".join([*formats, ICEBERG] if ICEBERG not in formats else formats),
            CONF: conf_argument(settings)}


def job_arguments(warehouse: str) -> dict[str, str]:
    """The DefaultArguments that give a Glue job Glue's Iceberg over the Glue Data Catalog."""
    return with_iceberg({}, warehouse)


def configure_cell(warehouse: str) -> str:
    """The `%%configure` cell that gives an Interactive Session the same (a JSON object, which the
    kernel's ast.literal_eval and the local kernel read alike)."""
    return "%%configure\n" + json.dumps(job_arguments(warehouse), indent=1)


def configured_for(source: str, warehouse: str) -> str:
    """A notebook's `%%configure` cell with Iceberg declared for the lake `warehouse` (its other keys kept)."""
    import ast

    header, _, body = source.strip().partition("\n")
    settings = ast.literal_eval(body) if body.strip() else {}
    return f"{header}\n" + json.dumps(with_iceberg({str(k): str(v) for k, v in settings.items()}, warehouse), indent=1)
