"""Glue 5.0's own Iceberg declared for the deployed jobs and the Interactive Sessions (stedi.engine.glue_iceberg).

The deployed jobs' DefaultArguments are checked against moto in tests/test_deploy.py, and the
Spark settings reaching a job's Spark context in the Glue 5.0 environment in
tests/test_glue_harness.py. Whether Glue then loads its Iceberg runtime and commits through the
Glue Data Catalog is verified only on AWS.
"""

from __future__ import annotations

import ast

import nbformat
import pytest

from stedi import config
from stedi.engine.glue_iceberg import (
    configure_cell,
    configured_for,
    conf_argument,
    job_arguments,
    parse_conf_argument,
    spark_settings,
    with_iceberg,
)
from stedi.aws.jobscript import configure_of, glue_job
from stedi.errors import UsageError
from stedi.run.pipeline import ZONE_STEPS
from stedi.run.runner import glue_session_copy

LAKE = "s3://bucket/team/lake"


def test_the_catalog_is_the_glue_data_catalog_through_icebergs_spark_catalog():
    settings = spark_settings(LAKE)
    catalog = f"spark.sql.catalog.{config.GLUE_ICEBERG_CATALOG}"
    assert settings == {
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        catalog: "org.apache.iceberg.spark.SparkCatalog",
        f"{catalog}.catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog",
        f"{catalog}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        f"{catalog}.warehouse": LAKE,
    }
    arguments = job_arguments(LAKE)
    assert arguments["--datalake-formats"] == "iceberg"
    # Glue's one --conf parameter: the settings joined by " --conf ", as spark-submit takes them
    assert arguments["--conf"].split(" --conf ") == [f"{k}={v}" for k, v in settings.items()]
    assert parse_conf_argument(arguments["--conf"]) == settings


@pytest.mark.parametrize("value", ["a=1 b=2", "a=1 --conf", "--conf a=1", "a", "a=1 --conf --conf b=2"])
def test_a_conf_value_glue_would_not_pass_on_as_settings_is_refused(value):
    with pytest.raises(ValueError, match="--conf value"):
        parse_conf_argument(value)


def test_iceberg_is_added_to_what_a_job_already_declares():
    given = {"--datalake-formats": "delta", "--conf": "spark.sql.shuffle.partitions=4", "--other": "x"}
    arguments = with_iceberg(given, LAKE)
    assert arguments["--datalake-formats"] == "delta,iceberg" and arguments["--other"] == "x"
    assert parse_conf_argument(arguments["--conf"]) == {"spark.sql.shuffle.partitions": "4", **spark_settings(LAKE)}
    # the warehouse is always the lake's: a notebook's placeholder is replaced
    again = with_iceberg(arguments, "s3://other/lake")
    assert again["--datalake-formats"] == "delta,iceberg"
    assert parse_conf_argument(again["--conf"])[f"spark.sql.catalog.{config.GLUE_ICEBERG_CATALOG}.warehouse"] == (
        "s3://other/lake")


def test_the_configure_cell_is_read_as_the_glue_kernel_reads_it():
    """aws-glue-sessions 1.0.9: ast.literal_eval of the cell; the keys it manages (glue_version, ...) set the
    session, every other key becomes a `--` default argument of the session."""
    cell = configure_cell(LAKE)
    assert cell.startswith("%%configure\n")
    assert ast.literal_eval(cell.split("\n", 1)[1]) == job_arguments(LAKE)
    magics, arguments = configure_of('%%configure\n{"worker_type": "G.2X", "datalake-formats": "iceberg", '
                                     '"--conf": "a=1", "profile": "dev"}', "nb cell 2")
    assert magics == {"worker_type": "G.2X"}  # profile is the session's, not the job's
    assert arguments == {"--datalake-formats": "iceberg", "--conf": "a=1"}
    for bad in ("%%configure\n[1, 2]", "%%configure\n{'a': }"):
        with pytest.raises(UsageError, match="nb cell 2: the %%configure cell is not a dict literal"):
            configure_of(bad, "nb cell 2")
    with pytest.raises(UsageError, match="%%configure max_capacity has no Glue job setting"):
        configure_of('%%configure\n{"max_capacity": 2}', "nb cell 2")


@pytest.mark.parametrize("step", ZONE_STEPS, ids=lambda s: s.number)
def test_each_zone_notebook_declares_iceberg_for_its_session_and_its_job(step):
    job = glue_job(step.notebook)
    assert job.configure["--datalake-formats"] == "iceberg"
    assert parse_conf_argument(job.configure["--conf"])["spark.sql.catalog.glue_catalog"] == (
        "org.apache.iceberg.spark.SparkCatalog")


def test_the_local_kernel_records_the_configure_cell_as_the_glue_kernel_would_receive_it(capsys):
    from stedi.engine import glue_magics

    source = next(c.source for c in nbformat.read(ZONE_STEPS[0].notebook, as_version=4).cells
                  if c.cell_type == "code" and c.source.startswith("%%configure"))
    glue_magics.configure("", source.split("\n", 1)[1])
    assert glue_magics.SESSION_CONFIG["--datalake-formats"] == "iceberg"
    assert "The following configurations have been updated:" in capsys.readouterr().out
    with pytest.raises(ValueError, match="takes a dict"):
        glue_magics.configure("", "[1]")


def test_a_glue_run_gives_each_session_its_lake_as_the_iceberg_warehouse(tmp_path):
    copy = glue_session_copy(ZONE_STEPS[1].notebook, tmp_path, "s3://bucket/team/artifacts/stedi.zip", LAKE)
    cells = [c.source for c in nbformat.read(copy, as_version=4).cells if c.cell_type == "code"]
    assert "%extra_py_files s3://bucket/team/artifacts/stedi.zip" in cells[0]
    assert cells[1] == configure_cell(LAKE)
    assert configured_for(cells[1], LAKE) == cells[1]
    assert conf_argument(spark_settings(LAKE)) in cells[1]
