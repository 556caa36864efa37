"""The pipeline's runs: `stedi run --engine E` measured, with its manifest's figures and its
notebooks' cell times; each engine in turn on the same files and their lakes' content compared;
a second run with nothing new; the lake's Iceberg files counted.

A failed run is recorded (status, the failing step and its error), not raised: the report shows it.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

from measure import PROJECT, PYTHON, STEDI, last_json, measured
from stedi.run.pipeline import ZONE_STEPS

# The tables each zone step writes: the DuckDB reference times the same tables.
DUCKDB_TABLES_OF_STEP = {step.name: step.writes for step in ZONE_STEPS}
# The lakes' fingerprints are computed by one engine reading both lakes: Sail takes 1 s at N=1,
# Spark 16 s (its JVM's start); both compute the same hashes.
FINGERPRINT_ENGINE = "sail"
FINGERPRINT_SCRIPT = """
import json, sys
sys.path.insert(0, "tests")
from lakes import fingerprints
from stedi.engine.session import local_session
spark = local_session(sys.argv[1])
print(json.dumps({lake: fingerprints(spark, lake) for lake in sys.argv[2:]}))
"""


def notebook_timing(path: Path, at: float | None) -> tuple[float, float | None, str | None]:
    """(seconds of all its code cells, seconds of the cell that starts the step, the first line of
    the cell running at time `at`) of an executed notebook, from papermill's cell metadata. Step
    00's starting cell imports the package and starts the engine's session (the JVM, or the Sail
    server) in the run's shared kernel."""
    cells = (
        [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        if path.is_file()
        else []
    )
    timing = [c["metadata"].get("papermill", {}) for c in cells]
    durations = [t.get("duration") or 0.0 for t in timing]
    start = next(
        (d for c, d in zip(cells, durations) if "stedi_step.start(" in "".join(c["source"])), None
    )
    running = next(
        (
            c
            for c, t in zip(cells, timing)
            if at
            and t.get("start_time")
            and t.get("end_time")
            and dt.datetime.fromisoformat(t["start_time"]).timestamp()
            <= at
            <= dt.datetime.fromisoformat(t["end_time"]).timestamp()
        ),
        None,
    )
    return round(sum(durations), 2), start, running and "".join(running["source"]).splitlines()[0]


def pipeline_run(
    raw: Path,
    base: Path,
    engine: str,
    extra: tuple[str, ...] = (),
    fresh: bool = True,
    log: str = "stedi_run",
) -> dict:
    """`stedi run --engine engine` (strict) on `raw` into `base`/lake and `base`/runs, measured,
    with its manifest's figures and its wall time in five parts that add up to it (named in
    time_split). A failed run is recorded (status, the failing step and its error), not raised."""
    if fresh:  # a new lake (and runs folder); else a run on the lake as the previous run left it
        for folder in ("lake", "runs"):
            shutil.rmtree(base / folder, ignore_errors=True)
    base.mkdir(parents=True, exist_ok=True)
    runs, log = base / "runs", base / f"{log}.log"
    run = measured(
        [
            *STEDI,
            "run",
            "--engine",
            engine,
            "--raw-dir",
            str(raw),
            "--lake-dir",
            str(base / "lake"),
            "--runs-dir",
            str(runs),
            *extra,
        ],
        log,
    )
    path = runs / "latest" / "manifest.json"
    manifest = (
        json.loads(path.read_text())
        if path.exists()
        else {"status": "failed", "steps": [], "tables": {}}
    )
    steps, peak_during = [], None
    for step in manifest["steps"]:
        cells, start, running = notebook_timing(runs / "latest" / step["notebook"], run["peak_at"])
        steps.append(
            {
                "name": step["name"],
                "seconds": step["seconds"],
                "status": step["status"],
                "cells_seconds": cells,
                "start_seconds": start,
            }
        )
        peak_during = f"{step['name']}: `{running}`" if running else peak_during
    peak_during = peak_during or "outside the cells (kernel, papermill, reports)"
    status = (
        "succeeded" if run["returncode"] == 0 and manifest["status"] == "succeeded" else "failed"
    )
    error = ""
    if status == "failed":
        failed = [s for s in manifest["steps"] if s["status"] != "succeeded"]
        error = (
            f"{failed[0]['name']}: {failed[0].get('error', '')}"
            if failed
            else (log.read_text().strip().splitlines() or ["?"])[-1]
        )
        print(f"  stedi run --engine {engine} FAILED: {error[:300]}", flush=True)

    def total(
        key: str, zone: bool
    ) -> float:  # the zone steps (what DuckDB also computes), or the analysis
        return round(sum(s[key] for s in steps if (s["name"] in DUCKDB_TABLES_OF_STEP) == zone), 2)

    in_steps = sum(s["seconds"] for s in steps)
    clock = manifest.get("seconds") or in_steps
    return {
        **run,
        "engine": engine,
        "status": status,
        "error": " ".join(error.split())[:400],
        "manifest_seconds": manifest.get("seconds"),
        "steps": steps,
        "steps_seconds": total("seconds", True),
        "analysis_seconds": total("seconds", False),
        "rest_seconds": round(run["seconds"] - in_steps, 2),
        "peak_during": peak_during,  # the step and cell running when the peak memory was sampled
        "session_start_seconds": next(
            (s["start_seconds"] for s in steps if s["name"] == "00_raw_to_landing"), None
        ),
        "split": {
            "zone_cells": total("cells_seconds", True),
            "analysis_cells": total("cells_seconds", False),
            "notebooks": round(in_steps - sum(s["cells_seconds"] for s in steps), 2),
            "kernel_reports": round(clock - in_steps, 2),
            "process": round(run["seconds"] - clock, 2),
        },
        "rows": {name: t["rows"] for name, t in manifest.get("tables", {}).items()},
        "skipped": sum(1 for s in manifest["steps"] if s.get("skipped")),
        "lake_files": lake_files(base / "lake"),
    }


def run_engines(raw: Path, base: Path, label: str, engines: list[str]) -> tuple[dict, dict | None]:
    """`stedi run` on each engine in turn on `raw`, then the content fingerprints of their lakes:
    (engine -> run, {"equal", "differ": [tables], "tables"}; None when a run failed or with one
    engine only)."""
    runs = {}
    for engine in engines:
        print(f"{label}: stedi run --engine {engine} ...", flush=True)
        runs[engine] = pipeline_run(raw, base / engine, engine)
        print(f"{label}: stedi run --engine {engine} {runs[engine]['seconds']} s", flush=True)
    if len(runs) < 2 or not all(map(succeeded, runs.values())):
        return runs, None
    lakes = [str(base / engine / "lake") for engine in engines]
    found = lake_fingerprints(lakes, base / "fingerprints.log")
    first, second = (found[lake] for lake in lakes)
    differ = sorted(
        name for name in set(first) | set(second) if first.get(name) != second.get(name)
    )
    print(
        f"{label}: the engines' lakes are "
        f"{'DIFFERENT: ' + ', '.join(differ) if differ else 'equal'}",
        flush=True,
    )
    return runs, {"equal": not differ, "differ": differ, "tables": len(first)}


def lake_fingerprints(lakes: list[str], log: Path) -> dict:
    """lake -> table -> (rows, content hash), computed by FINGERPRINT_ENGINE in a process of its
    own."""
    with log.open("w") as out:
        command = [PYTHON, "-c", FINGERPRINT_SCRIPT, FINGERPRINT_ENGINE, *lakes]
        if subprocess.run(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT, check=False
        ).returncode:
            raise RuntimeError(f"the lakes' fingerprints failed; see {log}")
    return last_json(log)


def succeeded(run: dict) -> bool:
    return run["status"] == "succeeded"


def lake_files(lake: Path) -> dict:
    """The files of an Iceberg lake by kind: count and bytes of the data files (Parquet), the table
    metadata (*.metadata.json), the manifests and manifest lists (Avro), and the SQLite catalog;
    what an incremental run's metadata growth shows in."""
    kinds = {
        "data": ".parquet",
        "metadata": ".metadata.json",
        "manifests": ".avro",
        "catalog": "catalog.db",
    }
    found = {kind: {"files": 0, "bytes": 0} for kind in kinds}
    for path in lake.rglob("*") if lake.is_dir() else ():
        kind = next((k for k, end in kinds.items() if path.name.endswith(end)), None)
        if kind and path.is_file():
            found[kind]["files"] += 1
            found[kind]["bytes"] += path.stat().st_size
    return found
