"""The glue_sessions/ notebooks keep the project's shape: thin, parameterized, clean."""

from __future__ import annotations

import json
import re

import pytest

from stedi import config
from stedi.run.runner import PIPELINE

NOTEBOOKS = sorted(config.GLUE_SESSIONS_DIR.glob("*.ipynb"))
GLUE_MAGICS = ("%glue_version 5.0", "%worker_type", "%number_of_workers", "%idle_timeout", "%extra_py_files")


def code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def test_every_notebook_is_a_pipeline_step_in_numbered_order():
    assert [p.stem for p in NOTEBOOKS] == list(PIPELINE)
    assert [int(re.match(r"\d+", name).group()) for name in PIPELINE] == list(range(len(PIPELINE)))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_shape(path):
    nb = json.loads(path.read_text())
    cells = code_cells(path)
    assert nb["metadata"]["kernelspec"]["name"] == config.LOCAL_KERNEL
    first = "".join(cells[0]["source"])
    for magic in GLUE_MAGICS:
        assert magic in first, f"first cell lacks {magic}"
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is cells[1]
    for line in "".join(tagged[0]["source"]).splitlines():
        assert re.match(r'^\w+: str = ".*"  # \S', line), f"untyped or uncommented parameter: {line}"
    for cell in cells:
        source = "".join(cell["source"])
        assert not re.search(r"^\s*(def|class) ", source, re.M), "function definitions belong in src/"
        assert not cell.get("outputs") and cell.get("execution_count") is None, "commit notebooks clean"
    assert "step.finish()" in "".join(cells[-1]["source"])
