"""pyiceberg on Glue: the job parameters that install glue_env/glue-requirements.txt over Glue 5.0's
modules, for the deployed jobs and the Interactive Sessions (stedi.engine.glue_iceberg).

The deployed jobs' DefaultArguments are checked against moto in tests/aws/test_deploy.py; the file
installed over Glue 5.0's libraries, and the jobs running their zone steps whole with it, in
tests/aws/test_glue_harness.py. Whether Glue's own pip installs it (network from the job, PyPI) is
verified only on AWS.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib

import nbformat
import pytest

from stedi import config
from stedi.aws.jobscript import configure_of, glue_job
from stedi.engine.glue_iceberg import (
    configure_cell,
    configured_for,
    job_arguments,
    requirements_path,
    with_stedi_modules,
)
from stedi.run.pipeline import ZONE_STEPS
from stedi.run.runner import glue_session_copy

URI = "s3://bucket/team/artifacts/glue-requirements.txt"
LAKE = "s3://bucket/team/lake"
OLD_CONF = (
    "spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions --conf "
    "spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog --conf "
    "spark.sql.catalog.glue_catalog.warehouse=s3://b/elsewhere"
)


def _locked(path) -> dict[str, str]:
    return {p["name"]: p["version"] for p in tomllib.loads(path.read_text())["package"]}


def test_a_job_installs_the_requirements_file_with_pip_r_and_declares_glues_iceberg():
    """AWS's documented Iceberg setup on Glue: `iceberg` in --datalake-formats, one --conf key
    chaining the glue_catalog settings, the lake as the warehouse."""
    assert job_arguments(URI, LAKE) == {
        "--additional-python-modules": URI,
        "--python-modules-installer-option": "-r",
        "--datalake-formats": "iceberg",
        "--conf": " --conf ".join(
            [
                "spark.sql.extensions="
                "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
                "spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog",
                f"spark.sql.catalog.glue_catalog.warehouse={LAKE}/",
                "spark.sql.catalog.glue_catalog.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog",
                "spark.sql.catalog.glue_catalog.io-impl=org.apache.iceberg.aws.s3.S3FileIO",
            ]
        ),
    }


def test_a_notebooks_own_formats_and_settings_are_kept_its_iceberg_settings_replaced():
    given = {
        "--datalake-formats": "delta,iceberg",
        "--conf": f"spark.sql.shuffle.partitions=4 --conf {OLD_CONF}",
        "--other": "x",
    }
    ours = job_arguments(URI, LAKE)
    assert with_stedi_modules(given, URI, LAKE) == {
        **ours,
        "--datalake-formats": "delta,iceberg",
        "--conf": f"spark.sql.shuffle.partitions=4 --conf {ours['--conf']}",
        "--other": "x",
    }
    assert with_stedi_modules({"--datalake-formats": "iceberg", "--conf": OLD_CONF}, URI, LAKE) == (
        ours
    )
    # a notebook's placeholder file and lake are replaced by the deployment's
    assert with_stedi_modules(
        job_arguments("s3://x/placeholder.txt", "s3://x/lake"), URI, LAKE
    ) == (ours)


def test_a_notebook_asking_for_other_modules_is_refused():
    with pytest.raises(ValueError, match="install a requirements file"):
        with_stedi_modules({"--additional-python-modules": "scikit-learn==1.5"}, URI, LAKE)


def test_the_requirements_file_pins_pyiceberg_and_a_pyarrow_over_glues_from_the_projects_lock():
    """The file scripts/lockfiles.py generates (its staleness: tests/test_environment.py): uv.lock's
    pyiceberg and pyarrow >= 18, every pin at uv.lock's version, none of Glue 5.0's own at the
    version Glue has."""
    pins = dict(
        line.split("==")
        for line in requirements_path().read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    project, glue = (
        _locked(config.PROJECT_ROOT / "uv.lock"),
        _locked(config.PROJECT_ROOT / "glue_env" / "uv.lock"),
    )
    assert pins["pyiceberg"] == project["pyiceberg"] and pins["pyiceberg"].startswith("0.12.")
    assert pins["pyarrow"] == project["pyarrow"] and int(pins["pyarrow"].split(".")[0]) >= 18 > int(
        glue["pyarrow"][:2]
    )
    assert all(pins[name] == project[name] for name in pins if name in project), pins
    assert not [name for name in pins if glue.get(name) == pins[name]]
    for kept in ("boto3", "botocore", "numpy", "pandas", "pyspark"):  # Glue's own stay
        assert kept not in pins


def test_the_lockfiles_script_fails_a_stale_requirements_file(tmp_path, monkeypatch):
    sys.path.insert(0, str(config.PROJECT_ROOT / "scripts"))
    try:
        import lockfiles
    finally:
        sys.path.pop(0)
    assert lockfiles.glue_requirements() == requirements_path().read_text()
    monkeypatch.setattr(
        lockfiles, "GLUE_ADDITIONS", ("pyiceberg[glue,pyarrow]",)
    )  # without the pyarrow override
    monkeypatch.setattr(lockfiles, "GLUE_OVERRIDDEN", ())
    with pytest.raises(
        subprocess.CalledProcessError
    ):  # pyiceberg's pyarrow extra cannot take Glue's 17.0.0
        lockfiles.glue_requirements()


def test_the_configure_cell_is_read_as_the_glue_kernel_reads_it():
    """aws-glue-sessions 1.0.9: ast.literal_eval of the cell; the keys it manages (glue_version,
    ...) set the session, every other key becomes a `--` default argument of the session."""
    cell = configure_cell(URI, LAKE)
    assert cell.startswith("%%configure\n")
    assert ast.literal_eval(cell.split("\n", 1)[1]) == job_arguments(URI, LAKE)
    magics, arguments = configure_of(cell, "nb cell 2")
    assert magics == {} and arguments == job_arguments(URI, LAKE)


@pytest.mark.parametrize("step", ZONE_STEPS, ids=lambda s: s.number)
def test_each_zone_notebook_installs_stedis_modules_for_its_session_and_its_job(step):
    job = glue_job(step.notebook)
    assert job.configure["--python-modules-installer-option"] == "-r"
    assert job.configure["--additional-python-modules"].endswith("/glue-requirements.txt")
    assert job.configure["--datalake-formats"] == "iceberg"
    assert "spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog" in (
        job.configure["--conf"].split(" --conf ")
    )


def test_the_local_kernel_records_the_configure_cell_as_the_glue_kernel_would_receive_it(capsys):
    from stedi.engine import glue_magics

    source = next(
        c.source
        for c in nbformat.read(ZONE_STEPS[0].notebook, as_version=4).cells
        if c.cell_type == "code" and c.source.startswith("%%configure")
    )
    glue_magics.configure("", source.split("\n", 1)[1])
    assert glue_magics.SESSION_CONFIG["--python-modules-installer-option"] == "-r"
    assert "The following configurations have been updated:" in capsys.readouterr().out
    with pytest.raises(ValueError, match="takes a dict"):
        glue_magics.configure("", "[1]")


def test_a_glue_run_gives_each_session_the_requirements_file_beside_its_package(tmp_path):
    copy = glue_session_copy(
        ZONE_STEPS[1].notebook, tmp_path, "s3://bucket/team/artifacts/stedi.zip", URI, LAKE
    )
    cells = [c.source for c in nbformat.read(copy, as_version=4).cells if c.cell_type == "code"]
    assert "%extra_py_files s3://bucket/team/artifacts/stedi.zip" in cells[0]
    assert cells[1] == configure_cell(URI, LAKE)
    assert configured_for(cells[1], URI, LAKE) == cells[1]
