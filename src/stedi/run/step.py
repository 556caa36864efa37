"""The context a zone notebook works in: session, lake, policy, and the step's record.

A notebook opens a step (`start`: the papermill parameters parsed once), reads tables by name
(`read`), calls its transform, publishes its output table (`publish`: the lake stages it, the
table's declared quality rules check what was staged, the lake commits it with its quarantine:
stedi.run.publishing) and finishes: `finish()` writes the step's completion record
(the tables it read and wrote, the intake's accounting, the quality results) into the
run folder. The runner trusts a step only when that record exists, so a notebook that
died without raising (as the Glue kernel can report failures) is not taken for a
success.
"""

from __future__ import annotations

import time

from pyspark.sql import DataFrame

from stedi import config
from stedi.context import Engine, Policy, Target
from stedi.core import quality
from stedi.display import display_or_print
from stedi.engine.session import engine_for, spark_for
from stedi.lake.icelake import IcebergTables
from stedi.lake.staged import Staged
from stedi.run import checking, faults, pipeline, privacy, publishing
from stedi.run.folder import RunFolder
from stedi.run.step_summaries import StepSummaries


class Step(StepSummaries):
    def __init__(
        self,
        name: str,
        *,
        lake_dir: str,
        raw_dir: str = str(config.RAW_DIR),
        # text: a notebook's papermill parameters, a Glue job's arguments
        policy: str = config.DEFAULT_POLICY,
        target: str = config.DEFAULT_TARGET,
        run_dir: str = "",
        database: str = config.DEFAULT_DATABASE,
        engine: str = "",
        full: bool = False,
    ):
        self.name = name
        # The run's choices arrive here as text: parsed once (ValueError, one line, for an unknown
        # one).
        self.policy, self.target = Policy.parse(policy), Target.parse(target)
        # engine "": the kernel's ($STEDI_ENGINE), else config.DEFAULT_ENGINE; Glue runs Spark.
        self.engine = engine_for(engine, self.target)
        self.raw_dir = config.resolve(raw_dir)
        # Where the completion record goes: a local run folder, or an s3:// one on Glue.
        self.run_dir = config.resolve(run_dir) if run_dir else None
        self.full = full  # the intake parses every raw file again (else only new and changed ones)
        self.started = time.monotonic()
        self.spark = spark_for(self.target, self.engine)
        self.lake = IcebergTables(self.spark, lake_dir, policy=self.policy, database=database)
        self.lake.name_run(
            self.run_id, name
        )  # every snapshot this step commits names its run, step and policy
        self.reads: list[str] = []  # the tables the notebook read, in the order it first read them
        self.tables: dict[str, dict] = {}
        self.intake: dict[str, dict] = {}
        self.quality: dict[str, list[dict]] = {}
        self.erasures: list[
            dict
        ] = []  # erasure requests applied by this step (ids and rows, no address)
        self.consent: dict | None = (
            None  # the run's consent changes and their rows, as each publish returns them
        )
        self._ledger = None  # the intake's ledger, once land_all committed it
        self._applied_erasures = None
        self._ledger_now = self._erasures_now = (
            None  # the intake's ledger and erasures while land_all runs
        )

    def read(self, table: str) -> DataFrame:
        """Table `table` of the lake; the completion record lists it among the step's reads."""
        df = self.lake.read(table)
        if table not in self.reads:
            self.reads.append(table)
        return df

    def publish(self, table: str, df: DataFrame):
        """Replace `table` with the rows of `df` that pass its declared quality rules; returns the
        QualityReport.

        The lake stages the rows, the rules are evaluated on what was staged, and the lake commits
        it, with the failing rows of a `quarantine` rule as the table's quarantine
        (stedi.run.publishing). A failed `error` rule shows the report and raises QualityError
        naming the rule; nothing is published.
        """
        published = publishing.publish_output(
            self.lake,
            table,
            df,
            check=self._checked,
            declared=pipeline.STEPS.get(self.name),
            policy=self.policy,
            consent=self.consent,
            run_dir=self.run_dir,
        )
        self.tables[table], self.consent = published.table, published.consent
        return published.report

    def check(self, table: str, df: DataFrame):
        """Evaluate the declared rules of `table` on `df` (stedi.core.quality); returns the
        QualityReport.

        Writes nothing and records nothing: a way to look at a frame's quality before
        publishing it. A failed `error` rule is in the report (`report.ok` is False,
        `report.raise_for_errors()` raises); `publish` is what stops on it.
        """
        return self._evaluate(table, df)

    def land(self, result) -> dict:
        """Check and write an intake result (stedi.core.intake.IntakeResult): landing table and
        quarantine.

        The landing table's quality rules run on the landed records first; rows failing a
        `quarantine` rule join the intake's quarantine (reason `quality:<rule>`). Fails unless
        read = landed + quarantined + duplicates holds and the landing table holds exactly
        the records counted as landed.
        """
        from stedi.core import intake
        from stedi.core.intake import IntakeAccountingError, check_accounting
        from stedi.core.intake.accounting import summed
        from stedi.core.tables import landing_table

        name = landing_table(result.source)
        if getattr(result, "mode", "full") != "full" and not self._base_holds(name, result.base):
            # A landing table this one's rules look up changed in this run: decide it whole again
            # (from the store: nothing is parsed again).
            result.unpersist()
            result = intake.land_source(
                self.spark,
                self.raw_dir,
                result.source,
                ledger=self._ledger_now,
                erasures=self._erasures_now,
            )
        mode = getattr(
            result, "mode", "full"
        )  # "full", "append" or "keep" (stedi.core.intake.landing)
        if mode == "keep":
            return self._kept(name, result)
        accounting = result.accounting()
        if mode == "append":
            # Which new rows land or go to quarantine is decided on them (row by row: the tables
            # the rules look up are unchanged); the rules are reported, and stop the run, on the
            # whole table they make with the rows already landed.
            report = self._evaluate(name, result.landed)
            old = self.lake.read(name)
            appended = checking.Appended(old, result.landed, result.base, report)
            whole = self._checked(name, old.unionByName(result.landed), appended)
        else:
            report = whole = self._checked(name, result.landed)
        quarantine = result.quarantined
        if report.quarantined is not None:
            moved = report.quarantine_records()
            quarantine = quarantine.unionByName(moved)
            accounting["quarantined"] += report.quarantined_rows
            accounting["landed"] -= report.quarantined_rows
            reasons = accounting["quarantine_reasons"]
            for row in moved.groupBy("reason").count().collect():
                reasons[row["reason"]] = reasons.get(row["reason"], 0) + row["count"]
        if mode == "append":  # the table's rows so far, and the new files'
            accounting = summed(result.base["accounting"], accounting)
        check_accounting(
            accounting
        )  # raises IntakeAccountingError when read != landed + quarantined + dupes + erased

        def written_as_counted(staged: Staged, held: Staged) -> None:
            if staged.rows != accounting["landed"] or held.rows != accounting["quarantined"]:
                raise IntakeAccountingError(
                    f"{name}: wrote {staged.rows} landed and {held.rows} quarantined rows, the "
                    "intake counted "
                    f"{accounting['landed']} landed and {accounting['quarantined']} quarantined"
                )

        from stedi.core.intake.record_store import keys_hash

        meta = {
            "policy": self.policy,
            "keys": keys_hash(result.plan.keys.values()) if getattr(result, "plan", None) else None,
            "deps": self._landing_deps(name),
            "accounting": {
                k: v for k, v in accounting.items() if k not in ("run", "quarantine_path")
            },
            "quality": self.quality[name],
            "checked": whole.state["checked"],
        }
        self.tables[name], accounting["quarantine_path"] = publishing.commit_with_quarantine(
            self.lake,
            name,
            report.passing,
            quarantine,
            written_as_counted,
            meta=meta,
            append=mode == "append",
        )
        result.unpersist()
        self.intake[name] = accounting
        return accounting

    def _landing_deps(self, name: str) -> dict:
        """The versions of the landing tables `name`'s rules look up (customers, for the
        readings)."""
        from stedi.core.tables import SOURCES, landing_table

        others = quality.tables_needed(name, self.policy) & {landing_table(s) for s in SOURCES}
        return {other: self.lake.version(other) for other in sorted(others)}

    def _base_holds(self, name: str, base: dict | None) -> bool:
        """Whether the current version of landing table `name` can be kept or added to: made under
        this policy, from the landing tables its rules look up as they are now."""
        return (
            bool(base)
            and base.get("policy") == self.policy
            and base.get("deps") == self._landing_deps(name)
        )

    def _kept(self, name: str, result) -> dict:
        """A landing table left as it is (nothing new for it): its accounting and quality as
        recorded."""
        base = result.base
        run = {**result.plan.summary(), "mode": "keep"}
        accounting = {**base["accounting"], "seconds": round(result.seconds, 2), "run": run}
        accounting["quarantine_path"] = self.lake.quarantine_path(name)
        self.quality[name] = base.get("quality", [])
        self.tables[name] = self.lake.described(name)
        self.intake[name] = accounting
        return accounting

    def land_all(
        self, sources: tuple[str, ...] | None = None, *, concurrent: bool | None = None
    ) -> dict[str, dict]:
        """Land every source (stedi.core.intake.land_all), each landing table checked and written by
        `land`.

        A landing table whose rules look up another landing table (readings refer to
        customers) is checked and written once that one is written. Returns the accounting
        per landing table, in the order of `sources`; the first failure is raised after
        every source has stopped. `concurrent` (default: on a classic session, not on Sail):
        the sources at the same time, on threads. Sail keeps both cores busy with one source:
        at N=100 one after another took as long (36.9 s against 37.9 s) and 0.35 GB less.
        """
        from stedi.core import intake
        from stedi.core.tables import SOURCES, landing_table

        sources = tuple(sources or SOURCES)
        landing = [landing_table(source) for source in sources]
        # The other landing tables each one's rules read: it is checked and written after them.
        needs = {name: quality.tables_needed(name, self.policy) & set(landing) for name in landing}
        if concurrent is None:
            concurrent = self.engine == Engine.SPARK
        from stedi.core.intake.ledger import Ledger

        ledger = Ledger(self.lake.root)
        erasures = privacy.erasures_to_apply(
            self.spark, self.lake.root, self.raw_dir, ledger, full=self.full, run_id=self.run_id
        )
        self._ledger_now, self._erasures_now = ledger, erasures
        # What each landing table was made from: kept or added to when nothing else changed.
        # A landing table whose quarantine a killed run left behind (committed the table, not its
        # quarantine: `unfinished_pairs`) has no base: it is landed again whole, both committed
        # anew.
        unfinished = set(self.lake.unfinished_pairs())
        bases = (
            {}
            if self.full
            else {name: self.lake.snapshot_meta(name) for name in landing if name not in unfinished}
        )
        intake.land_all(
            self.spark,
            self.raw_dir,
            sources,
            needs=needs,
            write=self.land,
            concurrent=concurrent,
            ledger=ledger,
            full=self.full,
            run_id=self.run_id,
            erasures=erasures,
            bases=bases,
        )
        # Every landing table is published: the ledger now names the files they were made from.
        ledger.commit()
        faults.kill_point("commit:ledger")  # tests only
        self._ledger, self._applied_erasures = ledger, erasures
        if erasures:
            erased = {t: self.intake[t]["run"]["erased"] for t in landing if t in self.intake}
            self.erasures = privacy.mark_erasures_done(
                self.lake.root, erasures, self.run_id, erased
            )
        # The same order whatever finished first: the notebook's tables and the manifest stay
        # stable.
        self.intake = {t: self.intake[t] for t in landing if t in self.intake} | self.intake
        self.tables = {t: self.tables[t] for t in landing if t in self.tables} | self.tables
        self.quality = {t: self.quality[t] for t in landing if t in self.quality} | self.quality
        return {t: self.intake[t] for t in landing}

    @property
    def run_id(self) -> str:
        """The run's id when `stedi run` runs the step (its folder's name), else ""."""
        if self.run_dir is None:
            return ""
        return self.run_dir.rstrip("/").rsplit("/", 1)[-1]

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
            "reads": list(self.reads),
            "tables": self.tables,
            "intake": self.intake,
            "quality": self.quality,
            **({"erasures": self.erasures} if self.erasures else {}),
            **({"consent": self.consent} if self.consent else {}),
        }

    def finish(self):
        """Write the completion record (when run by `stedi run`) and return a summary table."""
        record = self.record()
        self._record_freshness(record)
        faults.kill_point(f"commit:freshness:{self.name}")  # tests only
        if self.run_dir is not None:
            # The run folder's records place: the folder itself, or its s3:// prefix on Glue.
            RunFolder(self.run_dir).write_record(self.name, record)
        faults.kill_point(f"commit:record:{self.name}")  # tests only
        import pandas as pd

        return pd.DataFrame(
            [
                {"table": t, "zone": w["zone"], "rows": w["rows"], "path": w["path"]}
                for t, w in self.tables.items()
            ]
        )

    def _record_freshness(self, record: dict) -> None:
        """Record in the lake what this step's tables were made from (stedi.run.freshness), when it
        is a pipeline step that wrote all of them; with the run that built them, their intake
        accounting and quality results, for the report of a later run that skips the step."""
        from stedi.run import freshness, pipeline

        declared_step = pipeline.STEPS.get(self.name)
        if (
            declared_step is None
            or not declared_step.writes
            or not set(declared_step.writes) <= set(self.tables)
        ):
            return
        built = {"run": self.run_id, "intake": record["intake"], "quality": record["quality"]}
        freshness.record_built(
            declared_step,
            self.lake.root,
            self.policy,
            self._ledger,
            self._applied_erasures,
            built,
            self.lake.database,
        )

    # -- evaluating and writing ---------------------------------------------------
    def _evaluate(self, table: str, df: DataFrame, appended=None):
        """The QualityReport of `df` as `table` (stedi.run.checking: the tables the rules look up
        are read from the lake directly, not as the notebook's reads; `appended`: a
        checking.Appended, when `df` is the table with rows added)."""
        return checking.evaluate(self.lake, table, df, self.policy, appended)

    def _checked(self, table: str, df: DataFrame, appended=None):
        """`_evaluate`, its results kept for the record; a failed `error` rule shows the report and
        raises."""
        report = self._evaluate(table, df, appended)
        self.quality[table] = report.results
        if not report.ok:
            display_or_print(report)
            report.raise_for_errors()
        return report


def start(name: str, **kwargs) -> Step:
    """Open step `name` (see Step for the keyword arguments)."""
    return Step(name, **kwargs)
