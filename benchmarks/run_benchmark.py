"""The scale benchmark: generate N x the real data, run the pipeline on both engines and the DuckDB
and Spark SQL references, report.

    python benchmarks/run_benchmark.py [--scales 1 10 100] [--engines spark sail] [--no-spark-sql]
                                       [--work /tmp/stedi-bench] [--no-real] [--keep]
                                       [--report-only]

For each scale N, on the same files (scale.py): `stedi generate --scale N` (timed); `stedi run
--engine E` (strict) for each engine in turn into its own WORK/N/E/lake (an Iceberg lake:
catalog.db and its tables) and runs folder, measured (pipeline_runs.py, measure.py); `stedi run`
again with nothing new on the default engine's lake; the DuckDB and Spark SQL references
(references.py); the content fingerprints of the engines' lakes (tests/lakes.py), compared; at
N=100 the new-day scenario (incremental.py). Unless --no-real, `stedi run` also runs on data/raw on
each engine (what `make run` does, into scratch folders).

Writes benchmarks/results.md, results.json and time_vs_scale.png (report.py), judged by the targets
of targets.py; exits 1 when a run failed, when counts differ from DuckDB's or when the engines'
lakes differ. Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from measure import HERE, load_average, machine
from plot import write_plot
from report import write_report
from scale import bench_real, bench_scale
from stedi.config import ENGINES
from targets import passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scales", type=float, nargs="+", default=[1, 10, 100], help="N values (default: 1 10 100)"
    )
    parser.add_argument(
        "--engines",
        nargs="+",
        choices=ENGINES,
        default=list(ENGINES),
        help=f"the engines to run the pipeline on, in turn (default: {' '.join(ENGINES)})",
    )
    parser.add_argument("--no-spark-sql", action="store_true", help="skip the Spark SQL reference")
    parser.add_argument(
        "--work", default="/tmp/stedi-bench", help="scratch folder for data, lakes and runs"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-real", action="store_true", help="skip the `stedi run`s on data/raw")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and lakes")
    parser.add_argument(
        "--results",
        default=str(HERE / "results.md"),
        help="the report (results.json and the plot beside)",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rebuild the report and plot from results.json"
    )
    args = parser.parse_args(argv)
    report = Path(args.results)
    plot = report.with_name("time_vs_scale.png")
    if args.report_only:
        record = json.loads(report.with_suffix(".json").read_text())
        write_plot(plot, record["scales"])
        write_report(
            report,
            record["scales"],
            record["real"],
            record["machine"],
            record["load_average"],
            plot,
            record.get("finished", ""),
        )
        return 0
    engines = [engine for engine in ENGINES if engine in args.engines]
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    loads = {"start": load_average()}
    info = machine()
    real = None if args.no_real else bench_real(work, engines)
    results = [
        bench_scale(scale, work, args.seed, args.keep, engines, not args.no_spark_sql)
        for scale in sorted(args.scales)
    ]
    loads["end"] = load_average()
    finished = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}"
    write_plot(plot, results)
    write_report(report, results, real, info, loads, plot, finished)
    record = {
        "finished": finished,
        "machine": info,
        "load_average": loads,
        "real": real,
        "scales": results,
    }
    report.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    print(report.read_text())
    return 0 if passed(results, real) else 1


if __name__ == "__main__":
    sys.exit(main())
