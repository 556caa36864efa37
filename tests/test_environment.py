"""pyproject.toml and environment.yml list the same packages with the same constraints."""

from __future__ import annotations

import re
import tomllib

from stedi import config

NOT_PACKAGES = {"python", "openjdk", "pip"}


def _name_and_spec(requirement: str) -> tuple[str, str]:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    assert match, requirement
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((config.PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    return dict(_name_and_spec(r) for r in project["dependencies"])


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


def test_conda_environment_has_java_17_and_python_311():
    text = (config.PROJECT_ROOT / "environment.yml").read_text()
    assert "  - openjdk=17\n" in text
    assert "  - python=3.11\n" in text


def test_a_missing_package_is_noticed(monkeypatch):
    # The comparison is not vacuous: dropping one package breaks the equality.
    reqs = pyproject_requirements()
    reqs.pop("pyspark")
    assert reqs != conda_requirements()
