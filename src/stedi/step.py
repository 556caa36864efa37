"""The context a zone notebook works in: session, lake, policy, and the step's record.

A notebook opens a step, reads tables by name, writes tables by name, and
finishes: `finish()` writes the step's completion record into the run folder
(`<run_dir>/steps/<step>.json`). The runner trusts a step only when that record
exists, so a notebook that died without raising (as the Glue kernel can report
failures) is not taken for a success.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pyspark.sql import DataFrame

from stedi import config
from stedi.lake import Lake
from stedi.session import spark_for


class Step:
    def __init__(
        self,
        name: str,
        *,
        lake_dir: str,
        policy: str = config.DEFAULT_POLICY,
        target: str = config.DEFAULT_TARGET,
        run_dir: str = "",
        database: str = config.DEFAULT_DATABASE,
    ):
        if policy not in config.POLICIES:
            raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(config.POLICIES)}")
        if target not in config.TARGETS:
            raise ValueError(f"unknown target {target!r}; expected one of {', '.join(config.TARGETS)}")
        self.name = name
        self.policy = policy
        self.target = target
        self.run_dir = Path(run_dir) if run_dir else None
        self.started = time.monotonic()
        self.spark = spark_for(target)
        self.lake = Lake(self.spark, lake_dir, policy=policy, database=database)
        self.tables: dict[str, dict] = {}
        self.intake: dict[str, dict] = {}

    def read(self, table: str) -> DataFrame:
        return self.lake.read(table)

    def write(self, table: str, df: DataFrame) -> dict:
        written = self.lake.write(table, df)
        self.tables[table] = written
        return written

    def record_intake(self, source: str, accounting: dict) -> None:
        self.intake[source] = accounting

    def sql(self, query: str) -> DataFrame:
        self.lake.register_existing()
        return self.lake.sql(query)

    def record(self) -> dict:
        return {
            "step": self.name,
            "status": "succeeded",
            "policy": self.policy,
            "target": self.target,
            "seconds": round(time.monotonic() - self.started, 2),
            "tables": self.tables,
            "intake": self.intake,
        }

    def finish(self):
        """Write the completion record (when run by `stedi run`) and return a summary table."""
        record = self.record()
        if self.run_dir is not None:
            steps = self.run_dir / "steps"
            steps.mkdir(parents=True, exist_ok=True)
            tmp = steps / f".{self.name}.json.tmp"
            tmp.write_text(json.dumps(record, indent=2))
            tmp.replace(steps / f"{self.name}.json")
        import pandas as pd

        return pd.DataFrame(
            [{"table": t, "zone": w["zone"], "rows": w["rows"], "path": w["path"]} for t, w in self.tables.items()]
        )


def start(name: str, **kwargs) -> Step:
    """Open step `name` (see Step for the keyword arguments)."""
    return Step(name, **kwargs)
