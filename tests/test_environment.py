"""The set-up installs exactly uv.lock: the lock agrees with pyproject.toml, every installed
distribution the lock names has the lock's version, the files derived from the lock (pip's hashed
export, the build constraints, conda's environment.yml) are current, and a lock left behind by a
change to pyproject.toml stops `make setup` with one line."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from stedi import config

ROOT = config.PROJECT_ROOT
UV = ROOT / ".venv" / "bin" / "uv"


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def locked_versions() -> dict[str, str]:
    """name -> version of every package in uv.lock but the project itself."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {p["name"]: p["version"] for p in lock["package"] if p["name"] != "stedi"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _setup_extras() -> set[str]:
    found = re.search(r'^EXTRAS="([a-z,]+)"', (ROOT / "scripts" / "setup.sh").read_text(), re.M)
    assert found
    return set(found.group(1).split(","))


def test_the_lock_agrees_with_pyproject():
    out = subprocess.run(
        [str(UV), "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


def test_every_installed_distribution_the_lock_names_has_the_locks_version():
    locked = locked_versions()
    installed = {_normal(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    wrong = {
        name: (installed[name], version)
        for name, version in locked.items()
        if name in installed and installed[name] != version
    }
    assert not wrong, f"installed != locked: {wrong}"
    # and what setup installs is there: every runtime dependency and every setup extra's
    project = pyproject()["project"]
    wanted = [*project["dependencies"]] + [
        r for e in _setup_extras() for r in project["optional-dependencies"][e]
    ]
    names = {_normal(re.match(r"[A-Za-z0-9_.\-]+", r).group(0)) for r in wanted}
    assert names <= set(installed), names - set(installed)
    assert names <= set(locked)


def test_the_files_derived_from_the_lock_are_current():
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lockfiles.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr


def test_environment_yml_pins_the_locks_versions():
    text = (ROOT / "environment.yml").read_text()
    pins = dict(re.findall(r'^      - "([A-Za-z0-9_.\-]+)==([^ ;"]+)', text, re.M))
    locked = locked_versions()
    assert pins, "environment.yml pins nothing"
    assert {_normal(k): v for k, v in pins.items()} == {
        k: v for k, v in locked.items() if _normal(k) in {_normal(p) for p in pins}
    }
    for name in ("pyspark", "pysail", "pyiceberg", "pytest", "moto", "duckdb", "botocore"):
        assert name in pins, name
    assert "  - openjdk=17\n" in text and "  - python=3.11\n" in text
    assert (
        set(re.search(r"^      - -e \.\[(.+)\]$", text, re.M).group(1).split(","))
        == _setup_extras()
    )


def test_pip_fallback_installs_a_hashed_export_of_the_lock():
    text = (ROOT / "requirements.lock.txt").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.M))
    locked = locked_versions()
    assert pins and all(locked[_normal(k)] == v for k, v in pins.items())
    # every pin carries hashes: pip --require-hashes refuses the file otherwise
    assert text.count("--hash=sha256:") >= len(pins)
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert (
        "--require-hashes --build-constraint build-constraints.txt -r requirements.lock.txt"
        in setup
    )
    assert "--no-deps --build-constraint build-constraints.txt -e ." in setup


def test_what_builds_pyspark_is_pinned():
    pins = pyproject()["tool"]["uv"]["build-constraint-dependencies"]
    assert all("==" in pin for pin in pins) and any(pin.startswith("setuptools==") for pin in pins)


def _bare_project(tmp_path: Path) -> Path:
    """A copy of what `make setup` reads, with a .venv holding no package but the pinned uv."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copy(ROOT / "scripts" / "setup.sh", project / "scripts" / "setup.sh")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(project / ".venv")], check=True
    )
    (project / ".venv" / "bin" / "uv").symlink_to(UV)
    return project


def test_setup_stops_in_one_line_naming_make_lock_when_the_lock_is_stale(tmp_path):
    project = _bare_project(tmp_path)
    pyproject_file = project / "pyproject.toml"
    pyproject_file.write_text(
        pyproject_file.read_text().replace(
            '    "awswrangler>=3.9",\n', '    "awswrangler>=3.9",\n    "six>=1.16",\n'
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    out = subprocess.run(
        ["bash", "scripts/setup.sh"],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        "setup: uv.lock does not match pyproject.toml (a dependency changed without relocking): "
        "run `make lock`"
    ]
    site = next((project / ".venv" / "lib").glob("python3*/site-packages"))
    assert not list(site.glob("pyspark*")) and not list(site.glob("six*")), "nothing is installed"


def test_the_stamp_follows_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\$\(STAMP\): .*\buv\.lock\b", makefile, re.M)


def test_test_processes_skip_the_iri_grammar_as_stedis_own_processes_do():
    """pyproject.toml loads stedi.dev.early_imports before the entry-point plugins: nbval imported
    nbformat (and jsonschema) here without building rfc3987_syntax's grammar (1.1 s a process)."""
    import sys

    assert "jsonschema" in sys.modules and sys.modules["rfc3987_syntax"] is None
