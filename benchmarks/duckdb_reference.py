"""The single-machine reference: the STRICT policy's eight tables computed by DuckDB from the raw
exports.

    python benchmarks/duckdb_reference.py --raw-dir RAW --out DIR [--threads 2] [--json]

The same transforms as src/stedi/transforms under `strict`, on the same raw files:

- landing: `read_json` with explicit columns (the declared types of stedi.core.tables), records
  missing a required column dropped, exact duplicates dropped, and per customer email the
  latest lastUpdateDate kept (what stedi.core.intake lands from clean JSON lines); written as
  JSON lines, like the pipeline's landing zone;
- customer_trusted: customers with a research consent date;
- accelerometer_trusted: readings of a consenting customer taken at or after the consent;
- customer_curated: consenting customers with at least one trusted reading;
- step_trainer_trusted: readings of curated customers' devices taken at or after consent;
- machine_learning_curated: a step reading paired with the accelerometer readings of the
  same instant *of the device's owner*; no direct identifier.

Trusted and curated tables are written as Parquet. Prints a JSON object (with --json) or a
table: per table its rows and the seconds to compute and write it, and the total.
This is a benchmark helper, not part of the package: it does not handle the broken export
layouts that stedi.core.intake repairs (the generated exports are clean JSON lines).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import duckdb

# The declared columns of the landing tables (src/stedi/tables.py), as DuckDB types.
COLUMNS = {
    "customer": {
        "customerName": "VARCHAR",
        "email": "VARCHAR",
        "phone": "VARCHAR",
        "birthDay": "VARCHAR",
        "serialNumber": "VARCHAR",
        "registrationDate": "BIGINT",
        "lastUpdateDate": "BIGINT",
        "shareWithResearchAsOfDate": "BIGINT",
        "shareWithPublicAsOfDate": "BIGINT",
        "shareWithFriendsAsOfDate": "BIGINT",
    },
    "accelerometer": {
        "user": "VARCHAR",
        "timestamp": "BIGINT",
        "x": "DOUBLE",
        "y": "DOUBLE",
        "z": "DOUBLE",
    },
    "step_trainer": {
        "sensorReadingTime": "BIGINT",
        "serialNumber": "VARCHAR",
        "distanceFromObject": "INTEGER",
    },
}
REQUIRED = {
    "customer": ("email", "serialNumber"),
    "accelerometer": ("user", "timestamp"),
    "step_trainer": ("sensorReadingTime", "serialNumber"),
}


def _read_json(raw_dir: Path, source: str) -> str:
    columns = ", ".join(f"'{name}': '{typ}'" for name, typ in COLUMNS[source].items())
    files = f"{raw_dir}/{source}/*.json"
    return f"read_json('{files}', format = 'newline_delimited', columns = {{{columns}}})"


def _landing_sql(raw_dir: Path, source: str) -> str:
    required = " AND ".join(f'"{c}" IS NOT NULL' for c in REQUIRED[source])
    distinct = f"SELECT DISTINCT * FROM {_read_json(raw_dir, source)} WHERE {required}"
    if source != "customer":
        return distinct
    return (
        f"SELECT * FROM ({distinct}) "
        "QUALIFY row_number() OVER (PARTITION BY email ORDER BY lastUpdateDate DESC NULLS LAST) = 1"
    )


STRICT = {
    "customer_trusted": "SELECT * FROM customer_landing WHERE shareWithResearchAsOfDate IS NOT "
    "NULL",
    "accelerometer_trusted": """
        SELECT a.* FROM accelerometer_landing a SEMI JOIN customer_trusted c
        ON a.user = c.email AND a.timestamp >= c.shareWithResearchAsOfDate""",
    "customer_curated": """
        SELECT c.* FROM customer_trusted c SEMI JOIN
            (SELECT DISTINCT user FROM accelerometer_trusted) a
        ON c.email = a.user""",
    "step_trainer_trusted": """
        SELECT s.* FROM step_trainer_landing s SEMI JOIN customer_curated c
        ON s.serialNumber = c.serialNumber
        AND s.sensorReadingTime >= c.shareWithResearchAsOfDate""",
    "machine_learning_curated": """
        SELECT s.sensorReadingTime, s.serialNumber, s.distanceFromObject, a.timestamp, a.x, a.y, a.z
        FROM step_trainer_trusted s
        JOIN customer_curated o ON s.serialNumber = o.serialNumber
        JOIN accelerometer_trusted a ON a.timestamp = s.sensorReadingTime AND a.user = o.email""",
}


def build(raw_dir: str | Path, out: str | Path, threads: int = 2) -> dict:
    """Compute and write the eight strict tables; returns {tables: {name: {rows, seconds}},
    seconds}."""
    raw_dir, out = Path(raw_dir).resolve(), Path(out).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    started = time.monotonic()
    con = duckdb.connect()  # in memory, spilling to out/.tmp when it must
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET temp_directory = '{out / '.tmp'}'")
    con.execute("SET preserve_insertion_order = false")
    tables: dict[str, dict] = {}

    def materialize(name: str, query: str, fmt: str) -> None:
        began = time.monotonic()
        con.execute(f"CREATE TABLE {name} AS {query}")
        target = out / ("landing" if fmt == "json" else "trusted_curated") / name
        target.parent.mkdir(exist_ok=True)
        options = "FORMAT JSON" if fmt == "json" else "FORMAT PARQUET"
        con.execute(
            f"COPY {name} TO '{target}.{'json' if fmt == 'json' else 'parquet'}' ({options})"
        )
        rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        tables[name] = {"rows": rows, "seconds": round(time.monotonic() - began, 3)}

    for source in COLUMNS:
        materialize(f"{source}_landing", _landing_sql(raw_dir, source), "json")
    for name, query in STRICT.items():
        materialize(name, query, "parquet")
    con.close()
    return {
        "engine": f"duckdb {duckdb.__version__}",
        "threads": threads,
        "tables": tables,
        "seconds": round(time.monotonic() - started, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", required=True, help="the raw exports: RAW/<table>/*.json")
    parser.add_argument(
        "--out", required=True, help="scratch folder for the reference tables (replaced)"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="DuckDB threads (default 2, like local[2])"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    show(build(args.raw_dir, args.out, args.threads), as_json=args.json)
    return 0


def show(result: dict, *, as_json: bool, extra: dict[str, float] | None = None) -> None:
    """Print a reference's result: one JSON object, or a table of rows and seconds per table.

    `extra`: further labelled seconds printed under the total (not part of it)."""
    if as_json:
        print(json.dumps(result))
        return
    for name, t in result["tables"].items():
        print(f"{name:<26}{t['rows']:>12,}{t['seconds']:>9.2f} s")
    print(f"{'total':<38}{result['seconds']:>9.2f} s")
    for label, seconds in (extra or {}).items():
        print(f"{label:<38}{seconds:>9.2f} s")


if __name__ == "__main__":
    sys.exit(main())
