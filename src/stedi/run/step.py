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
from stedi.lake.store import Lake, Staged
from stedi.engine.session import spark_for


class Step:
    def __init__(
        self,
        name: str,
        *,
        lake_dir: str,
        raw_dir: str = str(config.RAW_DIR),
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
        self.raw_dir = config.resolve(raw_dir)
        # Where the completion record goes: a local run folder, or an s3:// one on Glue.
        self.run_dir = config.resolve(run_dir) if run_dir else None
        self.started = time.monotonic()
        self.spark = spark_for(target)
        self.lake = Lake(self.spark, lake_dir, policy=policy, database=database)
        self.tables: dict[str, dict] = {}
        self.intake: dict[str, dict] = {}
        self.quality: dict[str, list[dict]] = {}
        # Versions written by `check` and checked, waiting for `write` to publish them.
        self._checked: dict[str, tuple[Staged, object]] = {}

    def read(self, table: str) -> DataFrame:
        return self.lake.read(table)

    def write(self, table: str, df: DataFrame) -> dict:
        """Replace `table` with `df`; returns {table, zone, rows, path}.

        When `df` is the `passing` frame of this step's `check` of the table, the version
        written and checked there is published as it is (nothing is computed again); with
        rows quarantined, the passing rows are copied from it.
        """
        checked = self._checked.pop(table, None)
        if checked is not None:
            staged, report = checked
            if df is report.passing and report.quarantined is None:
                written = self.lake.publish(staged)
            else:
                try:
                    written = self.lake.write(table, df)
                finally:
                    self.lake.discard(staged)
        else:
            written = self.lake.write(table, df)
        self.tables[table] = written
        return written

    def land(self, result) -> dict:
        """Check and write an intake result (stedi.core.intake.IntakeResult): landing table and quarantine.

        The landing table's quality rules run on the landed records first; rows failing a
        `quarantine` rule join the intake's quarantine (reason `quality:<rule>`). Fails unless
        read = landed + quarantined + duplicates holds and the landing table holds exactly
        the records counted as landed.
        """
        from stedi.core.intake import IntakeAccountingError, check_accounting
        from stedi.core.tables import landing_table

        name = landing_table(result.source)
        accounting = result.accounting()
        report = self.check(name, result.landed)
        quarantine = result.quarantined
        if report.quarantined is not None:
            moved = report.quarantine_records()
            quarantine = quarantine.unionByName(moved)
            accounting["quarantined"] += report.quarantined_rows
            accounting["landed"] -= report.quarantined_rows
            reasons = accounting["quarantine_reasons"]
            for row in moved.groupBy("reason").count().collect():
                reasons[row["reason"]] = reasons.get(row["reason"], 0) + row["count"]
        check_accounting(accounting)  # raises IntakeAccountingError when read != landed + quarantined + dupes
        # Both written, counted while writing, checked against the accounting, then published.
        staged = self.lake.stage(name, report.passing)
        held = self.lake.stage_quarantine(name, quarantine)
        try:
            if staged.rows != accounting["landed"] or held.rows != accounting["quarantined"]:
                raise IntakeAccountingError(
                    f"{name}: wrote {staged.rows} landed and {held.rows} quarantined rows, the intake counted "
                    f"{accounting['landed']} landed and {accounting['quarantined']} quarantined"
                )
        except BaseException:
            self.lake.discard(staged)
            self.lake.discard(held)
            raise
        self.tables[name] = self.lake.publish(staged)
        accounting["quarantine_path"] = self.lake.publish_quarantine(held)
        result.unpersist()
        self.intake[name] = accounting
        return accounting

    def land_all(self, sources: tuple[str, ...] | None = None, *, concurrent: bool = True) -> dict[str, dict]:
        """Read, check and write the landing table of every source (stedi.core.intake.land_source, then `land`).

        Every source's exports are read and classified at the same time, on threads sharing
        the Spark session: while one thread waits on the driver (planning, code generation,
        small jobs), another uses the cores. A landing table whose rules look up another
        landing table (readings refer to customers) is checked and written once that one is
        written. Returns the accounting per landing table, in the order of `sources`; the
        first failure (in that order) is raised, after every thread has stopped.
        """
        import threading
        from concurrent.futures import ThreadPoolExecutor

        from stedi.core import intake

        from stedi.core import quality
        from stedi.core.tables import SOURCES, landing_table

        sources = {landing_table(source): source for source in (sources or SOURCES)}  # landing table -> source
        # The other landing tables each one's rules read: it is checked and written after them.
        needs = {name: quality.tables_needed(name, self.policy) & sources.keys() for name in sources}
        order = _dependency_order(tuple(sources), needs)
        written = {name: threading.Event() for name in sources}
        failed: set[str] = set()

        def land_one(name: str) -> None:
            try:
                result = intake.land_source(self.spark, self.raw_dir, sources[name])
                for needed in sorted(needs[name]):
                    written[needed].wait()
                    if needed in failed:
                        result.unpersist()
                        raise RuntimeError(f"{name} not written: {needed} failed")
                self.land(result)
            except BaseException:
                failed.add(name)
                raise
            finally:
                written[name].set()

        if concurrent and len(order) > 1:
            with ThreadPoolExecutor(len(order), thread_name_prefix="stedi-land") as pool:
                futures = {name: pool.submit(land_one, name) for name in order}
            for name in sources:  # every thread has stopped: raise the first failure, if any
                futures[name].result()
        else:
            for name in order:
                land_one(name)
        # The same order whatever finished first: the notebook's tables and the manifest stay stable.
        landing = list(sources)
        self.intake = {t: self.intake[t] for t in landing if t in self.intake} | self.intake
        self.tables = {t: self.tables[t] for t in landing if t in self.tables} | self.tables
        self.quality = {t: self.quality[t] for t in landing if t in self.quality} | self.quality
        return {t: self.intake[t] for t in landing}

    def intake_summary(self):
        """Per landing table: read, landed, quarantined (by reason), duplicates dropped."""
        import pandas as pd

        return pd.DataFrame(
            [
                {"table": name, **{k: v for k, v in acc.items() if k not in ("quarantine_path", "source")}}
                for name, acc in self.intake.items()
            ]
        )

    def check(self, table: str, df: DataFrame):
        """Evaluate the declared rules of `table` on `df` (stedi.core.quality); returns the QualityReport.

        Rows failing a `quarantine` rule are left out of `report.passing` (write that);
        for a table outside landing they are written to quarantine/<table>/ here. A failed
        `error` rule shows the report and raises QualityError naming the rule.

        A Parquet table (trusted, curated) is written first, as a version readers do not
        see yet, and the rules are evaluated on what was written: the transform runs once,
        and `write(table, report.passing)` publishes that version. A landing table is
        checked as given (the intake's cached records) and written by `write`.
        """
        from stedi.core import quality
        from stedi.core.tables import table as declared

        staged = None
        if declared(table).fmt == "parquet":
            staged = self.lake.stage(table, df)
            df = self.lake.read_staged(staged)
        try:
            needed = sorted(quality.tables_needed(table, self.policy))
            others = {name: self.read(name) for name in needed}
            known = {name: self.lake.rows(name) for name in quality.row_count_references(table, self.policy)}
            report = quality.evaluate(table, df, self.policy, others, reference_rows=known)
            if staged is not None and report.rows != staged.rows:
                raise RuntimeError(
                    f"{table}: {staged.rows} rows were written but {report.rows} read back from the staged version"
                )
            self.quality[table] = report.results
            if not report.ok:
                _show(report)
                report.raise_for_errors()
        except BaseException:
            if staged is not None:
                self.lake.discard(staged)
            raise
        if staged is not None:
            self._checked[table] = (staged, report)
        if report.quarantined is not None and not table.endswith("_landing"):
            self.lake.write_quarantine(table, report.quarantine_records())
        return report

    def quality_summary(self):
        """Every rule evaluated in this step: table, rule, severity, rows checked and failing, outcome."""
        import pandas as pd

        return pd.DataFrame([{"table": t, **r} for t, results in self.quality.items() for r in results])

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
            "quality": self.quality,
        }

    def finish(self):
        """Write the completion record (when run by `stedi run`) and return a summary table."""
        record = self.record()
        if self.run_dir is not None:
            write_record(f"{self.run_dir}/steps/{self.name}.json", record)
        import pandas as pd

        return pd.DataFrame(
            [{"table": t, "zone": w["zone"], "rows": w["rows"], "path": w["path"]} for t, w in self.tables.items()]
        )


def _dependency_order(items: tuple[str, ...], needs: dict[str, set[str]]) -> list[str]:
    """`items` ordered so that each comes after what it needs (stable otherwise); a cycle is an error."""
    ordered: list[str] = []
    while len(ordered) < len(items):
        ready = [i for i in items if i not in ordered and needs[i] <= set(ordered)]
        if not ready:
            raise RuntimeError(f"landing tables depend on each other in a cycle: {needs}")
        ordered.extend(ready)
    return ordered


def _show(obj) -> None:
    """Display in a notebook (the report then appears in the step's HTML); print elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        print(obj)
        return
    if get_ipython() is not None:
        display(obj)
    else:
        print(obj)


def write_record(where: str, record: dict) -> None:
    """Write a JSON record whole: locally through a rename, on S3 in one PUT."""
    text = json.dumps(record, indent=2)
    if where.startswith("s3://"):  # pragma: no cover - exercised on AWS (and by the moto tests of stedi.aws.lake)
        import boto3

        bucket, _, key = where[len("s3://") :].partition("/")
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode())
        return
    path = Path(where)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def start(name: str, **kwargs) -> Step:
    """Open step `name` (see Step for the keyword arguments)."""
    return Step(name, **kwargs)
