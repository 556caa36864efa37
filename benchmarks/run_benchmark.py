"""The scale benchmark: generate N x the real data, run the pipeline on both engines and the DuckDB and Spark SQL references, report.

    python benchmarks/run_benchmark.py [--scales 1 10 100] [--work /tmp/stedi-bench] [--no-real]

For each scale N, on the same files: `stedi generate --scale N` (timed); `stedi run --engine E`
(strict) for each engine in turn (spark, then sail) into its own WORK/N/E/lake and runs folder: the
command's wall time, the seconds of each step (run manifest) and of its notebook's cells (papermill),
the peak memory of its process tree; `benchmarks/duckdb_reference.py` (the same strict tables,
its row counts compared with each engine's); `benchmarks/spark_reference.py` (the same queries in
plain Spark SQL: what Spark alone needs for the same work); the content fingerprints of the two
engines' lakes (tests/lakes.py), compared. Unless --no-real, `stedi run` also runs on data/raw on
each engine (what `make run` does, into scratch folders).

Peak memory: the sum of the proportional set sizes (PSS, /proc/<pid>/smaps_rollup) of the command
and all its descendants (runner, Jupyter kernel, the Spark JVM or the Sail server inside the kernel,
Python workers), sampled every 0.2 s; the JVM's own peak RSS beside it.

Writes benchmarks/results.md, results.json and time_vs_scale.png; exits 1 when a run failed, when
counts differ from DuckDB's or when the engines' lakes differ. Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from incremental import bench_incremental

from stedi.config import DEFAULT_ENGINE, ENGINES
from stedi.run.pipeline import PIPELINE, ZONE_STEPS

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
PYTHON = sys.executable
STEDI = [PYTHON, "-m", "stedi.cli"]
GiB = 1024**3
INCREMENTAL_SCALE = 100  # the scale (and above) at which the incremental scenario runs
OTHER = next(e for e in ENGINES if e != DEFAULT_ENGINE)  # the engine the default one is compared with
# The tables each zone step writes: the DuckDB reference times the same tables.
DUCKDB_TABLES_OF_STEP = {step.name: step.writes for step in ZONE_STEPS}
STRICT_TABLES = (
    "customer_landing", "accelerometer_landing", "step_trainer_landing", "customer_trusted",
    "accelerometer_trusted", "customer_curated", "step_trainer_trusted", "machine_learning_curated",
)
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


# -- measuring a command --------------------------------------------------------------------------


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command name) of every process, from /proc."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read().decode("utf-8", "replace")
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), name)
    return table


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in bytes; PSS (shared pages divided among their sharers) from
    smaps_rollup, RSS when that cannot be read."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
                    break
    except OSError:
        try:
            with open(f"/proc/{pid}/statm") as handle:
                rss = pss = int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return rss, pss


def tree_memory(root: int) -> dict[int, tuple[str, int, int]]:
    """pid -> (name, RSS, PSS) of `root` and all its descendants."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found[pid] = (table[pid][1], *_memory(pid))
            todo.extend(children.get(pid, []))
    return found


class PeakMemory(threading.Thread):
    """Samples the process tree of `pid` every `interval` s: the peak of its summed PSS, and per
    process name the peak RSS.

    PSS, not RSS, is summed: a JVM that forks a helper (Hadoop runs `chmod` for local files)
    briefly has a child that shares all its pages; summed RSS would count them twice.
    """

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak, self.peak_at = 0, None  # peak_at: when (epoch seconds) the peak was sampled
        self.peak_by_name: dict[str, int] = {}
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            tree = tree_memory(self.pid)
            total = sum(pss for _, _, pss in tree.values())
            if total > self.peak:
                self.peak, self.peak_at = total, time.time()
            for name, rss, _ in tree.values():
                self.peak_by_name[name] = max(self.peak_by_name.get(name, 0), rss)
            self.samples += 1
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def measured(command: list[str], log: Path, env: dict | None = None) -> dict:
    """Run `command` (output to `log`); wall seconds, exit code and peak memory of its process tree."""
    started, load = time.monotonic(), load_average()[0]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT, env=env)
        sampler = PeakMemory(process.pid)
        sampler.start()
        code = process.wait()
        sampler.stop()
    return {
        "seconds": round(time.monotonic() - started, 2),
        "returncode": code,
        "peak_rss": sampler.peak,
        "peak_rss_by_name": dict(sorted(sampler.peak_by_name.items(), key=lambda kv: -kv[1])[:6]),
        "peak_at": sampler.peak_at,
        "samples": sampler.samples,
        "load": [load, load_average()[0]],  # the 1-minute load average when it started and ended
    }


