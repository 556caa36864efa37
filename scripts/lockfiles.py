"""Writes the files derived from uv.lock, so that every way of installing gets the lock's versions.

- requirements.lock.txt: the lock exported with hashes (runtime + the extras `make setup`
  installs), for the pip fallback (`STEDI_INSTALLER=pip make setup`);
- build-constraints.txt: what builds pyspark's sdist and the project (pyproject's
  [tool.uv] build-constraint-dependencies), for pip's --build-constraint;
- environment.yml: conda's Python and Java, and the lock's exact versions through conda's pip;
- glue_env/glue-requirements.txt: what a stedi job adds to AWS Glue 5.0's preinstalled Python
  modules (`GLUE_ADDITIONS`: pyiceberg with its glue and pyarrow extras, and a pyarrow >= 18 over
  Glue's 17.0.0), at uv.lock's versions, resolved by uv against Glue's own pins (glue_env/uv.lock:
  its boto3, numpy, pandas, ... stay as Glue has them) and without what Glue already has at that
  version. `stedi aws deploy` uploads it and names it in each job's `--additional-python-modules`
  (stedi.aws.glue_modules); the tests' Glue harness installs it as Glue does.

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
GLUE_ENV = ROOT / "glue_env"
GLUE_REQUIREMENTS = "glue_env/glue-requirements.txt"
# What stedi needs on Glue 5.0 beyond its preinstalled modules (the project's lock gives the
# versions).
GLUE_ADDITIONS = ("pyiceberg[glue,pyarrow]", "pyarrow")
GLUE_OVERRIDDEN = (
    "pyarrow",
)  # Glue's own version is replaced (pyiceberg's pyarrow extra needs >= 18)

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
    command = [
        str(UV),
        "export",
        "--frozen",
        "--format",
        "requirements-txt",
        "--no-emit-project",
        "--no-header",
        *extras,
    ]
    if not hashes:
        command += ["--no-hashes", "--no-annotate"]
    return subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def requirements_lock() -> str:
    return (
        "# Generated from uv.lock by `make lock` (scripts/lockfiles.py): do not edit.\n"
        "# pip install --require-hashes -r requirements.lock.txt (scripts/setup.sh, "
        "STEDI_INSTALLER=pip)\n" + export(hashes=True)
    )


def build_constraints() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = pyproject["tool"]["uv"]["build-constraint-dependencies"]
    return (
        "# Generated from pyproject.toml's [tool.uv] build-constraint-dependencies by `make "
        "lock`.\n" + "".join(f"{pin}\n" for pin in pins)
    )


def environment_yml() -> str:
    pins = [line for line in export(hashes=False).splitlines() if line and not line.startswith("#")]
    extras = ",".join(SETUP_EXTRAS)
    return (
        ENVIRONMENT_HEADER
        + "".join(f'      - "{pin}"\n' for pin in pins)
        + f"      - -e .[{extras}]\n"
    )


def _locked(path: Path) -> dict[str, str]:
    """name -> version of every registry package of a uv.lock."""
    lock = tomllib.loads(path.read_text())
    return {p["name"]: p["version"] for p in lock["package"] if "registry" in p.get("source", {})}


def glue_requirements() -> str:
    """GLUE_ADDITIONS at uv.lock's versions, resolved with Glue 5.0's pins as constraints (but the
    overridden ones), minus what Glue 5.0 already has at the resolved version."""
    import tempfile

    project, glue = _locked(ROOT / "uv.lock"), _locked(GLUE_ENV / "uv.lock")
    wanted = [f"{spec}=={project[spec.split('[')[0]]}" for spec in GLUE_ADDITIONS]
    # Glue's pins first; the project's versions for everything else the resolution may pull in
    constraints = {**project, **{k: v for k, v in glue.items() if k not in GLUE_OVERRIDDEN}}
    with tempfile.TemporaryDirectory() as scratch:
        wanted_file, constraints_file = Path(scratch) / "in.txt", Path(scratch) / "constraints.txt"
        wanted_file.write_text("".join(f"{line}\n" for line in wanted))
        constraints_file.write_text(
            "".join(f"{name}=={version}\n" for name, version in sorted(constraints.items()))
        )
        command = [
            str(UV),
            "pip",
            "compile",
            str(wanted_file),
            "-c",
            str(constraints_file),
            "--python-version",
            "3.11",
            "--python-platform",
            "x86_64-manylinux_2_28",
            "--no-header",
            "--no-annotate",
            "--quiet",
        ]
        done = subprocess.run(
            [*command, "--offline"], check=False, capture_output=True, text=True
        )  # uv's cache first
        if done.returncode != 0:
            done = subprocess.run(command, check=True, capture_output=True, text=True)
    pins = [
        line.strip()
        for line in done.stdout.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    added = [
        pin for pin in pins if glue.get(pin.split("==")[0].split("[")[0]) != pin.split("==")[1]
    ]
    return (
        "# Generated from uv.lock and glue_env/uv.lock by `make lock` (scripts/lockfiles.py): do "
        "not edit.\n"
        "# What stedi's Glue jobs install over AWS Glue 5.0's own Python modules (`stedi aws "
        "deploy` uploads\n"
        "# it; --additional-python-modules s3://.../glue-requirements.txt "
        "--python-modules-installer-option -r).\n"
        f"# Asked for: {', '.join(wanted)}; Glue 5.0's pins kept except "
        f"{', '.join(GLUE_OVERRIDDEN)}.\n" + "".join(f"{pin}\n" for pin in added)
    )


FILES = {
    "requirements.lock.txt": requirements_lock,
    "build-constraints.txt": build_constraints,
    "environment.yml": environment_yml,
    GLUE_REQUIREMENTS: glue_requirements,
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
        print(
            f"lockfiles: {', '.join(stale)} not generated from uv.lock: run `make lock`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
