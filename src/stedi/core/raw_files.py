"""Finding the exports of a source in the raw directory (a local folder or an s3:// prefix), which
is only ever read.

Outside the intake package, which loads PySpark: `stedi run` checks the raw directory and its
freshness with this module alone, before any engine (0.2 s less per run)."""

from __future__ import annotations

import os
from pathlib import Path

from stedi.core import storage
from stedi.core.tables import SOURCES

CSV_SUFFIXES = (".csv", ".csv.gz")
RAW_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz", *CSV_SUFFIXES)


def reported_path(path: str) -> str:
    """How the intake names a raw file in `source_file`: absolute for a local file, the URI for
    S3."""
    return path if storage.is_s3(path) else os.path.abspath(path)


class RawInputError(ValueError):
    """The raw directory cannot be used (missing, empty, a table without files)."""


def raw_files(raw_dir: str | Path, source: str) -> list[str]:
    """The export files of `source`: `<raw>/<source>/*.json` or `<raw>/<source>/landing/*.json`.

    `.jsonl`, CSV (`.csv`) and gzip-compressed `.json.gz` / `.jsonl.gz` / `.csv.gz` files
    count too, in any mix. Names
    starting with `.` or `_` are hidden files (Hadoop's convention, which Spark
    applies even to files named explicitly) and are not exports. `raw_dir` is a
    local folder or an `s3://bucket/prefix` URI (on AWS Glue).
    """
    base = f"{str(raw_dir).rstrip('/')}/{source}"
    if not storage.folder_exists(base):
        raise RawInputError(f"raw directory {raw_dir} has no folder {source}/")
    files = sorted(
        path
        for folder in (base, f"{base}/landing")
        for path in storage.list_files(folder)
        if _is_export(path.rsplit("/", 1)[-1])
    )
    if not files:
        raise RawInputError(f"raw directory {base} has no export files ({', '.join(RAW_SUFFIXES)})")
    return files


def _is_export(name: str) -> bool:
    return name.endswith(RAW_SUFFIXES) and not name.startswith((".", "_"))


def check_raw_dir(raw_dir: str | Path) -> dict[str, list[str]]:
    """Every source's files, or a RawInputError naming what is missing."""
    if not storage.folder_exists(str(raw_dir)):
        if not storage.is_s3(str(raw_dir)) and Path(raw_dir).exists():
            raise RawInputError(f"raw directory {raw_dir} is a file, not a folder of exports")
        raise RawInputError(f"raw directory {raw_dir} does not exist")
    return {source: raw_files(raw_dir, source) for source in SOURCES}
