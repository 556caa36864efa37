"""The scale benchmark: generate N x the real data, run the pipeline and the DuckDB and Spark SQL references, report.

    python benchmarks/run_benchmark.py [--scales 1 10 100] [--work /tmp/stedi-bench] [--no-real]

For each scale N, on the same files:

1. `stedi generate --scale N --out WORK/N/raw` (timed);
2. `stedi run --raw-dir WORK/N/raw --lake-dir WORK/N/lake --runs-dir WORK/N/runs` (strict):
   end-to-end wall time of the command, per step the seconds of the run's manifest
   (`steps[].seconds`), the rows each step read, and the peak memory of the process tree;
3. `benchmarks/duckdb_reference.py` on the same raw files: the same strict tables, timed,
   its row counts compared with the pipeline's;
4. `benchmarks/spark_reference.py` on the same raw files: the DuckDB reference's queries run by
   plain Spark SQL with the pipeline's Spark settings (no checks, accounting or quarantine),
   timed, its row counts compared with DuckDB's: what the engine alone needs for the same work.

Unless --no-real, `stedi run` also runs once on data/raw (what `make run` does, into scratch
folders): the README's "make run at N=1" figure.

Peak memory: the sum of the proportional set sizes (PSS, /proc/<pid>/smaps_rollup) of the
command and all its descendants (the stedi runner, the Jupyter kernel, the Spark JVM, Python
workers), sampled every 0.2 s; the JVM's own peak RSS is reported beside it.

Writes benchmarks/results.md, benchmarks/results.json and benchmarks/time_vs_scale.png.
This is a benchmark, not a test: pytest does not collect it (testpaths is tests/).
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

from stedi.run.pipeline import ZONE_STEPS

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
PYTHON = sys.executable
STEDI = [PYTHON, "-m", "stedi.cli"]
GiB = 1024**3

# What each zone step reads (README, "The notebooks"): its throughput is counted on these rows.
STEP_INPUTS = {
    "00_raw_to_landing": ("customer_landing", "accelerometer_landing", "step_trainer_landing"),  # raw records read
    "01_customer_landing_to_trusted": ("customer_landing",),
    "02_accelerometer_landing_to_trusted": ("accelerometer_landing", "customer_trusted"),
    "03_customer_trusted_to_curated": ("customer_trusted", "accelerometer_trusted"),
    "04_step_trainer_landing_to_trusted": ("step_trainer_landing", "customer_curated"),
    "05_machine_learning_curated": ("step_trainer_trusted", "accelerometer_trusted", "customer_curated"),
}
STRICT_TABLES = (
    "customer_landing", "accelerometer_landing", "step_trainer_landing", "customer_trusted",
    "accelerometer_trusted", "customer_curated", "step_trainer_trusted", "machine_learning_curated",
)


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
        self.peak = 0
        self.peak_by_name: dict[str, int] = {}
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            tree = tree_memory(self.pid)
            self.peak = max(self.peak, sum(pss for _, _, pss in tree.values()))
            for name, rss, _ in tree.values():
                self.peak_by_name[name] = max(self.peak_by_name.get(name, 0), rss)
            self.samples += 1
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def measured(command: list[str], log: Path, env: dict | None = None) -> dict:
    """Run `command` (output to `log`); wall seconds, exit code and peak memory of its process tree."""
    started = time.monotonic()
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
        "samples": sampler.samples,
    }


# -- one scale ------------------------------------------------------------------------------------


def pipeline_run(raw: Path, base: Path) -> dict:
    """`stedi run` (strict) on `raw` into `base`/lake and `base`/runs, measured, with its manifest.

    A failed run is recorded (status, the failing step and its error), not raised.
    """
    for folder in ("lake", "runs"):
        shutil.rmtree(base / folder, ignore_errors=True)
    command = [*STEDI, "run", "--raw-dir", str(raw), "--lake-dir", str(base / "lake"), "--runs-dir", str(base / "runs")]
    log = base / "stedi_run.log"
    run = measured(command, log)
    path = base / "runs" / "latest" / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {"status": "failed", "steps": [], "tables": {}}
    rows = {name: t["rows"] for name, t in manifest.get("tables", {}).items()}
    read = sum(acc["read"] for acc in manifest.get("intake", {}).values()) or None
    steps = []
    for step in manifest["steps"]:
        if step["name"] == "00_raw_to_landing":
            inputs = read
        else:
            known = [rows.get(t) for t in STEP_INPUTS.get(step["name"], ())]
            inputs = sum(known) if known and None not in known else None
        steps.append({"name": step["name"], "seconds": step["seconds"], "rows_in": inputs, "status": step["status"]})
    status = "succeeded" if run["returncode"] == 0 and manifest["status"] == "succeeded" else "failed"
    error = ""
    if status == "failed":
        failed = [s for s in manifest["steps"] if s["status"] != "succeeded"]
        error = failed[0].get("error", "") if failed else ""
        error = f"{failed[0]['name']}: {error}" if failed else (log.read_text().strip().splitlines() or ["?"])[-1]
        print(f"  stedi run FAILED: {error[:300]}", flush=True)
    return {
        **run,
        "status": status,
        "error": " ".join(error.split())[:400],
        "manifest_seconds": manifest.get("seconds"),
        "steps": steps,
        # the zone steps (what the DuckDB reference also computes); the analysis notebook apart
        "steps_seconds": round(sum(s["seconds"] for s in steps if s["name"] in STEP_INPUTS), 2),
        "other_seconds": round(sum(s["seconds"] for s in steps if s["name"] not in STEP_INPUTS), 2),
        "rows": rows,
    }


def bench_scale(scale: float, work: Path, seed: int, keep: bool) -> dict:
    base = work / f"N{scale:g}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    raw = base / "raw"
    print(f"N={scale:g}: generating ...", flush=True)
    generate = [*STEDI, "generate", "--scale", str(scale), "--out", str(raw), "--seed", str(seed)]
    gen = measured(generate, base / "generate.log")
    if gen["returncode"] != 0:
        raise RuntimeError(f"stedi generate failed; see {base / 'generate.log'}")
    summary = json.loads((raw / "generation.json").read_text())
    raw_bytes = sum(p.stat().st_size for p in raw.rglob("*.json"))
    size = f"{summary['customers']:,} customers, {raw_bytes / 1e6:,.0f} MB raw ({gen['seconds']} s)"
    print(f"N={scale:g}: {size}; stedi run ...", flush=True)
    pipeline = pipeline_run(raw, base)
    print(f"N={scale:g}: stedi run {pipeline['seconds']} s; DuckDB reference ...", flush=True)
    reference_command = [
        PYTHON, str(HERE / "duckdb_reference.py"), "--raw-dir", str(raw), "--out", str(base / "duckdb"), "--json"
    ]
    reference = measured(reference_command, base / "duckdb.log")
    if reference["returncode"] != 0:
        raise RuntimeError(f"the DuckDB reference failed; see {base / 'duckdb.log'}")
    reference.update(_last_json(base / "duckdb.log"))
    mismatches = {
        name: {"pipeline": pipeline["rows"].get(name), "duckdb": reference["tables"][name]["rows"]}
        for name in STRICT_TABLES
        if pipeline["status"] == "succeeded" and pipeline["rows"].get(name) != reference["tables"][name]["rows"]
    }
    print(f"N={scale:g}: DuckDB {reference['seconds']} s; Spark SQL reference ...", flush=True)
    spark_command = [
        PYTHON, str(HERE / "spark_reference.py"), "--raw-dir", str(raw), "--out", str(base / "spark_sql"), "--json"
    ]
    spark_sql = measured(spark_command, base / "spark_reference.log")
    if spark_sql["returncode"] != 0:  # recorded, not raised: the pipeline's figures are still worth a report
        print(f"  the Spark SQL reference FAILED; see {base / 'spark_reference.log'}", flush=True)
    else:
        spark_sql.update(_last_json(base / "spark_reference.log"))
    spark_mismatches = {
        name: {"spark_sql": spark_sql["tables"][name]["rows"], "duckdb": reference["tables"][name]["rows"]}
        for name in STRICT_TABLES
        if "tables" in spark_sql and spark_sql["tables"][name]["rows"] != reference["tables"][name]["rows"]
    }
    verdict = "the pipeline failed" if pipeline["status"] != "succeeded" else "differ" if mismatches else "equal"
    if "tables" not in spark_sql:
        verdict += "; the Spark SQL reference failed"
    elif spark_mismatches:
        verdict += "; Spark SQL's differ from DuckDB's: " + ", ".join(spark_mismatches)
    spark_seconds = spark_sql.get("seconds") if "tables" in spark_sql else "-"
    print(f"N={scale:g}: DuckDB {reference['seconds']} s, Spark SQL {spark_seconds} s; counts {verdict}", flush=True)
    if not keep:
        for folder in ("raw", "lake", "duckdb", "spark_sql"):
            shutil.rmtree(base / folder, ignore_errors=True)
    return {
        "scale": scale,
        "customers": summary["customers"],
        "raw_records": summary["customers"] + summary["accelerometer"] + summary["step_trainer"],
        "raw_bytes": raw_bytes,
        "generate": gen,
        "pipeline": pipeline,
        "duckdb": reference,
        "spark_sql": spark_sql,
        "count_mismatches": mismatches,
        "spark_count_mismatches": spark_mismatches,
    }


def _last_json(log: Path) -> dict:
    """The JSON object a reference printed last (its log also holds anything it wrote to stderr)."""
    return json.loads(next(line for line in reversed(log.read_text().splitlines()) if line.startswith("{")))


def bench_real(work: Path) -> dict:
    base = work / "real"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    print("data/raw: stedi run ...", flush=True)
    result = pipeline_run(PROJECT / "data" / "raw", base)
    result["raw_bytes"] = sum(p.stat().st_size for p in (PROJECT / "data" / "raw").rglob("*.json"))
    shutil.rmtree(base / "lake", ignore_errors=True)
    print(f"data/raw: stedi run {result['seconds']} s", flush=True)
    return result


# -- the machine ----------------------------------------------------------------------------------


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) * 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    versions = {}
    for module in ("pyspark", "duckdb", "numpy"):
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


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _ok(r: dict) -> bool:
    return r["status"] == "succeeded"


def _spark(r: dict) -> dict | None:
    """The scale's Spark SQL reference when it ran and succeeded (older results.json have none)."""
    spark = r.get("spark_sql")
    return spark if spark and "tables" in spark else None


