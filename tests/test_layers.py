"""The package's layout shows its layers: every folder says what it holds, imports only point down,
and no module imports itself back through others (no import cycle, imports inside functions
included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from stedi import config

# Lowest first. A module may import from its own layer or a lower one, never a higher one.
LAYERS = {
    "config": 0,
    "context": 0,
    "atomic_files": 0,
    "errors": 0,
    "display": 0,
    "__init__": 0,
    "core": 1,
    "lake": 2,
    "engine": 2,
    "run": 3,
    "analysis": 4,
    "aws": 4,
    "dev": 4,
    "cli": 5,
}
PACKAGE = config.PACKAGE_DIR
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
MAX_LINES = 400
# The benchmark's scripts are held to the same size (issue 28).
BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


def _part(module: str) -> str:
    """`stedi.core.intake` -> "core"; `stedi` -> "__init__"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every stedi module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "stedi"}
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.split(".")[0] == "stedi"
        ):
            found |= {
                f"{node.module}.{a.name}" if node.module == "stedi" else node.module
                for a in node.names
            }
    return found


NAMES = {_name(p) for p in MODULES}


def _modules_imported(path: Path) -> set[str]:
    """The stedi modules `path` imports, at the top or inside a function: `from stedi.core import
    quality` is the module stedi.core.quality, `from stedi.lake.iceberg import Staged` the module
    stedi.lake.iceberg."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in NAMES else node.module
                for a in node.names
            ]
        else:
            continue
        found |= {n for n in names if n in NAMES}
    return found


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import one another in a circle (Tarjan's strongly connected
    components of more than one module), each sorted, the groups sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(cycles)


def test_no_import_cycle_even_through_imports_inside_functions():
    graph = {_name(p): _modules_imported(p) for p in MODULES}
    cycles = import_cycles(graph)
    assert not cycles, "modules that import one another in a circle: " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_the_cycle_check_finds_a_cycle_through_an_import_inside_a_function(tmp_path):
    # The check itself can fail: the cycle this issue found (rules -> dqdl_render inside a method).
    graph = {"a.rules": {"a.dqdl_render"}, "a.dqdl_render": {"a.rules"}, "a.catalog": {"a.rules"}}
    assert import_cycles(graph) == [["a.dqdl_render", "a.rules"]]
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    inner = tmp_path / "rules.py"
    inner.write_text("def dqdl():\n    from stedi.core.quality.dqdl_render import RENDERERS\n")
    assert _modules_imported(inner) == {"stedi.core.quality.dqdl_render"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _name(p))
def test_imports_point_only_down_the_layers(path):
    importer = _part(_name(path))
    assert importer in LAYERS, f"{_name(path)}: place its folder in a layer (tests/test_layers.py)"
    upward = sorted(m for m in _imports(path) if LAYERS[_part(m)] > LAYERS[importer])
    assert not upward, (
        f"{_name(path)} (layer {LAYERS[importer]}) imports from a higher layer: {upward}"
    )


def _all_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return modules | {
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }


def test_transforms_import_nothing_but_pyspark():
    # and the run's typed choices (stedi.context: the Policy they branch on), which import only the
    # standard library
    for path in (PACKAGE / "core" / "transforms").glob("*.py"):
        modules = _all_imports(path)
        assert {m.split(".")[0] for m in modules} <= {"pyspark", "__future__", "stedi"}, path
        assert {m for m in modules if m.startswith("stedi")} <= {
            "stedi.core.transforms",
            "stedi.context",
        }, path
    assert {m.split(".")[0] for m in _all_imports(PACKAGE / "context.py")} <= {"__future__", "enum"}


def test_every_folder_says_what_it_holds():
    for folder in [
        PACKAGE,
        *(p for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__"),
    ]:
        if not any(folder.glob("*.py")):
            continue  # data folders (spark_conf, templates)
        init = folder / "__init__.py"
        assert init.is_file(), f"{folder} has no __init__.py"
        docstring = ast.get_docstring(ast.parse(init.read_text()))
        assert docstring and docstring.strip(), (
            f"{init} has no docstring saying what the folder holds"
        )


@pytest.mark.parametrize(
    "path",
    MODULES + BENCHMARKS,
    ids=lambda p: _name(p) if p.is_relative_to(PACKAGE) else f"benchmarks/{p.name}",
)
def test_no_module_needs_more_than_about_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines (at most {MAX_LINES}): split it"
