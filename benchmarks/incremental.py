"""The incremental scenario of the scale benchmark: a lake built from all but the last ~1% of the
readings files, then that "new day" added and `stedi run` again (incremental), then `stedi run
--full` on the same raw folder; their times and whether the two lakes hold the same content.

Used by scale.py at N=100 on the default engine. The held-back files are the last ones by
name of each readings source (the generator names them in time order), at least one each.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from pipeline_runs import pipeline_run

HELD_SOURCES = ("accelerometer", "step_trainer")


def day_split(raw: Path, out: Path, share: float = 0.01) -> tuple[Path, Path, dict]:
    """`out`/raw: `raw` without its last `share` of readings files (hard links); `out`/day: those
    files."""
    shutil.rmtree(out, ignore_errors=True)
    first, day = out / "raw", out / "day"
    held = {}
    for source in sorted(p.name for p in raw.iterdir() if p.is_dir()):
        files = sorted(f for f in (raw / source).iterdir() if f.is_file())
        count = max(1, round(len(files) * share)) if source in HELD_SOURCES else 0
        (first / source).mkdir(parents=True)
        (day / source).mkdir(parents=True)
        for f in files[: len(files) - count]:
            os.link(f, first / source / f.name)
        for f in files[len(files) - count :]:
            os.link(f, day / source / f.name)
        held[source] = count
    return first, day, held


def add_day(raw: Path, day: Path) -> None:
    for folder in day.iterdir():
        for f in folder.iterdir():
            os.link(f, raw / folder.name / f.name)


def bench_incremental(raw: Path, base: Path, engine: str, fingerprints_of) -> dict:
    """The scenario on `raw` (see the module docstring); `fingerprints_of(lakes)`: lake -> table ->
    fingerprint (pipeline_runs.lake_fingerprints)."""
    first, day, held = day_split(raw, base / "data")
    records = sum(
        sum(1 for _ in f.open("rb")) for folder in day.iterdir() for f in folder.iterdir()
    )
    build = pipeline_run(first, base, engine)
    add_day(first, day)
    incremental = pipeline_run(first, base, engine, fresh=False, log="incremental")
    after_incremental = fingerprints_of([str(base / "lake")])[str(base / "lake")]
    full = pipeline_run(first, base, engine, extra=("--full",), fresh=False, log="full")
    after_full = fingerprints_of([str(base / "lake")])[str(base / "lake")]
    manifest = json.loads((base / "runs" / "latest" / "manifest.json").read_text())
    shutil.rmtree(base / "data", ignore_errors=True)
    return {
        "engine": engine,
        "held_files": held,
        "held_records": records,
        "build": build,
        "incremental": incremental,
        "full": full,
        "same_content": after_incremental == after_full,
        "differ": sorted(k for k in after_full if after_incremental.get(k) != after_full[k]),
        "rows": {name: t["rows"] for name, t in manifest.get("tables", {}).items()},
    }
