"""`stedi package`: the code as one zip for AWS Glue's `%extra_py_files`.

The zip holds `stedi/` at its root: every module of the package and its package
data (the same globs as `[tool.setuptools.package-data]` in pyproject.toml), and
nothing else: no tests, no `__pycache__`, no compiled files. Its entries are
sorted and carry a fixed timestamp, so the same sources give the same bytes.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from stedi import config

# Where `stedi package` writes, and the file name Glue loads (the last part of
# config.GLUE_PACKAGE_KEY).
PACKAGE_ZIP = config.DIST_DIR / Path(config.GLUE_PACKAGE_KEY).name

# Package data shipped beside the modules; keep equal to pyproject.toml's package-data
# (tests/dev/test_package.py checks it).
PACKAGE_DATA = ("engine/spark_conf/*.properties", "run/templates/*")

# zip timestamps cannot predate 1980; one fixed instant makes the archive reproducible.
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def package_files(package_dir: Path = config.PACKAGE_DIR) -> list[Path]:
    """The files that go into the zip, relative to the package folder, sorted."""
    wanted = set(package_dir.rglob("*.py"))
    for pattern in PACKAGE_DATA:
        wanted.update(package_dir.glob(pattern))
    relative = (p.relative_to(package_dir) for p in wanted if p.is_file())
    # no caches, no hidden files (editor backups, .DS_Store ...)
    return sorted(
        r
        for r in relative
        if not any(part == "__pycache__" or part.startswith(".") for part in r.parts)
    )


def build(
    output: str | os.PathLike[str] = PACKAGE_ZIP, package_dir: Path = config.PACKAGE_DIR
) -> Path:
    """Write the zip (atomically: a temporary file renamed into place); returns its path."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    root = package_dir.name  # "stedi"
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for relative in package_files(package_dir):
                info = zipfile.ZipInfo(f"{root}/{relative.as_posix()}", date_time=_FIXED_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, (package_dir / relative).read_bytes())
        tmp.replace(output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return output
