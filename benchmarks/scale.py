"""One scale of the benchmark: N x the real data generated (`stedi generate`), the pipeline on each
engine, a second run with nothing new, the references, and at N >= INCREMENTAL_SCALE the new-day
scenario (incremental.py); and the same pipeline runs on the real exports (data/raw).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from incremental import bench_incremental
from measure import PROJECT, STEDI, measured
from pipeline_runs import lake_fingerprints, pipeline_run, run_engines, succeeded
from references import STRICT_TABLES, differing, reference_run
from stedi.config import DEFAULT_ENGINE

INCREMENTAL_SCALE = 100  # the scale (and above) at which the incremental scenario runs


def generate(scale: float, raw: Path, seed: int, log: Path) -> dict:
    """`stedi generate --scale` into `raw`, measured: the run, the generator's summary, the raw
    bytes."""
    gen = measured(
        [*STEDI, "generate", "--scale", str(scale), "--out", str(raw), "--seed", str(seed)], log
    )
    if gen["returncode"] != 0:
        raise RuntimeError(f"stedi generate failed; see {log}")
    summary = json.loads((raw / "generation.json").read_text())
    return {
        **gen,
        "summary": summary,
        "raw_bytes": sum(p.stat().st_size for p in raw.rglob("*.json")),
    }


def nothing_new(raw: Path, base: Path, engine: str, label: str) -> dict:
    """`stedi run` again on the lake the previous run in `base` built, on the same raw files."""
    run = pipeline_run(raw, base, engine, fresh=False, log="nothing_new")
    print(
        f"{label}: nothing new, stedi run --engine {engine} again: {run['seconds']} s "
        f"({run['skipped']} steps skipped)",
        flush=True,
    )
    return run


def bench_scale(
    scale: float, work: Path, seed: int, keep: bool, engines: list[str], spark_sql: bool
) -> dict:
    base, label = work / f"N{scale:g}", f"N={scale:g}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    raw = base / "raw"
    print(f"{label}: generating ...", flush=True)
    gen = generate(scale, raw, seed, base / "generate.log")
    summary, raw_bytes = gen.pop("summary"), gen.pop("raw_bytes")
    print(
        f"{label}: {summary['customers']:,} customers, {raw_bytes / 1e6:,.0f} MB raw "
        f"({gen['seconds']} s)",
        flush=True,
    )
    runs, same = run_engines(raw, base, label, engines)
    again = None
    if DEFAULT_ENGINE in runs and succeeded(runs[DEFAULT_ENGINE]):
        again = nothing_new(raw, base / DEFAULT_ENGINE, DEFAULT_ENGINE, label)
    print(f"{label}: DuckDB reference ...", flush=True)
    reference = reference_run("duckdb_reference.py", raw, base / "duckdb")
    if reference["returncode"] != 0:
        raise RuntimeError(f"the DuckDB reference failed; see {base / 'duckdb.log'}")
    duck_rows = {name: reference["tables"][name]["rows"] for name in STRICT_TABLES}
    mismatches = {
        engine: differing(p["rows"], duck_rows) for engine, p in runs.items() if succeeded(p)
    }
    print(
        f"{label}: DuckDB {reference['seconds']} s; counts against DuckDB: "
        + "; ".join(f"{e} {'equal' if not m else 'DIFFER'}" for e, m in mismatches.items()),
        flush=True,
    )
    sql, sql_mismatches = {"skipped": True}, {}
    if spark_sql:
        print(f"{label}: Spark SQL reference ...", flush=True)
        sql = reference_run("spark_reference.py", raw, base / "spark_sql")
        if (
            sql["returncode"] != 0
        ):  # recorded, not raised: the pipeline's figures are still worth a report
            print(f"  the Spark SQL reference FAILED; see {base / 'spark_sql.log'}", flush=True)
        sql_rows = {name: t["rows"] for name, t in sql.get("tables", {}).items()}
        sql_mismatches = differing(sql_rows, duck_rows) if sql_rows else {}
        print(f"{label}: Spark SQL {sql['seconds']} s", flush=True)
    incremental = None
    if scale >= INCREMENTAL_SCALE and DEFAULT_ENGINE in engines:
        print(
            f"{label}: incremental run after a new day (~1% of the readings files) on "
            f"{DEFAULT_ENGINE} ...",
            flush=True,
        )
        incremental = bench_incremental(
            raw,
            base / "incremental",
            DEFAULT_ENGINE,
            lambda lakes: lake_fingerprints(lakes, base / "incremental.log"),
        )
        inc, full = incremental["incremental"], incremental["full"]
        print(
            f"{label}: incremental {inc['steps_seconds']} s in the zone steps ({inc['seconds']} s "
            "in all), "
            f"--full {full['steps_seconds']} s ({full['seconds']} s); same content: "
            f"{incremental['same_content']}",
            flush=True,
        )
    if not keep:
        for folder in (
            "raw",
            *(f"{engine}/lake" for engine in engines),
            "duckdb",
            "spark_sql",
            "incremental",
        ):
            shutil.rmtree(base / folder, ignore_errors=True)
    return {
        "scale": scale,
        "customers": summary["customers"],
        "raw_records": summary["customers"] + summary["accelerometer"] + summary["step_trainer"],
        "raw_bytes": raw_bytes,
        "generate": gen,
        "engines": runs,
        "nothing_new": again,
        "same_content": same,
        "duckdb": reference,
        "spark_sql": sql,
        "count_mismatches": mismatches,
        "spark_count_mismatches": sql_mismatches,
        "incremental": incremental,
    }


def bench_real(work: Path, engines: list[str]) -> dict:
    """`stedi run` on data/raw on each engine: {"engines", "same_content", "raw_bytes"}."""
    base, raw = work / "real", PROJECT / "data" / "raw"
    shutil.rmtree(base, ignore_errors=True)
    runs, same = run_engines(raw, base, "data/raw", engines)
    for engine in engines:
        shutil.rmtree(base / engine / "lake", ignore_errors=True)
    return {
        "engines": runs,
        "same_content": same,
        "raw_bytes": sum(p.stat().st_size for p in raw.rglob("*.json")),
    }
