"""Writes the files derived from uv.lock, so that every way of installing gets the lock's versions.

- requirements.lock.txt: the lock exported with hashes (runtime + the extras `make setup`
  installs), for the pip fallback (`STEDI_INSTALLER=pip make setup`);
- build-constraints.txt: what builds pyspark's sdist and the project (pyproject's
  [tool.uv] build-constraint-dependencies), for pip's --build-constraint;
- environment.yml: conda's Python and Java, and the lock's exact versions through conda's pip.

`make lock` and `make upgrade` run it after `uv lock`; `--check` exits 1 when a file is stale
(tests/test_environment.py runs it so).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UV = ROOT / ".venv" / "bin" / "uv"
SETUP_EXTRAS = ("test", "bench")  # scripts/setup.sh's EXTRAS

ENVIRONMENT_HEADER = """\
# For conda users: `conda env create -f environment.yml && conda activate stedi`.
# Generated from uv.lock by `make lock` (scripts/lockfiles.py): do not edit. conda gives
# Python 3.11 and the Java 17 that Spark 3.5 runs on; pip installs the lock's exact versions
# (those of `make setup`: the runtime dependencies and the test and bench extras), then the
# project. Not verified here: conda itself cannot be reached from this project's machines.
name: stedi
channels:
  - conda-forge
dependencies:
  - python=3.11
  - openjdk=17
  - pip
  - pip:
"""


def export(hashes: bool) -> str:
    """`uv export` of the lock for what setup installs, without the project itself."""
    extras = [arg for extra in SETUP_EXTRAS for arg in ("--extra", extra)]
    command = [str(UV), "export", "--frozen", "--format", "requirements-txt", "--no-emit-project",
               "--no-header", *extras]
    if not hashes:
        command += ["--no-hashes", "--no-annotate"]
    return subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def requirements_lock() -> str:
    return ("# Generated from uv.lock by `make lock` (scripts/lockfiles.py): do not edit.\n"
            "# pip install --require-hashes -r requirements.lock.txt (scripts/setup.sh, STEDI_INSTALLER=pip)\n"
            + export(hashes=True))


def build_constraints() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = pyproject["tool"]["uv"]["build-constraint-dependencies"]
    return ("# Generated from pyproject.toml's [tool.uv] build-constraint-dependencies by `make lock`.\n"
            + "".join(f"{pin}\n" for pin in pins))


def environment_yml() -> str:
    pins = [line for line in export(hashes=False).splitlines() if line and not line.startswith("#")]
    extras = ",".join(SETUP_EXTRAS)
    return (ENVIRONMENT_HEADER + "".join(f'      - "{pin}"\n' for pin in pins)
            + f"      - -e .[{extras}]\n")


FILES = {
    "requirements.lock.txt": requirements_lock,
    "build-constraints.txt": build_constraints,
    "environment.yml": environment_yml,
}


def main(argv: list[str]) -> int:
    stale = []
    for name, render in FILES.items():
        path = ROOT / name
        text = render()
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"lockfiles: {', '.join(stale)} not generated from uv.lock: run `make lock`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