# -- one scale ------------------------------------------------------------------------------------
# -- one scale ------------------------------------------------------------------------------------


def notebook_timing(path: Path, at: float | None) -> tuple[float, float | None, str | None]:
    """(seconds of all its code cells, seconds of the cell that starts the step, the first line of
    the cell running at time `at`) of an executed notebook, from papermill's cell metadata. Step
    00's starting cell imports the package and starts the engine's session (the JVM, or the Sail
    server) in the run's shared kernel."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"] if path.is_file() else []
    timing = [c["metadata"].get("papermill", {}) for c in cells]
    durations = [t.get("duration") or 0.0 for t in timing]
    start = next((d for c, d in zip(cells, durations) if "stedi_step.start(" in "".join(c["source"])), None)
    running = next((c for c, t in zip(cells, timing) if at and t.get("start_time") and t.get("end_time")
                    and dt.datetime.fromisoformat(t["start_time"]).timestamp() <= at
                    <= dt.datetime.fromisoformat(t["end_time"]).timestamp()), None)
    return round(sum(durations), 2), start, running and "".join(running["source"]).splitlines()[0]


def pipeline_run(raw: Path, base: Path, engine: str, extra: tuple[str, ...] = (), fresh: bool = True) -> dict:
    """`stedi run --engine engine` (strict) on `raw` into `base`/lake and `base`/runs, measured, with
    its manifest's figures and its wall time in five parts that add up to it (named in time_split).
    A failed run is recorded (status, the failing step and its error), not raised."""
    if fresh:
        for folder in ("lake", "runs"):
            shutil.rmtree(base / folder, ignore_errors=True)
    base.mkdir(parents=True, exist_ok=True)
    runs, log = base / "runs", base / "stedi_run.log"
    run = measured([*STEDI, "run", "--engine", engine, "--raw-dir", str(raw), "--lake-dir", str(base / "lake"),
                    "--runs-dir", str(runs), *extra], log)
    path = runs / "latest" / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {"status": "failed", "steps": [], "tables": {}}
    steps, peak_during = [], None
    for step in manifest["steps"]:
        cells, start, running = notebook_timing(runs / "latest" / step["notebook"], run["peak_at"])
        steps.append({"name": step["name"], "seconds": step["seconds"], "status": step["status"],
                      "cells_seconds": cells, "start_seconds": start})
        peak_during = f"{step['name']}: `{running}`" if running else peak_during
    peak_during = peak_during or "outside the cells (kernel, papermill, reports)"
    status = "succeeded" if run["returncode"] == 0 and manifest["status"] == "succeeded" else "failed"
    error = ""
    if status == "failed":
        failed = [s for s in manifest["steps"] if s["status"] != "succeeded"]
        error = f"{failed[0]['name']}: {failed[0].get('error', '')}" if failed else \
            (log.read_text().strip().splitlines() or ["?"])[-1]
        print(f"  stedi run --engine {engine} FAILED: {error[:300]}", flush=True)

    def total(key: str, zone: bool) -> float:  # the zone steps (what DuckDB also computes), or the analysis
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
        "session_start_seconds": next((s["start_seconds"] for s in steps if s["name"] == "00_raw_to_landing"), None),
        "split": {
            "zone_cells": total("cells_seconds", True),
            "analysis_cells": total("cells_seconds", False),
            "notebooks": round(in_steps - sum(s["cells_seconds"] for s in steps), 2),
            "kernel_reports": round(clock - in_steps, 2),
            "process": round(run["seconds"] - clock, 2),
        },
        "rows": {name: t["rows"] for name, t in manifest.get("tables", {}).items()},
    }


def run_engines(raw: Path, base: Path, label: str) -> tuple[dict, dict | None]:
    """`stedi run` on each engine in turn on `raw`, then the content fingerprints of their lakes:
    (engine -> run, {"equal", "differ": [tables], "tables"}; None when a run failed)."""
    runs = {}
    for engine in ENGINES:
        print(f"{label}: stedi run --engine {engine} ...", flush=True)
        runs[engine] = pipeline_run(raw, base / engine, engine)
        print(f"{label}: stedi run --engine {engine} {runs[engine]['seconds']} s", flush=True)
    if not all(map(_ok, runs.values())):
        return runs, None
    lakes = [str(base / engine / "lake") for engine in ENGINES]
    found = lake_fingerprints(lakes, base / "fingerprints.log")
    first, second = (found[lake] for lake in lakes)
    differ = sorted(name for name in set(first) | set(second) if first.get(name) != second.get(name))
    print(f"{label}: the engines' lakes are {'DIFFERENT: ' + ', '.join(differ) if differ else 'equal'}", flush=True)
    return runs, {"equal": not differ, "differ": differ, "tables": len(first)}


def lake_fingerprints(lakes: list[str], log: Path) -> dict:
    """lake -> table -> (rows, content hash), computed by FINGERPRINT_ENGINE in a process of its own."""
    with log.open("w") as out:
        command = [PYTHON, "-c", FINGERPRINT_SCRIPT, FINGERPRINT_ENGINE, *lakes]
        if subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT, check=False).returncode:
            raise RuntimeError(f"the lakes' fingerprints failed; see {log}")
    return _last_json(log)


def bench_scale(scale: float, work: Path, seed: int, keep: bool) -> dict:
    base, label = work / f"N{scale:g}", f"N={scale:g}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    raw = base / "raw"
    print(f"{label}: generating ...", flush=True)
    gen = measured([*STEDI, "generate", "--scale", str(scale), "--out", str(raw), "--seed", str(seed)],
                   base / "generate.log")
    if gen["returncode"] != 0:
        raise RuntimeError(f"stedi generate failed; see {base / 'generate.log'}")
    summary = json.loads((raw / "generation.json").read_text())
    raw_bytes = sum(p.stat().st_size for p in raw.rglob("*.json"))
    print(f"{label}: {summary['customers']:,} customers, {raw_bytes / 1e6:,.0f} MB raw ({gen['seconds']} s)", flush=True)
    engines, same = run_engines(raw, base, label)
    print(f"{label}: DuckDB reference ...", flush=True)
    reference = reference_run("duckdb_reference.py", raw, base / "duckdb")
    if reference["returncode"] != 0:
        raise RuntimeError(f"the DuckDB reference failed; see {base / 'duckdb.log'}")
    duck_rows = {name: reference["tables"][name]["rows"] for name in STRICT_TABLES}
    mismatches = {engine: _differing(p["rows"], duck_rows) for engine, p in engines.items() if _ok(p)}
    print(f"{label}: DuckDB {reference['seconds']} s; Spark SQL reference ...", flush=True)
    spark_sql = reference_run("spark_reference.py", raw, base / "spark_sql")
    if spark_sql["returncode"] != 0:  # recorded, not raised: the pipeline's figures are still worth a report
        print(f"  the Spark SQL reference FAILED; see {base / 'spark_sql.log'}", flush=True)
    spark_rows = {name: t["rows"] for name, t in spark_sql.get("tables", {}).items()}
    spark_mismatches = _differing(spark_rows, duck_rows) if spark_rows else {}
    verdicts = "; ".join(f"{e} {_counts(mismatches.get(e))}" for e in engines)
    print(f"{label}: Spark SQL {spark_sql['seconds']} s; counts against DuckDB: {verdicts}", flush=True)
    incremental = None
    if scale >= INCREMENTAL_SCALE:
        print(f"{label}: incremental run after a new day (~1% of the readings files) on {DEFAULT_ENGINE} ...", flush=True)
        incremental = bench_incremental(raw, base / "incremental", DEFAULT_ENGINE, pipeline_run,
                                        lambda lakes: lake_fingerprints(lakes, base / "incremental.log"))
        inc, full = incremental["incremental"], incremental["full"]
        print(f"{label}: incremental {inc['steps_seconds']} s in the zone steps ({inc['seconds']} s in all), "
              f"--full {full['steps_seconds']} s ({full['seconds']} s); same content: {incremental['same_content']}",
              flush=True)
    if not keep:
        for folder in ("raw", *(f"{engine}/lake" for engine in ENGINES), "duckdb", "spark_sql", "incremental"):
            shutil.rmtree(base / folder, ignore_errors=True)
    return {
        "scale": scale,
        "customers": summary["customers"],
        "raw_records": summary["customers"] + summary["accelerometer"] + summary["step_trainer"],
        "raw_bytes": raw_bytes,
        "generate": gen,
        "engines": engines,
        "same_content": same,
        "duckdb": reference,
        "spark_sql": spark_sql,
        "count_mismatches": mismatches,
        "spark_count_mismatches": spark_mismatches,
        "incremental": incremental,
    }


def _differing(rows: dict, duckdb: dict) -> dict:
    """table -> {"rows", "duckdb"} of the strict tables whose counts in `rows` are not DuckDB's."""
    return {name: {"rows": rows.get(name), "duckdb": duckdb[name]} for name in STRICT_TABLES if rows.get(name) != duckdb[name]}


