"""Where a pipeline run spends its time: the zone steps run in one process, each phase timed.

    python benchmarks/profile_steps.py --raw-dir RAW [--work DIR] [--policy strict] [--rules]
        [--json FILE]

Runs what the six glue_sessions/ notebooks run (stedi.run.step, stedi.core.intake, the transforms,
stedi.core.quality, stedi.lake.icelake), in order, in one Spark session, without papermill, and
times each phase by wrapping the package's functions (nothing in src/ is changed):

- intake: `land_source` per source, split into its own phases (survey, split, classify);
- quality: `quality.evaluate` per table (the checks of Step.check and Step.land);
- write: `IcebergTables.stage` (the Spark write of a table's or quarantine's Parquet files,
  rows counted from their footers), `IcebergTables.publish` (the checks and the Iceberg commit).

With --rules, each quality rule of the two largest tables is then also evaluated alone on
the stored table, to show what each rule costs.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

TIMES: dict[tuple[str, str], float] = defaultdict(float)
JOBS: dict[tuple[str, str], int] = defaultdict(int)
CPU: dict[tuple[str, str], float] = defaultdict(float)
CURRENT = {"step": ""}


_JVM_PID: list[int] = []


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and the Spark JVM (user + system).

    Less sensitive than wall time to other work on a shared machine."""
    from pyspark import SparkContext

    total = time.process_time()
    context = SparkContext._active_spark_context
    if context is not None:
        if not _JVM_PID:
            _JVM_PID.append(int(context._jvm.java.lang.ProcessHandle.current().pid()))
        with open(f"/proc/{_JVM_PID[0]}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _jobs_so_far() -> int:
    """Spark jobs started so far in this process (0 before the session exists)."""
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    return len(context.statusTracker().getJobIdsForGroup(None)) if context is not None else 0


def timed(owner, name: str, label: str | None = None, key=None):
    """Wrap owner.name so that its seconds add up under (current step, label[:key(args)])."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        began, jobs, cpu = time.monotonic(), _jobs_so_far(), cpu_seconds()
        try:
            return original(*args, **kwargs)
        finally:
            what = label or name
            if key is not None:
                what = f"{what}:{key(*args, **kwargs)}"
            TIMES[(CURRENT["step"], what)] += time.monotonic() - began
            JOBS[(CURRENT["step"], what)] += _jobs_so_far() - jobs
            CPU[(CURRENT["step"], what)] += cpu_seconds() - cpu

    setattr(owner, name, wrapper)
    return original


def instrument() -> None:
    from stedi.core import intake, quality
    from stedi.lake import icelake as lake

    timed(intake.landing, "land_source", "intake", key=lambda spark, raw, source: source)
    timed(quality, "evaluate", "quality", key=lambda table, *a, **k: table)
    timed(lake.IcebergTables, "stage", "write (Spark)", key=lambda self, name, df, **k: name)
    timed(lake.IcebergTables, "publish", "commit", key=lambda self, staged, **k: staged.name)


def run_pipeline(raw_dir: str, lake_dir: str, policy: str, conf: dict | None = None) -> dict:
    """The six steps as the notebooks run them, with the Spark SQL settings `conf` applied on top of
    the session's; returns per step its seconds, Spark jobs, and the intake phases."""
    conf = conf or {}

    from stedi.core import intake
    from stedi.core.tables import SOURCES
    from stedi.run import step as stedi_step
    from stedi.run.pipeline import ZONE_STEPS

    steps, phases, jobs, cpu = {}, {}, {}, {}
    began, cpu_began = time.monotonic(), cpu_seconds()
    CURRENT["step"] = "00_raw_to_landing"
    step = stedi_step.start("00_raw_to_landing", raw_dir=raw_dir, lake_dir=lake_dir, policy=policy)
    TIMES[(CURRENT["step"], "session")] += time.monotonic() - began
    for key, value in conf.items():
        step.spark.conf.set(key, value)
    tracker = step.spark.sparkContext.statusTracker()
    original = intake.landing.land_source

    def land_source(spark, raw, source):
        result = original(spark, raw, source)
        phases[source] = result.phases
        return result

    intake.landing.land_source = land_source
    try:
        step.land_all(SOURCES)  # as the notebook does
    finally:
        intake.landing.land_source = original
    steps["00_raw_to_landing"] = time.monotonic() - began
    cpu["00_raw_to_landing"] = cpu_seconds() - cpu_began
    jobs["00_raw_to_landing"] = done = len(tracker.getJobIdsForGroup(None))
    # what each zone notebook does, from the pipeline's declaration
    for declared in [s for s in ZONE_STEPS if s.transform]:
        name, (output,) = declared.name, declared.writes
        began, cpu_began = time.monotonic(), cpu_seconds()
        CURRENT["step"] = name
        step = stedi_step.start(name, lake_dir=lake_dir, policy=policy)
        frames = [step.read(t) for t in declared.reads]
        step.publish(output, declared.transform_function()(*frames, policy))
        steps[name] = time.monotonic() - began
        cpu[name] = cpu_seconds() - cpu_began
        jobs[name] = len(tracker.getJobIdsForGroup(None)) - done
        done += jobs[name]
    return {"steps": steps, "cpu": cpu, "intake_phases": phases, "spark_jobs": jobs}


def rule_costs(lake_dir: str, policy: str, tables: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Each rule of `tables` evaluated alone on the stored table: seconds per rule."""
    from stedi.core import quality
    from stedi.engine.session import local_spark
    from stedi.lake.icelake import IcebergTables

    lake = IcebergTables(local_spark(), lake_dir, policy=policy)
    costs: dict[str, dict[str, float]] = {}
    for name in tables:
        df = lake.read(name)
        costs[name] = {}
        for rule in quality.rules_for(name, policy):
            others = {t: lake.read(t) for t in rule.needs}
            began = time.monotonic()
            quality.evaluate_rules(df, [rule], others, table=name, policy=policy)
            costs[name][rule.name] = round(time.monotonic() - began, 2)
        began = time.monotonic()
        df.agg(*[__import__("pyspark.sql.functions", fromlist=["count"]).count("*")]).first()
        costs[name]["(a full read: count)"] = round(time.monotonic() - began, 2)
    return costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", required=True)
    parser.add_argument(
        "--work", default="/tmp/stedi-profile", help="scratch lake folder (replaced)"
    )
    parser.add_argument("--policy", default="strict")
    parser.add_argument(
        "--rules", action="store_true", help="also time each rule of the two largest tables alone"
    )
    parser.add_argument("--json", default="", help="write the timings to this file too")
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Spark SQL setting to try on top of the session's (repeatable)",
    )
    args = parser.parse_args(argv)
    work = Path(args.work).resolve()
    shutil.rmtree(work, ignore_errors=True)
    instrument()
    began = time.monotonic()
    conf = dict(item.split("=", 1) for item in args.conf)
    result = run_pipeline(args.raw_dir, str(work / "lake"), args.policy, conf)
    total = time.monotonic() - began
    print(f"{'step':<38}{'phase':<44}{'wall s':>8}{'CPU s':>8}{'jobs':>6}")
    for name, seconds in result["steps"].items():
        cpu, jobs = result["cpu"][name], result["spark_jobs"][name]
        print(f"{name:<38}{'(step total)':<44}{seconds:>8.2f}{cpu:>8.1f}{jobs:>6}")
        for (step, what), value in sorted(TIMES.items(), key=lambda kv: -kv[1]):
            if step == name:
                print(
                    f"{'':<38}{what:<44}{value:>8.2f}"
                    f"{CPU[(step, what)]:>8.1f}{JOBS[(step, what)]:>6}"
                )
    all_cpu, all_jobs = sum(result["cpu"].values()), sum(result["spark_jobs"].values())
    print(f"{'all steps':<82}{total:>8.2f}{all_cpu:>8.1f}{all_jobs:>6}")
    by_kind: dict[str, list] = defaultdict(lambda: [0.0, 0.0, 0])
    for (step, what), value in TIMES.items():
        kind = what.split(":")[0]
        if kind != "register":  # part of "publish"
            by_kind[kind][0] += value
            by_kind[kind][1] += CPU[(step, what)]
            by_kind[kind][2] += JOBS[(step, what)]
    ranked = sorted(by_kind.items(), key=lambda kv: -kv[1][0])
    print(
        "by kind: "
        + ", ".join(f"{k} {w:.1f} s wall, {c:.1f} s CPU, {n} jobs" for k, (w, c, n) in ranked)
    )
    print(
        "intake phases (seconds since the start of land_source):",
        json.dumps(result["intake_phases"]),
    )
    out = {
        "conf": conf,
        "steps": result["steps"],
        "cpu": result["cpu"],
        "spark_jobs": result["spark_jobs"],
        "phase_cpu": {f"{s}|{w}": round(v, 2) for (s, w), v in CPU.items()},
        "jobs": {f"{s}|{w}": n for (s, w), n in JOBS.items()},
        "phases": {f"{s}|{w}": round(v, 3) for (s, w), v in TIMES.items()},
        "intake_phases": result["intake_phases"],
        "total": round(total, 2),
    }
    if args.rules:
        out["rules"] = rule_costs(
            str(work / "lake"), args.policy, ("accelerometer_landing", "accelerometer_trusted")
        )
        for table, costs in out["rules"].items():
            print(f"rules of {table}:")
            for rule, seconds in sorted(costs.items(), key=lambda kv: -kv[1]):
                print(f"  {rule:<44}{seconds:>9.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
