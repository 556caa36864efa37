"""pyproject.toml and environment.yml list the same packages with the same constraints: the
runtime dependencies and every extra, which environment.yml installs the project with."""

from __future__ import annotations

import re
import tomllib

from stedi import config

NOT_PACKAGES = {"python", "openjdk", "pip"}


def _name_and_spec(requirement: str) -> tuple[str, str]:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    assert match, requirement
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def pyproject_project() -> dict:
    return tomllib.loads((config.PROJECT_ROOT / "pyproject.toml").read_text())["project"]


def pyproject_requirements() -> dict[str, str]:
    """The runtime dependencies and those of every extra."""
    project = pyproject_project()
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return dict(_name_and_spec(r) for r in [*project["dependencies"], *extras])


def conda_editable_install() -> str:
    """The `-e` entry of environment.yml's pip: list."""
    found = re.findall(r"^      - -e (\S+)$", (config.PROJECT_ROOT / "environment.yml").read_text(), re.M)
    assert len(found) == 1, found
    return found[0]


def conda_requirements() -> dict[str, str]:
    """The conda entries and the pip: entries (for packages with extras) of environment.yml."""
    found = {}
    in_deps = False
    for line in (config.PROJECT_ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        item = re.match(r"^  - ([^:]+)$", line) or re.match(r"^      - ([^-#\s].*)$", line)
        if in_deps and item:
            name, spec = _name_and_spec(item.group(1))
            if name not in NOT_PACKAGES:
                found[name] = spec
    return found


def test_same_packages_and_constraints():
    assert conda_requirements() == pyproject_requirements()


def test_conda_installs_the_project_with_every_extra():
    target = re.fullmatch(r"\.\[([a-z,]+)\]", conda_editable_install())
    assert target, conda_editable_install()
    assert set(target.group(1).split(",")) == set(pyproject_project()["optional-dependencies"]) == {"test", "bench"}


def test_test_only_packages_are_not_runtime_dependencies():
    runtime = {_name_and_spec(r)[0] for r in pyproject_project()["dependencies"]}
    assert not runtime & {"pytest", "nbval", "hypothesis", "moto", "duckdb"}


def test_conda_environment_has_java_17_and_python_311():
    text = (config.PROJECT_ROOT / "environment.yml").read_text()
    assert "  - openjdk=17\n" in text
    assert "  - python=3.11\n" in text


def test_a_missing_package_is_noticed():
    # The comparison is not vacuous: dropping one package, runtime or extra, breaks the equality.
    for name in ("pyspark", "pytest"):
        reqs = pyproject_requirements()
        reqs.pop(name)
        assert reqs != conda_requirements(), name


def test_make_setup_installs_every_extra():
    extras = re.search(r'^EXTRAS="([a-z,]+)"', (config.PROJECT_ROOT / "scripts" / "setup.sh").read_text(), re.M)
    assert extras and set(extras.group(1).split(",")) == set(pyproject_project()["optional-dependencies"])
