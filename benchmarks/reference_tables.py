"""The tables of benchmarks/results.md (benchmarks/report.py) that set stedi's run beside the
references: each engine against the DuckDB and Spark SQL references, and the time per step."""

from __future__ import annotations

from pipeline_runs import DUCKDB_TABLES_OF_STEP, FINGERPRINT_ENGINE
from stedi.run.pipeline import PIPELINE
from targets import (
    counts_cell,
    engines_of,
    gib,
    same_cell,
    spark_sql,
)


def references(results: list[dict], real: dict | None) -> list[str]:
    """Per N: the data, the references, and whether the engines' lakes hold the same rows."""
    lines = [
        "",
        "## The data, the references, and the engines' lakes",
        "",
        "| N | customers | raw records | raw MB | generate s | DuckDB s | DuckDB peak | Spark SQL "
        "s "
        "| Spark SQL / DuckDB | Spark SQL counts | the engines' lakes |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        d, spark = r["duckdb"], spark_sql(r)
        sql = (
            ["not run" if r["spark_sql"].get("skipped") else "failed", "", ""]
            if spark is None
            else [
                f"{spark['seconds']:.2f}",
                f"{spark['seconds'] / d['seconds']:.0f}x",
                counts_cell(r["spark_count_mismatches"]),
            ]
        )
        lines.append(
            f"| {r['scale']:g} | {r['customers']:,} | {r['raw_records']:,} | "
            f"{r['raw_bytes'] / 1e6:,.0f} | "
            f"{r['generate']['seconds']:.1f} | {d['seconds']:.2f} | {gib(d['peak_rss'])} | "
            + " | ".join(sql)
            + f" | {same_cell(r['same_content'])} |"
        )
    if real is not None:
        lines.append(
            f"| data/raw | 956 | | {real['raw_bytes'] / 1e6:,.0f} | | | | | | | "
            f"{same_cell(real['same_content'])} |"
        )
    starts = sorted(s["startup_seconds"] for s in map(spark_sql, results) if s is not None)
    lines += [
        "",
        "DuckDB peak: the reference process's peak memory, measured as the pipeline's. Spark SQL "
        "s: the DuckDB",
        "reference's queries run by PySpark in a session built like the pipeline's Spark one "
        "(local[2], the",
        "same driver memory, shuffle partitions and JVM flags), without checks, intake accounting "
        "and",
        "quarantine: a floor for any Spark pipeline on this machine. Its tables' time only: the "
        "session's",
        f"start-up ({starts[0] if starts else 0:.1f} to {starts[-1] if starts else 0:.1f} s) is "
        "left out, as DuckDB's "
        "process start is.",
        "The engines' lakes: every table's content fingerprint (row count and an order-independent "
        "hash of its",
        f"rows, `tests/lakes.py`), computed by {FINGERPRINT_ENGINE} reading both lakes, compared.",
    ]
    return lines


def per_step(results: list[dict]) -> list[str]:
    """Per step: each engine's manifest seconds at every N; the references' same tables at the
    largest N."""
    if not results:
        return []
    last, engines = results[-1], engines_of(results, None)
    at = f"N={last['scale']:g}"
    lines = [
        "",
        "## Per step",
        "",
        "Seconds from the runs' manifests; DuckDB, Spark SQL: the seconds of the same tables in "
        f"the references at {at}.",
        "",
        "| step | "
        + " | ".join(f"N={r['scale']:g} {e}" for r in results for e in engines)
        + f" | DuckDB {at} | Spark SQL {at} |",
        "|---|" + "---:|" * (len(results) * len(engines) + 2),
    ]
    for name in (step.name for step in PIPELINE):
        cells = []
        for r, engine in ((r, e) for r in results for e in engines):
            step = next((s for s in r["engines"][engine]["steps"] if s["name"] == name), None)
            cells.append(
                ""
                if step is None
                else f"{step['seconds']:.1f}"
                if step["status"] == "succeeded"
                else f"failed after {step['seconds']:.0f}"
            )
        tables = DUCKDB_TABLES_OF_STEP.get(name, ())
        duck = (
            f"{sum(last['duckdb']['tables'][t]['seconds'] for t in tables):.2f}" if tables else ""
        )
        sql = (
            f"{sum(last['spark_sql']['tables'][t]['seconds'] for t in tables):.2f}"
            if tables and spark_sql(last)
            else ""
        )
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {duck} | {sql} |")
    return lines