def reference_run(script: str, raw: Path, out: Path) -> dict:
    """`benchmarks/<script>` on `raw`, measured, with the JSON it printed (its own seconds) when it succeeded."""
    log = out.with_name(f"{out.name}.log")
    result = measured([PYTHON, str(HERE / script), "--raw-dir", str(raw), "--out", str(out), "--json"], log)
    if result["returncode"] == 0:
        result.update(_last_json(log))
    return result


def _last_json(log: Path) -> dict:
    """The JSON object a command printed last (its log also holds anything it wrote to stderr)."""
    return json.loads(next(line for line in reversed(log.read_text().splitlines()) if line.startswith("{")))


def bench_real(work: Path) -> dict:
    """`stedi run` on data/raw on each engine: {"engines", "same_content", "raw_bytes"}."""
    base = work / "real"
    shutil.rmtree(base, ignore_errors=True)
    engines, same = run_engines(PROJECT / "data" / "raw", base, "data/raw")
    for engine in ENGINES:
        shutil.rmtree(base / engine / "lake", ignore_errors=True)
    raw_bytes = sum(p.stat().st_size for p in (PROJECT / "data" / "raw").rglob("*.json"))
    return {"engines": engines, "same_content": same, "raw_bytes": raw_bytes}


# -- the machine ----------------------------------------------------------------------------------


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) * 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    versions = {}
    for module in ("pyspark", "pysail", "duckdb", "numpy"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = "?"
    java = subprocess.run(["java", "-version"], capture_output=True, text=True)
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=PROJECT)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, cwd=PROJECT
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "java": (java.stderr.splitlines() or ["?"])[0] if java.returncode == 0 else "?",
        "versions": versions,
        "spark_driver_memory": os.environ.get("STEDI_DRIVER_MEMORY", "2g"),
        "spark_shuffle_partitions": os.environ.get("STEDI_SHUFFLE_PARTITIONS", "2"),
        "commit": git.stdout.strip() or "?",
        "modified": [line[3:] for line in dirty.stdout.splitlines()],
    }


