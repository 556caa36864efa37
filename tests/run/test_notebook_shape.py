"""The glue_sessions/ notebooks keep the project's shape: thin, parameterized, clean, one publish
per output."""

from __future__ import annotations

import json
import re

import pytest

from stedi import config
from stedi.engine.glue_iceberg import configure_cell
from stedi.run.folder import RunFolder
from stedi.run.options import RunOptions
from stedi.run.pipeline import PIPELINE, ZONE_STEPS
from stedi.run.runner import _parameters

# The file and lake the %%configure cell names: `stedi run --target glue` and deploy put theirs.
PLACEHOLDER_REQUIREMENTS = "s3://stedi-lakehouse-artifacts/artifacts/glue-requirements.txt"
PLACEHOLDER_LAKE = "s3://stedi-lakehouse-artifacts/lake"
GLUE_MAGICS = (
    "%glue_version 5.0",
    "%worker_type",
    "%number_of_workers",
    "%idle_timeout",
    "%extra_py_files",
)


def code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", [s.notebook for s in ZONE_STEPS], ids=lambda p: p.stem)
def test_notebook_shape(path):
    nb = json.loads(path.read_text())
    cells = code_cells(path)
    assert nb["metadata"]["kernelspec"]["name"] == config.LOCAL_KERNEL
    first = "".join(cells[0]["source"])
    for magic in GLUE_MAGICS:
        assert magic in first, f"first cell lacks {magic}"
    # then the session's %%configure: stedi's modules (pyiceberg, pyarrow >= 18) over Glue's
    # (stedi.engine.glue_iceberg)
    configure = "".join(cells[1]["source"])
    assert configure == configure_cell(PLACEHOLDER_REQUIREMENTS, PLACEHOLDER_LAKE), (
        "the %%configure cell installs stedi's modules and declares Glue's Iceberg"
    )
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is cells[2]
    for line in "".join(tagged[0]["source"]).splitlines():
        assert re.match(r'^\w+: (str = ".*"|bool = (True|False))  # \S', line), (
            f"untyped or uncommented parameter: {line}"
        )
    for cell in cells:
        source = "".join(cell["source"])
        assert not re.search(r"^\s*(def|class) ", source, re.M), (
            "function definitions belong in src/"
        )
        assert not cell.get("outputs") and cell.get("execution_count") is None, (
            "commit notebooks clean"
        )
    assert "step.finish()" in "".join(cells[-1]["source"])


@pytest.mark.parametrize("step", [s for s in ZONE_STEPS if s.transform], ids=lambda s: s.name)
def test_a_zone_step_publishes_its_output_in_one_call_and_shows_the_report(step):
    sources = ["".join(c["source"]) for c in code_cells(step.notebook)]
    (output,) = step.writes
    publishing = [s for s in sources if "step.publish(" in s]
    assert publishing == [f'report = step.publish("{output}", {output})\nreport']
    assert not [s for s in sources if re.search(r"step\.(check|write)\(", s)], (
        "publish checks and writes"
    )


def test_the_intake_step_lands_every_source_at_once():
    [intake] = [s for s in ZONE_STEPS if s.sources]
    sources = ["".join(c["source"]) for c in code_cells(intake.notebook)]
    assert [s for s in sources if "step.land_all(" in s] == ["accounting = step.land_all(SOURCES)"]
    assert not [s for s in sources if "step.publish(" in s]


def parameters(path) -> dict[str, str]:
    """name -> default of the notebook's parameters cell."""
    [cell] = [c for c in code_cells(path) if "parameters" in c.get("metadata", {}).get("tags", [])]
    found = {}
    for line in "".join(cell["source"]).splitlines():
        name, text, flag = re.match(
            r'^(\w+): (?:str = "(.*?)"|bool = (True|False))  # [^=]*$', line
        ).groups()  # no "=" in a comment
        found[name] = text if flag is None else flag == "True"
    return found


@pytest.mark.parametrize("step", PIPELINE, ids=lambda s: s.name)
def test_every_notebook_takes_the_parameters_the_runner_gives_it(step, tmp_path):
    folder = RunFolder(tmp_path, str(tmp_path))
    assert set(parameters(step.notebook)) == set(_parameters(step, RunOptions(), folder))


@pytest.mark.parametrize("step", PIPELINE, ids=lambda s: s.name)
def test_every_notebook_opens_its_session_on_the_engine_parameter(step):
    assert parameters(step.notebook)["engine"] == "", "empty: the kernel's engine"
    sources = "\n".join("".join(c["source"]) for c in code_cells(step.notebook))
    if step in ZONE_STEPS:
        assert re.search(r"stedi_step\.start\([^)]*\bengine=engine,", sources)
    else:
        assert (
            'local_session(engine, "stedi-analysis")' in sources and "local_spark(" not in sources
        )
