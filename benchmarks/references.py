"""The references: `benchmarks/duckdb_reference.py` (the same strict tables in DuckDB, the
single-machine reference) and `benchmarks/spark_reference.py` (the same queries in plain Spark
SQL), run on the same raw files as the pipeline, measured like it; their counts compared.
"""

from __future__ import annotations

from pathlib import Path

from measure import HERE, PYTHON, last_json, measured
from stedi.run.pipeline import ZONE_STEPS

# The tables the references build, in the order the pipeline writes them (its declaration).
STRICT_TABLES = tuple(table for step in ZONE_STEPS for table in step.writes)


def reference_run(script: str, raw: Path, out: Path) -> dict:
    """`benchmarks/<script>` on `raw`, measured, with the JSON it printed (its own seconds) when it
    succeeded."""
    log = out.with_name(f"{out.name}.log")
    result = measured(
        [PYTHON, str(HERE / script), "--raw-dir", str(raw), "--out", str(out), "--json"], log
    )
    if result["returncode"] == 0:
        result.update(last_json(log))
    return result


def differing(rows: dict, duckdb: dict) -> dict:
    """table -> {"rows", "duckdb"} of the strict tables whose counts in `rows` are not DuckDB's."""
    return {
        name: {"rows": rows.get(name), "duckdb": duckdb[name]}
        for name in STRICT_TABLES
        if rows.get(name) != duckdb[name]
    }
