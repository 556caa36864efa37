"""`stedi package`: the zip Glue loads with %extra_py_files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile

from stedi import config
from stedi.cli import main
from stedi.dev.package import PACKAGE_DATA, build, package_files


def test_the_zip_holds_the_package_at_its_root_and_nothing_else(tmp_path):
    # A copy of the package with compiled files and a hidden file in it: none of them travel.
    source = tmp_path / "src" / "stedi"
    shutil.copytree(config.PACKAGE_DIR, source)
    (source / "__pycache__").mkdir(exist_ok=True)
    (source / "__pycache__" / "stray.cpython-311.pyc").write_bytes(b"")
    (source / "core" / "transforms" / "stray.pyc").write_bytes(b"")
    (source / ".editor-backup.py").write_text("")
    names = zipfile.ZipFile(build(tmp_path / "stedi.zip", package_dir=source)).namelist()
    modules = {
        f"stedi/{p.relative_to(config.PACKAGE_DIR).as_posix()}"
        for p in config.PACKAGE_DIR.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert {n for n in names if n.endswith(".py")} == modules
    assert (
        "stedi/core/transforms/__init__.py" in names
        and "stedi/engine/spark_conf/log4j2.properties" in names
    )
    assert all(n.startswith("stedi/") for n in names)
    assert not [
        n for n in names if "__pycache__" in n or n.endswith(".pyc") or "tests/" in n or "/." in n
    ]


def test_the_zip_imports_the_transforms_and_the_step_context(tmp_path):
    archive = build(tmp_path / "stedi.zip")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import stedi, stedi.core.transforms, stedi.run.step, stedi.core.tables\n"
        "assert stedi.__file__.startswith(sys.argv[1]), stedi.__file__\n"
        "assert stedi.run.step.__file__.startswith(sys.argv[1]), stedi.run.step.__file__\n"
        "print(len(stedi.core.tables.TABLES))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(archive)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "8"


def test_the_same_sources_give_the_same_zip(tmp_path):
    first = build(tmp_path / "a.zip").read_bytes()
    assert build(tmp_path / "b.zip").read_bytes() == first


def test_package_data_is_the_one_pyproject_declares():
    pyproject = tomllib.loads((config.PROJECT_ROOT / "pyproject.toml").read_text())
    assert tuple(pyproject["tool"]["setuptools"]["package-data"]["stedi"]) == PACKAGE_DATA
    assert any(p.suffix == ".properties" for p in package_files())


def test_stedi_package_writes_the_zip_and_says_where(tmp_path, capsys):
    target = tmp_path / "out" / "stedi.zip"
    assert main(["package", "--output", str(target)]) == 0
    assert zipfile.is_zipfile(target)
    assert f"stedi: wrote {target}" in capsys.readouterr().out
    assert not list(target.parent.glob(".*.tmp"))


def test_make_package_calls_stedi_package():
    makefile = (config.PROJECT_ROOT / "Makefile").read_text()
    assert "\npackage: setup ## " in makefile
    assert "\t$(VENV)/bin/stedi package\n" in makefile