def targets(results: list[dict], real: dict | None) -> list[tuple[str, bool, str]]:
    by_scale = {r["scale"]: r for r in results}
    out = []
    one = real if real is not None else by_scale.get(1.0, {}).get("pipeline")
    if one is not None:
        where = "data/raw (what `make run` runs)" if real is not None else "generated N=1"
        detail = f"`stedi run` on {where}: {one['seconds']:.1f} s wall" + ("" if _ok(one) else " (the run failed)")
        out.append(("`make run` end to end at N=1 <= 30 s", _ok(one) and one["seconds"] <= 30, detail))
    if 100.0 in by_scale:
        p, d, spark = by_scale[100.0]["pipeline"], by_scale[100.0]["duckdb"], _spark(by_scale[100.0])
        alone = ""
        if spark is not None:
            alone = f"; Spark SQL alone: {spark['seconds']:.1f} s = {spark['seconds'] / d['seconds']:.1f}x DuckDB"
        if _ok(p):
            ratio = p["steps_seconds"] / d["seconds"]
            detail = f"{p['steps_seconds']:.1f} s (sum of the zone steps) / {d['seconds']:.1f} s = {ratio:.1f}x"
            out.append(("N=100: pipeline transforms within 5x the DuckDB reference", ratio <= 5, detail + alone))
        else:
            out.append(("N=100: pipeline transforms within 5x the DuckDB reference", False,
                        f"the run failed after {p['seconds']:.0f} s: {p['error'][:160]}{alone}"))
    peaks = [(f"N={r['scale']:g}", r["pipeline"]["peak_rss"]) for r in results]
    peaks += [("data/raw", real["peak_rss"])] if real else []
    if peaks:
        worst = max(peaks, key=lambda p: p[1])
        out.append(("peak memory < 4 GiB", worst[1] < 4 * GiB,
                    f"highest: {_gib(worst[1])} (process tree of `stedi run`, {worst[0]})"))
    if 10.0 in by_scale and 100.0 in by_scale:
        p10, p100 = by_scale[10.0]["pipeline"], by_scale[100.0]["pipeline"]
        if _ok(p10) and _ok(p100):
            t10, t100 = p10["seconds"], p100["seconds"]
            s10, s100 = p10["steps_seconds"], p100["steps_seconds"]
            out.append(("N=10 -> N=100 grows no worse than linearly", t100 <= 10 * t10,
                        f"`stedi run` {t10:.1f} s -> {t100:.1f} s = x{t100 / t10:.1f} for x10 the data "
                        f"(exponent {math.log10(t100 / t10):.2f}); zone steps alone x{s100 / s10:.1f}"))
        else:
            out.append(("N=10 -> N=100 grows no worse than linearly", False, "a run failed: no time to compare"))
    return out


