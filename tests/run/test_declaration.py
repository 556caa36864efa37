"""The pipeline is declared once (stedi.run.pipeline): the notebooks, the layers and the package
agree with it."""

from __future__ import annotations

import ast
import inspect

import nbformat
import pytest

from stedi import config
from stedi.core.tables import SOURCES, TABLES, landing_table
from stedi.run import pipeline
from stedi.run.pipeline import ANALYSIS, PIPELINE, ZONE, ZONE_STEPS


def _code(step: pipeline.PipelineStep) -> ast.Module:
    """The notebook's code cells as one module (IPython magics left out)."""
    nb = nbformat.read(step.notebook, as_version=4)
    lines = [
        line
        for cell in nb.cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if not line.lstrip().startswith(("%", "!"))
    ]
    return ast.parse("\n".join(lines))


def _calls(tree: ast.Module, obj: str, method: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == obj
    ]


def _first_literals(calls: list[ast.Call], *, only_literals: bool = False) -> list[str]:
    names = []
    for call in calls:
        if only_literals and not (call.args and isinstance(call.args[0], ast.Constant)):
            continue
        assert call.args and isinstance(call.args[0], ast.Constant), ast.unparse(call)
        names.append(call.args[0].value)
    return names


def _imported_functions(tree: ast.Module) -> set[str]:
    return {
        f"{node.module}:{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith("stedi.core.transforms")
        for alias in node.names
    }


@pytest.mark.parametrize("step", ZONE_STEPS, ids=lambda s: s.name)
def test_every_zone_notebook_reads_writes_and_calls_exactly_what_its_step_declares(step):
    tree = _code(step)
    reads = _first_literals(_calls(tree, "step", "read"))
    written = _first_literals(_calls(tree, "step", "publish"))
    for call in _calls(tree, "step", "land_all"):  # the intake: every source's landing table
        assert [ast.unparse(a) for a in call.args] in ([], ["SOURCES"]), ast.unparse(call)
        written += [landing_table(source) for source in SOURCES]
    assert sorted(reads) == sorted(step.reads)
    assert sorted(written) == sorted(step.writes)
    assert _imported_functions(tree) == ({step.transform} if step.transform else set())
    [opened] = _calls(tree, "stedi_step", "start")
    assert opened.args[0].value == step.name


def test_the_analysis_notebook_reads_only_declared_tables():
    [analysis] = [s for s in PIPELINE if s.kind == ANALYSIS]
    read = set(_first_literals(_calls(_code(analysis), "lake", "read"), only_literals=True))
    assert read and read <= set(analysis.reads)


def test_every_step_has_its_notebook_and_every_notebook_a_step():
    assert {s.notebook for s in PIPELINE} == {
        *config.GLUE_SESSIONS_DIR.glob("*.ipynb"),
        *config.NOTEBOOKS_DIR.glob("*.ipynb"),
    }
    assert [s.name for s in ZONE_STEPS] == sorted(
        s.name for s in ZONE_STEPS
    )  # numbered in run order


def test_every_table_is_written_by_exactly_one_step_after_the_steps_it_reads_from():
    written: list[str] = []
    for step in PIPELINE:
        assert set(step.reads) <= set(written), f"{step.name} reads a table no earlier step writes"
        written += step.writes
    assert sorted(written) == sorted(TABLES)


@pytest.mark.parametrize("step", [s for s in ZONE_STEPS if s.transform], ids=lambda s: s.name)
def test_each_transform_takes_the_declared_inputs_then_the_policy(step):
    parameters = list(inspect.signature(step.transform_function()).parameters)
    assert parameters == [*step.reads, "policy"]


def test_find_accepts_a_name_a_number_or_a_name_without_its_number():
    assert pipeline.find("02").name == "02_accelerometer_landing_to_trusted"
    assert (
        pipeline.find("accelerometer_landing_to_trusted").name
        == "02_accelerometer_landing_to_trusted"
    )
    assert pipeline.find("balance_analysis").kind == ANALYSIS
    with pytest.raises(pipeline.UnknownStep, match="unknown step 'nope'"):
        pipeline.find("nope")


def test_select_and_the_tables_a_selection_needs_from_the_lake():
    assert [s.number for s in pipeline.select(ZONE_STEPS, start="03")] == ["03", "04", "05"]
    assert pipeline.external_inputs(pipeline.select(ZONE_STEPS, start="03")) == (
        "customer_trusted",
        "accelerometer_trusted",
        "step_trainer_landing",
    )
    only = pipeline.select(PIPELINE, only="05,01")
    assert [s.number for s in only] == ["01", "05"]  # pipeline order, whatever order given
    assert pipeline.external_inputs(only) == (
        "customer_landing",
        "step_trainer_trusted",
        "accelerometer_trusted",
        "customer_curated",
    )
    assert pipeline.select(ZONE_STEPS) == ZONE_STEPS
    with pytest.raises(pipeline.UnknownStep, match="do not go together"):
        pipeline.select(ZONE_STEPS, start="01", only="02")


def test_describe_lists_every_step_with_its_inputs_and_outputs():
    text = pipeline.describe()
    for step in PIPELINE:
        assert step.name in text
    assert "reads  raw/customer, raw/accelerometer, raw/step_trainer" in text
    assert "writes machine_learning_curated" in text
    assert text.count("[") == len(PIPELINE) and all(s.kind in (ZONE, ANALYSIS) for s in PIPELINE)


@pytest.mark.slow  # seconds: the whole tier (make test), not make check
def test_derive_applies_the_declared_transforms_in_order(spark):
    from stedi.core.schemas import spark_schema

    customer = spark.createDataFrame(
        [("Ann", "ann@x", "1", "1990", "S1", 0, 5, 10, None, None)],
        spark_schema(TABLES["customer_landing"].columns),
    )
    accelerometer = spark.createDataFrame(
        [("ann@x", 9, 0.0, 0.0, 0.0), ("ann@x", 10, 1.0, 1.0, 1.0)],
        spark_schema(TABLES["accelerometer_landing"].columns),
    )
    step_trainer = spark.createDataFrame(
        [(10, "S1", 3), (9, "S1", 4)], spark_schema(TABLES["step_trainer_landing"].columns)
    )
    landing = {
        "customer_landing": customer,
        "accelerometer_landing": accelerometer,
        "step_trainer_landing": step_trainer,
    }
    strict = pipeline.derive(landing, "strict")
    assert list(strict) == [*landing, *(t for s in ZONE_STEPS[1:] for t in s.writes)]
    # strict: only the reading at or after consent (timestamp 10) survives, and its ML pair
    assert [r.asDict() for r in strict["machine_learning_curated"].collect()] == [
        {
            "sensorReadingTime": 10,
            "serialNumber": "S1",
            "distanceFromObject": 3,
            "timestamp": 10,
            "x": 1.0,
            "y": 1.0,
            "z": 1.0,
        }
    ]
    assert pipeline.derive(landing, "udacity")["accelerometer_trusted"].count() == 2