def load_average() -> tuple[float, float, float]:
    return tuple(float(x) for x in open("/proc/loadavg").read().split()[:3])


# -- the report -----------------------------------------------------------------------------------


def _gib(n: int) -> str:
    return f"{n / GiB:.2f} GiB"


def _ok(r: dict) -> bool:
    return r["status"] == "succeeded"


def _spark(r: dict) -> dict | None:
    """The scale's Spark SQL reference when it succeeded."""
    return r["spark_sql"] if "tables" in r["spark_sql"] else None


def _counts(mismatches: dict | None) -> str:
    """Whether counts equal DuckDB's, from their mismatches (_differing); None: the run failed."""
    if mismatches is None:
        return "run failed"
    return "differ: " + ", ".join(f"{k} {v['rows']} vs {v['duckdb']}" for k, v in mismatches.items()) \
        if mismatches else "equal"


def _same(same: dict | None) -> str:
    if same is None:
        return "not compared (a run failed)"
    return f"equal ({same['tables']} tables)" if same["equal"] else "differ: " + ", ".join(same["differ"])


def _places(results: list[dict], real: dict | None) -> list[tuple[str, dict]]:
    """(N or data/raw, engine -> run) of every scale, then data/raw."""
    return [(f"N={r['scale']:g}", r["engines"]) for r in results] + ([("data/raw", real["engines"])] if real else [])


def _run_cell(p: dict) -> str:
    return f"{p['seconds']:.1f}" if _ok(p) else f"failed after {p['seconds']:.0f}"