# The tables each zone step writes: the DuckDB reference times the same tables.
DUCKDB_TABLES_OF_STEP = {step.name: step.writes for step in ZONE_STEPS}


def _run_cell(p: dict) -> str:
    return f"{p['seconds']:.1f}" if _ok(p) else f"failed after {p['seconds']:.0f}"


def _span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.1f}" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f} to {high:.1f}"


def write_report(
    path: Path, results: list[dict], real: dict | None, info: dict, loads: dict, plot: Path | None, when: str = ""
) -> None:
    when = when or f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M}"
    starts = [s["startup_seconds"] for s in map(_spark, results) if s is not None]
    modified = f" plus uncommitted changes to {', '.join(info['modified'])}" if info["modified"] else ""
    lines = [
        "# STEDI scale benchmark",
        "",
        "Generated by `make bench` (`benchmarks/run_benchmark.py`): synthetic exports of N times the",
        "real data (`stedi generate`), the pipeline (`stedi run`, strict policy), the DuckDB",
        "reference (`benchmarks/duckdb_reference.py`, the same strict tables from the same raw files)",
        "and the Spark SQL reference (`benchmarks/spark_reference.py`, the same queries run by Spark).",
        "",
        f"Run on {when} UTC, code at commit {info['commit']}{modified}.",
        "Where the time goes inside the steps, and what would make them faster: [profile.md](profile.md).",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_bytes'] / GiB:.1f} GiB memory, "
        f"Linux {info['kernel']}; Python {info['python']}, PySpark {info['versions']['pyspark']} (local[2], "
        f"driver memory {info['spark_driver_memory']}, {info['spark_shuffle_partitions']} shuffle partitions), "
        f"{info['java']}; DuckDB {info['versions']['duckdb']} (2 threads).",
        f"Load average (1 min) when the benchmark started: {loads['start'][0]:.1f}, when it ended: "
        f"{loads['end'][0]:.1f}. The machine is shared: other work running at the same time slows every figure.",
        "",
        "## Targets",
        "",
        "| target | verdict | measured |",
        "|---|---|---|",
    ]
    for name, ok, detail in targets(results, real):
        lines.append(f"| {name} | {_verdict(ok)} | {detail} |")
    lines += [
        "",
        "## End to end",
        "",
        "| N | customers | raw records | raw MB | generate s | `stedi run` s | zone steps s | analysis s "
        "| raw records/s | peak memory (tree) | JVM peak | DuckDB s | DuckDB peak | zone steps / DuckDB "
        "| Spark SQL s | zone steps / Spark SQL | Spark SQL / DuckDB | counts |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        p, d, spark = r["pipeline"], r["duckdb"], _spark(r)
        jvm = p["peak_rss_by_name"].get("java", 0)
        if not _ok(p):
            counts = "pipeline failed"
        elif not r["count_mismatches"]:
            counts = "equal"
        else:
            differ = r["count_mismatches"].items()
            counts = "differ: " + ", ".join(f"{k} {v['pipeline']} vs {v['duckdb']}" for k, v in differ)
        if r.get("spark_sql") and spark is None:
            counts += "; Spark SQL reference failed"
        elif r.get("spark_count_mismatches"):
            differ = r["spark_count_mismatches"].items()
            counts += "; Spark SQL differs: " + ", ".join(f"{k} {v['spark_sql']} vs {v['duckdb']}" for k, v in differ)
        rate = f"{r['raw_records'] / p['steps_seconds']:,.0f}" if _ok(p) else ""
        ratio = f"{p['steps_seconds'] / d['seconds']:.0f}x" if _ok(p) else ""
        spark_cells = ["", "", ""]
        if spark is not None:
            overhead = f"{p['steps_seconds'] / spark['seconds']:.1f}x" if _ok(p) else ""
            spark_cells = [f"{spark['seconds']:.2f}", overhead, f"{spark['seconds'] / d['seconds']:.0f}x"]
        lines.append(
            f"| {r['scale']:g} | {r['customers']:,} | {r['raw_records']:,} | {r['raw_bytes'] / 1e6:,.0f} | "
            f"{r['generate']['seconds']:.1f} | {_run_cell(p)} | {p['steps_seconds']:.1f} | {p['other_seconds']:.1f} | "
            f"{rate} | "
            f"{_gib(p['peak_rss'])} | {_gib(jvm)} | {d['seconds']:.2f} | {_gib(d['peak_rss'])} | {ratio} | "
            + " | ".join(spark_cells) + f" | {counts} |"
        )
    if real is not None:
        jvm = real["peak_rss_by_name"].get("java", 0)
        records = sum(real["rows"].get(t, 0) for t in STRICT_TABLES[:3])
        lines.append(
            f"| data/raw | 956 | {records:,} | {real['raw_bytes'] / 1e6:,.0f} | | {_run_cell(real)} | "
            f"{real['steps_seconds']:.1f} | {real['other_seconds']:.1f} | | {_gib(real['peak_rss'])} | {_gib(jvm)} "
            "| | | | | | | |"
        )
    failures = [(f"N={r['scale']:g}", r["pipeline"]) for r in results] + ([("data/raw", real)] if real else [])
    for where, p in failures:
        if not _ok(p):
            lines += ["", f"**`stedi run` failed at {where}** after {p['seconds']:.0f} s: `{p['error']}`"]
    lines += [
        "",
        "`stedi run` s: wall time of the command (JVM and kernel start, every step including the balance",
        "analysis notebook, HTML exports and reports, manifest). zone steps s: the sum of the manifest's",
        "`steps[].seconds` of the six zone notebooks (each notebook's execution, its Spark work, quality checks",
        "and writes included): the pipeline's transform time, compared with DuckDB's total. analysis s: the",
        "other steps of the run (the balance analysis notebook). raw records/s: raw records / zone steps s.",
        "Peak memory: the summed PSS (proportional set size) of `stedi run` and all its descendants (runner,",
        "kernel, JVM, Python workers), sampled from /proc every 0.2 s (a sample is not atomic: one taken while",
        "the JVM forks a helper process can count part of its pages twice); JVM peak: the Spark JVM's own peak",
        "RSS. DuckDB peak: the same measure for the reference's process.",
        "",
        "Spark SQL s: the Spark SQL reference (`benchmarks/spark_reference.py`): the DuckDB reference's",
        "queries, on the same raw files, run by PySpark in a session built like the pipeline's (local[2],",
        "the same driver memory, shuffle partitions and JVM flags): the same work on the same engine and",
        "settings as the zone steps, without their quality checks, intake accounting and quarantine. zone",
        "steps / Spark SQL is the factor the pipeline's own work adds to the engine's; Spark SQL / DuckDB is",
        "the engine's share of the gap, and a floor for any Spark pipeline on this machine (local[2]). Spark",
        "SQL s is the tables' time only: the session's start-up" + (f" ({_span(starts)} s)" if starts else ""),
        "is left out, as DuckDB's process start is (the pipeline's step 00 includes its session's start).",
        "",
        "## Per step",
        "",
        "Seconds from the run's manifest, and rows read per second (step 00: raw records; the others: the rows",
        "of the tables the step reads). DuckDB, Spark SQL: the seconds of the same tables in the references,",
        "at the largest N.",
        "",
    ]
    names = list(DUCKDB_TABLES_OF_STEP)
    names += sorted({s["name"] for r in results for s in r["pipeline"]["steps"]} - set(names))
    header = "| step | " + " | ".join(f"N={r['scale']:g} s | rows/s" for r in results)
    if results:
        header += f" | DuckDB N={results[-1]['scale']:g} s | Spark SQL N={results[-1]['scale']:g} s |"
    else:
        header += " | DuckDB s | Spark SQL s |"
    lines += [header, "|---|" + "---:|---:|" * len(results) + "---:|---:|"]
    for name in names:
        cells = []
        for r in results:
            step = next((s for s in r["pipeline"]["steps"] if s["name"] == name), None)
            if step is None:
                cells.append(" | ")
            elif step["status"] != "succeeded":
                cells.append(f"failed after {step['seconds']:.0f} | ")
            else:
                rate = f"{step['rows_in'] / step['seconds']:,.0f}" if step["rows_in"] else ""
                cells.append(f"{step['seconds']:.1f} | {rate}")
        last, spark = results[-1]["duckdb"]["tables"], _spark(results[-1])
        duck = sql = ""
        if name in DUCKDB_TABLES_OF_STEP:
            duck = f"{sum(last[t]['seconds'] for t in DUCKDB_TABLES_OF_STEP[name]):.2f}"
            if spark is not None:
                sql = f"{sum(spark['tables'][t]['seconds'] for t in DUCKDB_TABLES_OF_STEP[name]):.2f}"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {duck} | {sql} |")
    if plot is not None:
        lines += ["", f"![time against N]({plot.name})", ""]
    lines += [
        "## Row counts (strict)",
        "",
        "| table | " + " | ".join(f"N={r['scale']:g} pipeline | DuckDB" for r in results) + " |",
        "|---|" + "---:|---:|" * len(results),
    ]
    for name in STRICT_TABLES:
        cells = []
        for r in results:
            mine = r["pipeline"]["rows"].get(name)
            cells.append(f"{mine:,}" if mine is not None else "-")
            cells.append(f"{r['duckdb']['tables'][name]['rows']:,}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    path.write_text("\n".join(lines) + "\n")


def write_plot(path: Path, results: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = [r["scale"] for r in results]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ok = [r for r in results if _ok(r["pipeline"])]
    okscales = [r["scale"] for r in ok]
    sparks = [(r["scale"], _spark(r)["seconds"]) for r in results if _spark(r)]

    def step_00(r):
        return next((s["seconds"] for s in r["pipeline"]["steps"] if s["name"] == "00_raw_to_landing"), float("nan"))

    series = {
        "stedi run (end to end)": (okscales, [r["pipeline"]["seconds"] for r in ok]),
        "zone steps (sum)": (okscales, [r["pipeline"]["steps_seconds"] for r in ok]),
        "step 00_raw_to_landing": (okscales, [step_00(r) for r in ok]),
        "DuckDB reference": (scales, [r["duckdb"]["seconds"] for r in results]),
        "Spark SQL reference": ([x for x, _ in sparks], [t for _, t in sparks]),
        "stedi generate": (scales, [r["generate"]["seconds"] for r in results]),
    }
    for label, (xs, values) in series.items():
        if xs:  # an older results.json has no Spark SQL reference
            ax.plot(xs, values, marker="o", label=label)
    for r in results:
        if not _ok(r["pipeline"]):
            ax.plot([r["scale"]], [r["pipeline"]["seconds"]], marker="x", color="red", ls="none", markersize=10)
            ax.annotate("stedi run failed", (r["scale"], r["pipeline"]["seconds"]), fontsize=8, color="red")
    if ok:  # linear growth through N=10 (the growth target's base) when there, else the first scale
        anchor = next((r for r in ok if r["scale"] == 10.0), ok[0])
        x0, t0 = anchor["scale"], anchor["pipeline"]["seconds"]
        ax.plot(scales, [t0 * s / x0 for s in scales], ls=":", color="grey", label=f"linear from N={x0:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("scale N (x the real data: 956 N customers)")
    ax.set_ylabel("seconds")
    ax.set_title("STEDI pipeline time against data size (2 cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10, 100], help="N values (default: 1 10 100)")
    parser.add_argument("--work", default="/tmp/stedi-bench", help="scratch folder for data, lakes and runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-real", action="store_true", help="skip the `stedi run` on data/raw")
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
    checked = all(_spark(r) and not r["count_mismatches"] and not r["spark_count_mismatches"] for r in results)
    return 0 if checked and all(_ok(r["pipeline"]) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
