"""The engine's own cost: the STRICT policy's eight tables computed by plain Spark SQL from the raw
exports.

    python benchmarks/spark_reference.py --raw-dir RAW --out DIR [--json]

The same queries as benchmarks/duckdb_reference.py, run by PySpark in a session built like the
pipeline's (stedi.engine.session.local_spark: local[2], 2 shuffle partitions, driver memory 2g,
adaptive off, and the JVM flags `stedi run` gives for the input's size), without the pipeline's
quality checks, intake accounting and quarantine:

- landing: the raw JSON lines read with the declared schema of stedi.core.tables, records missing a
  required column dropped, exact duplicates dropped, per customer email the latest
  lastUpdateDate kept; written as JSON lines;
- trusted and curated: duckdb_reference.STRICT (SEMI JOIN spelled LEFT SEMI JOIN); written
  as Parquet.

Each table is counted by an Observation while it is written, not by another pass. The tables read
again downstream are cached DataFrames, filled by their write, rather than read back from the
written files: at N=10, 20.0 s against 22.9 s read back (medians of 4 alternating runs; tied at
N=1, 7.6 against 7.8 s), because read back the landing tables' JSON is parsed a second time.

Prints a JSON object (with --json) or a table: per table its rows and the seconds to compute and
write it, and the total; `startup_seconds` (imports and the session's start) is not in the total.
This is a benchmark helper, not part of the package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from duckdb_reference import STRICT, show

SOURCES = ("customer", "accelerometer", "step_trainer")
LAST = "machine_learning_curated"  # read by no other table: not cached


def build(raw_dir: str | Path, out: str | Path) -> dict:
    """Compute and write the eight strict tables; returns {tables: {name: {rows, seconds}}, seconds,
    ...}."""
    raw_dir, out = Path(raw_dir).resolve(), Path(out).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    began = time.monotonic()
    from stedi import config
    from stedi.engine.java import java_options_for

    if "STEDI_SPARK_JAVA_OPTIONS" not in os.environ:  # what `stedi run` gives its kernel
        raw_bytes = sum(p.stat().st_size for p in raw_dir.rglob("*.json"))
        os.environ["STEDI_SPARK_JAVA_OPTIONS"] = java_options_for(raw_bytes)
        config.SPARK_DRIVER_JAVA_OPTIONS = os.environ[
            "STEDI_SPARK_JAVA_OPTIONS"
        ]  # config read it at import
    import pyspark
    from pyspark.sql import Observation, Window
    from pyspark.sql import functions as F

    from stedi.core.schemas import spark_schema
    from stedi.core.tables import REQUIRED_COLUMNS, TABLES
    from stedi.engine.session import local_spark

    spark = local_spark("spark-reference")
    startup = time.monotonic() - began
    started = time.monotonic()
    tables: dict[str, dict] = {}

    def landing(source: str):
        files = [str(p) for p in sorted((raw_dir / source).glob("*.json"))]
        frame = spark.read.schema(spark_schema(TABLES[f"{source}_landing"].columns)).json(files)
        frame = frame.dropna(subset=list(REQUIRED_COLUMNS[source])).distinct()
        if source != "customer":
            return frame
        latest = Window.partitionBy("email").orderBy(F.col("lastUpdateDate").desc_nulls_last())
        return frame.withColumn("_n", F.row_number().over(latest)).where("_n = 1").drop("_n")

    def materialize(name: str, query, fmt: str) -> None:
        began = time.monotonic()
        frame = query() if name == LAST else query().cache()
        frame.createOrReplaceTempView(name)
        rows = Observation(name)
        target = str(out / ("landing" if fmt == "json" else "trusted_curated") / name)
        getattr(frame.observe(rows, F.count(F.lit(1)).alias("rows")).write.mode("overwrite"), fmt)(
            target
        )
        tables[name] = {"rows": rows.get["rows"], "seconds": round(time.monotonic() - began, 3)}

    for source in SOURCES:
        materialize(f"{source}_landing", lambda source=source: landing(source), "json")
    for name, query in STRICT.items():
        materialize(
            name,
            lambda query=query: spark.sql(query.replace(" SEMI JOIN ", " LEFT SEMI JOIN ")),
            "parquet",
        )
    seconds = time.monotonic() - started
    spark.stop()
    return {
        "engine": f"pyspark {pyspark.__version__}",
        "tables": tables,
        "seconds": round(seconds, 3),
        "startup_seconds": round(startup, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", required=True, help="the raw exports: RAW/<table>/*.json")
    parser.add_argument(
        "--out", required=True, help="scratch folder for the reference tables (replaced)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = build(args.raw_dir, args.out)
    show(
        result,
        as_json=args.json,
        extra={"session start-up (not in the total)": result["startup_seconds"]},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