def targets(results: list[dict], real: dict | None) -> list[tuple[str, bool, str]]:
    by_scale = {r["scale"]: r for r in results}
    out = []
    ones = [(where, runs) for where, runs in _places(results, real) if where in ("N=1", "data/raw")]
    if ones:
        ok, details = True, []
        for where, runs in ones:
            mine, other = runs[DEFAULT_ENGINE], runs[OTHER]
            if not (_ok(mine) and _ok(other)):
                ok, details = False, details + [f"{where}: a run failed"]
                continue
            ratio = mine["seconds"] / other["seconds"]
            ok &= ratio <= 1 / 3
            details.append(f"{where}: {mine['seconds']:.1f} s / {other['seconds']:.1f} s = {ratio:.2f}")
        out.append((f"`stedi run` at N=1: {DEFAULT_ENGINE} (the default) <= 1/3 of {OTHER}", ok, "; ".join(details)))
    if 100.0 in by_scale:
        r = by_scale[100.0]
        d, spark, mine = r["duckdb"]["seconds"], _spark(r), r["engines"][DEFAULT_ENGINE]
        ratios = {e: p["steps_seconds"] / d for e, p in r["engines"].items() if _ok(p)}
        detail = f"{DEFAULT_ENGINE}: {mine['steps_seconds']:.1f} s (sum of the zone steps) / {d:.1f} s = " \
                 f"{ratios[DEFAULT_ENGINE]:.1f}x" if _ok(mine) else \
                 f"{DEFAULT_ENGINE}: the run failed after {mine['seconds']:.0f} s: {mine['error'][:160]}"
        detail += f"; {OTHER}: {ratios[OTHER]:.1f}x" if OTHER in ratios else ""
        detail += f"; Spark SQL alone: {spark['seconds']:.1f} s = {spark['seconds'] / d:.1f}x" if spark else ""
        out.append((f"N=100: zone steps on {DEFAULT_ENGINE} within 5x the DuckDB reference",
                    ratios.get(DEFAULT_ENGINE, math.inf) <= 5, detail))
    peaks = {}
    for where, runs in _places(results, real):
        for engine, p in runs.items():
            peaks[engine] = max(peaks.get(engine, (0, "")), (p["peak_rss"], where))
    if peaks:
        out.append(("peak memory < 4 GiB on both engines", all(peak < 4 * GiB for peak, _ in peaks.values()),
                    "highest: " + "; ".join(f"{e} {_gib(peak)} ({w})" for e, (peak, w) in peaks.items())))
    inc = (by_scale.get(100.0) or {}).get("incremental")
    if inc:
        runs = [inc[k] for k in ("incremental", "full")]
        if all(map(_ok, runs)):
            zone, whole = (runs[0][k] / runs[1][k] for k in ("steps_seconds", "seconds"))
            detail = (f"zone steps {runs[0]['steps_seconds']:.1f} s / {runs[1]['steps_seconds']:.1f} s = {zone:.2f}; "
                      f"whole `stedi run` (with the analysis) {runs[0]['seconds']:.1f} s / {runs[1]['seconds']:.1f} s = "
                      f"{whole:.2f}; {sum(inc['held_files'].values())} new files, {inc['held_records']:,} records; "
                      f"content {'identical' if inc['same_content'] else 'DIFFERENT: ' + ', '.join(inc['differ'])}")
            ok = zone <= 0.25 and inc["same_content"]
        else:
            ok, detail = False, "a run failed"
        out.append(("N=100: a run after a new day (~1% of the data) <= 1/4 of a full rebuild, same lake", ok, detail))
    if 10.0 in by_scale and 100.0 in by_scale:
        ok, details = True, []
        for engine in ENGINES:
            p10, p100 = by_scale[10.0]["engines"][engine], by_scale[100.0]["engines"][engine]
            if not (_ok(p10) and _ok(p100)):
                ok, details = False, details + [f"{engine}: a run failed"]
                continue
            t10, t100 = p10["seconds"], p100["seconds"]
            ok &= t100 <= 10 * t10
            details.append(f"{engine}: `stedi run` {t10:.1f} s -> {t100:.1f} s = x{t100 / t10:.1f} (exponent "
                           f"{math.log10(t100 / t10):.2f}), zone steps x{p100['steps_seconds'] / p10['steps_seconds']:.1f}")
        out.append(("N=10 -> N=100 grows no worse than linearly on both engines", ok, "; ".join(details)))
    return out


def write_report(
    path: Path, results: list[dict], real: dict | None, info: dict, loads: dict, plot: Path | None, when: str = ""
) -> None:
    when = when or f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M}"
    modified = f" plus uncommitted changes to {', '.join(info['modified'])}" if info["modified"] else ""
    lines = [
        "# STEDI scale benchmark",
        "",
        "Generated by `make bench` (`benchmarks/run_benchmark.py`): synthetic exports of N times the real data",
        f"(`stedi generate`); the pipeline (`stedi run`, strict) on each local engine in turn ({', then '.join(ENGINES)};",
        f"the default: {DEFAULT_ENGINE}), on the same files, into separate lakes; the DuckDB reference",
        "(`benchmarks/duckdb_reference.py`, the same strict tables from the same raw files) and the Spark SQL",
        "reference (`benchmarks/spark_reference.py`, the same queries run by Spark).",
        "",
        f"Run on {when} UTC, code at commit {info['commit']}{modified}.",
        "Where the time goes inside the steps, and what would make them faster: [profile.md](profile.md).",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_bytes'] / GiB:.1f} GiB memory, "
        f"Linux {info['kernel']}; Python {info['python']}; PySpark {info['versions']['pyspark']} (local[2], "
        f"driver memory {info['spark_driver_memory']}, {info['spark_shuffle_partitions']} shuffle partitions), "
        f"{info['java']}; Sail {info['versions'].get('pysail', '?')} (`pysail`, through Spark Connect, in the "
        f"kernel's process); DuckDB {info['versions']['duckdb']} (2 threads).",
        f"Load average (1 min) when the benchmark started: {loads['start'][0]:.1f}, when it ended: "
        f"{loads['end'][0]:.1f}. The machine is shared: other work running at the same time slows every figure.",
        "",
        "## Targets",
        "",
        "| target | verdict | measured |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {'**met**' if ok else '**not met**'} | {detail} |" for name, ok, detail in targets(results, real)]
    lines += end_to_end(results, real) + time_split(results, real) + references(results, real) + per_step(results)
    if plot is not None:
        lines += ["", f"![time against N]({plot.name})"]
    lines += [
        "",
        "## Row counts (strict)",
        "",
        "| table | " + " | ".join(f"N={r['scale']:g} DuckDB | " + " | ".join(ENGINES) for r in results) + " |",
        "|---|" + "---:|" * (len(results) * (1 + len(ENGINES))),
    ]
    for name in STRICT_TABLES:
        cells = []
        for r in results:
            cells.append(f"{r['duckdb']['tables'][name]['rows']:,}")
            cells += [f"{r['engines'][e]['rows'][name]:,}" if name in r["engines"][e]["rows"] else "-" for e in ENGINES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n")


def end_to_end(results: list[dict], real: dict | None) -> list[str]:
    """Per N and engine: the wall time, the manifest's split of it, memory, and the ratios to the references."""
    lines = [
        "",
        "## End to end",
        "",
        "| N | engine | `stedi run` s | zone steps s | analysis s | rest s | raw records/s | peak memory (tree) "
        "| JVM peak | zone steps / DuckDB | zone steps / Spark SQL | counts against DuckDB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    by_place = {f"N={r['scale']:g}": r for r in results}
    for where, runs in _places(results, real):
        r = by_place.get(where)
        for engine, p in runs.items():
            jvm = _gib(p["peak_rss_by_name"].get("java", 0)) if engine == "spark" else "n/a"
            cells, counts = ["", "", ""], ""
            if r is not None:
                counts, spark = _counts(r["count_mismatches"].get(engine)), _spark(r)
                if _ok(p):
                    cells = [f"{r['raw_records'] / p['steps_seconds']:,.0f}",
                             f"{p['steps_seconds'] / r['duckdb']['seconds']:.0f}x",
                             f"{p['steps_seconds'] / spark['seconds']:.1f}x" if spark else ""]
            lines.append(
                f"| {where.removeprefix('N=')} | {engine} | {_run_cell(p)} | {p['steps_seconds']:.1f} | "
                f"{p['analysis_seconds']:.1f} | {p['rest_seconds']:.1f} | {cells[0]} | {_gib(p['peak_rss'])} | {jvm} | "
                f"{cells[1]} | {cells[2]} | {counts} |"
            )
    for where, runs in _places(results, real):
        lines += [f"\n**`stedi run --engine {e}` failed at {where}** after {p['seconds']:.0f} s: `{p['error']}`"
                  for e, p in runs.items() if not _ok(p)]
    lines += [
        "",
        "`stedi run` s: wall time of the command. zone steps s: the sum of the manifest's `steps[].seconds` of",
        "the six zone notebooks (each notebook's execution: its engine work, quality checks and writes; step 00",
        "also starts the engine's session), compared with DuckDB's total. analysis s: the other step (the",
        "balance analysis notebook). rest s: the wall time outside every notebook (next section). raw",
        "records/s: raw records / zone steps s. Peak memory: the summed PSS (proportional set size) of `stedi",
        "run` and all its descendants (runner, kernel with the Sail server in it, the Spark JVM, Python",
        "workers), sampled from /proc every 0.2 s (a sample taken while the JVM forks a helper can count part",
        "of its pages twice); JVM peak: the Spark JVM's own peak RSS (n/a on Sail: no JVM). zone steps /",
        "Spark SQL: the factor the pipeline's own work (checks, intake accounting, quarantine, notebooks) adds",
        "to plain Spark SQL doing the same queries.",
        "",
        f"{DEFAULT_ENGINE} / {OTHER}, the same figures divided:",
        "",
        "| N | `stedi run` | zone steps | analysis | rest | peak memory |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    keys = ("seconds", "steps_seconds", "analysis_seconds", "rest_seconds", "peak_rss")
    for where, runs in _places(results, real):
        mine, other = runs[DEFAULT_ENGINE], runs[OTHER]
        if _ok(mine) and _ok(other):
            lines.append(f"| {where.removeprefix('N=')} | " + " | ".join(f"{mine[k] / other[k]:.2f}" for k in keys) + " |")
    return lines


def time_split(results: list[dict], real: dict | None) -> list[str]:
    """Each run's wall time in five named parts."""
    lines = [
        "",
        "## Where the wall time goes: engine work, notebook overhead, and the rest",
        "",
        "Five parts that add up to `stedi run` s. cells: the notebooks' code cells (papermill's cell",
        "durations: the engine's work and the Python around it); session start: of which step 00's cell that",
        "imports the package and starts the engine's session (the JVM, or the Sail server). notebook",
        "overhead: the steps' manifest seconds minus their cells: papermill per notebook (reading it, the",
        "parameters, sending each cell, writing the executed notebook), the shared kernel's reset, reading the",
        "step's record. kernel and reports: the run's clock (manifest `seconds`) minus its steps: starting and",
        "stopping the shared kernel, waiting for the HTML exports (made on a thread while the next step",
        "runs), the manifest and the index. process: the rest of the wall time: the interpreter's start and",
        "imports, the run lock and folder, the final counts. rest s above = kernel and reports + process.",
        "load: the 1-minute load average when the run started and ended (2 cores: above 2, other work",
        "competed for them). peak memory during: the step and cell running when the peak was sampled.",
        "",
        "| N | engine | `stedi run` s | zone steps: cells | of which session start | analysis: cells "
        "| notebook overhead | kernel and reports | process | load | peak memory during |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for where, runs in _places(results, real):
        for engine, p in runs.items():
            s, start = p["split"], p["session_start_seconds"]
            lines.append(
                f"| {where.removeprefix('N=')} | {engine} | {_run_cell(p)} | {s['zone_cells']:.1f} | "
                f"{'' if start is None else f'{start:.1f}'} | {s['analysis_cells']:.1f} | {s['notebooks']:.1f} | "
                f"{s['kernel_reports']:.1f} | {s['process']:.1f} | {' -> '.join(f'{x:.1f}' for x in p['load'])} | "
                f"{p['peak_during'] or ''} |"
            )
    return lines


def references(results: list[dict], real: dict | None) -> list[str]:
    """Per N: the data, the references, and whether the engines' lakes hold the same rows."""
    lines = [
        "",
        "## The data, the references, and the engines' lakes",
        "",
        "| N | customers | raw records | raw MB | generate s | DuckDB s | DuckDB peak | Spark SQL s "
        "| Spark SQL / DuckDB | Spark SQL counts | the engines' lakes |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        d, spark = r["duckdb"], _spark(r)
        sql = ["failed", "", ""] if spark is None else [
            f"{spark['seconds']:.2f}", f"{spark['seconds'] / d['seconds']:.0f}x", _counts(r["spark_count_mismatches"])]
        lines.append(
            f"| {r['scale']:g} | {r['customers']:,} | {r['raw_records']:,} | {r['raw_bytes'] / 1e6:,.0f} | "
            f"{r['generate']['seconds']:.1f} | {d['seconds']:.2f} | {_gib(d['peak_rss'])} | " + " | ".join(sql)
            + f" | {_same(r['same_content'])} |"
        )
    if real is not None:
        lines.append(f"| data/raw | 956 | | {real['raw_bytes'] / 1e6:,.0f} | | | | | | | {_same(real['same_content'])} |")
    starts = sorted(s["startup_seconds"] for s in map(_spark, results) if s is not None)
    lines += [
        "",
        "DuckDB peak: the reference process's peak memory, measured as the pipeline's. Spark SQL s: the DuckDB",
        "reference's queries run by PySpark in a session built like the pipeline's Spark one (local[2], the",
        "same driver memory, shuffle partitions and JVM flags), without checks, intake accounting and",
        "quarantine: a floor for any Spark pipeline on this machine. Its tables' time only: the session's",
        f"start-up ({starts[0] if starts else 0:.1f} to {starts[-1] if starts else 0:.1f} s) is left out, as DuckDB's "
        "process start is.",
        "The engines' lakes: every table's content fingerprint (row count and an order-independent hash of its",
        f"rows, `tests/lakes.py`), computed by {FINGERPRINT_ENGINE} reading both lakes, compared.",
    ]
    return lines


def per_step(results: list[dict]) -> list[str]:
    """Per step: each engine's manifest seconds at every N; the references' same tables at the largest N."""
    if not results:
        return []
    last = results[-1]
    at = f"N={last['scale']:g}"
    lines = [
        "",
        "## Per step",
        "",
        f"Seconds from the runs' manifests; DuckDB, Spark SQL: the seconds of the same tables in the references at {at}.",
        "",
        "| step | " + " | ".join(f"N={r['scale']:g} {e}" for r in results for e in ENGINES)
        + f" | DuckDB {at} | Spark SQL {at} |",
        "|---|" + "---:|" * (len(results) * len(ENGINES) + 2),
    ]
    for name in (step.name for step in PIPELINE):
        cells = []
        for r, engine in ((r, e) for r in results for e in ENGINES):
            step = next((s for s in r["engines"][engine]["steps"] if s["name"] == name), None)
            cells.append("" if step is None else f"{step['seconds']:.1f}" if step["status"] == "succeeded"
                         else f"failed after {step['seconds']:.0f}")
        tables = DUCKDB_TABLES_OF_STEP.get(name, ())
        duck = f"{sum(last['duckdb']['tables'][t]['seconds'] for t in tables):.2f}" if tables else ""
        sql = f"{sum(last['spark_sql']['tables'][t]['seconds'] for t in tables):.2f}" if tables and _spark(last) else ""
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {duck} | {sql} |")
    return lines


def write_plot(path: Path, results: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = [r["scale"] for r in results]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    sparks = [(r["scale"], _spark(r)["seconds"]) for r in results if _spark(r)]
    for engine, color in zip(ENGINES, ("tab:orange", "tab:blue")):
        ok = [r for r in results if _ok(r["engines"][engine])]
        xs = [r["scale"] for r in ok]
        if ok:
            ax.plot(xs, [r["engines"][engine]["seconds"] for r in ok], marker="o", color=color,
                    label=f"stedi run, {engine}")
            ax.plot(xs, [r["engines"][engine]["steps_seconds"] for r in ok], marker="o", ls="--", color=color,
                    label=f"zone steps, {engine}")
            anchor = next((r for r in ok if r["scale"] == 10.0), ok[0])  # the growth target's base when there
            x0, t0 = anchor["scale"], anchor["engines"][engine]["seconds"]
            ax.plot(scales, [t0 * s / x0 for s in scales], ls=":", color=color, lw=0.8)
        for r in results:
            if not _ok(r["engines"][engine]):
                ax.plot([r["scale"]], [r["engines"][engine]["seconds"]], marker="x", color="red", ls="none", ms=10)
                ax.annotate(f"{engine} failed", (r["scale"], r["engines"][engine]["seconds"]), fontsize=8, color="red")
    ax.plot(scales, [r["duckdb"]["seconds"] for r in results], marker="s", ls="-.", color="tab:green",
            label="DuckDB reference")
    if sparks:
        ax.plot(*zip(*sparks), marker="s", ls="-.", color="tab:brown", label="Spark SQL reference")
    ax.plot([], [], ls=":", color="grey", lw=0.8, label="stedi run growing linearly from N=10")
    ax.set(xscale="log", yscale="log", xlabel="scale N (x the real data: 956 N customers)", ylabel="seconds",
           title="STEDI pipeline time against data size, both engines (2 cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def passed(results: list[dict], real: dict | None) -> bool:
    """Every run succeeded, every engine's and Spark SQL's counts equal DuckDB's, the engines' lakes are equal."""
    runs_ok = all(_ok(p) for _, runs in _places(results, real) for p in runs.values())
    counts_ok = all(_spark(r) and not any(r["count_mismatches"].values()) and not r["spark_count_mismatches"]
                    for r in results)
    same = [r["same_content"] for r in results] + ([real["same_content"]] if real else [])
    incremental_ok = all((r.get("incremental") or {}).get("same_content", True) for r in results)
    return runs_ok and counts_ok and incremental_ok and all(s is not None and s["equal"] for s in same)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10, 100], help="N values (default: 1 10 100)")
    parser.add_argument("--work", default="/tmp/stedi-bench", help="scratch folder for data, lakes and runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-real", action="store_true", help="skip the `stedi run`s on data/raw")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and lakes")
    parser.add_argument("--results", default=str(HERE / "results.md"), help="the report (results.json and the plot beside)")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report and plot from results.json")
    args = parser.parse_args(argv)
    report = Path(args.results)
    plot = report.with_name("time_vs_scale.png")
    if args.report_only:
        record = json.loads(report.with_suffix(".json").read_text())
        write_plot(plot, record["scales"])
        write_report(report, record["scales"], record["real"], record["machine"], record["load_average"], plot,
                     record.get("finished", ""))
        return 0
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    loads = {"start": load_average()}
    info = machine()
    real = None if args.no_real else bench_real(work)
    results = [bench_scale(scale, work, args.seed, args.keep) for scale in sorted(args.scales)]
    loads["end"] = load_average()
    finished = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M}"
    write_plot(plot, results)
    write_report(report, results, real, info, loads, plot, finished)
    record = {"finished": finished, "machine": info, "load_average": loads, "real": real, "scales": results}
    report.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    print(report.read_text())
    return 0 if passed(results, real) else 1


if __name__ == "__main__":
    sys.exit(main())
