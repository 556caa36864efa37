"""The lake's tables by name for the notebooks and the run machinery (`IcebergTables`) over
Iceberg tables (stedi.lake.iceberg):
- versions are snapshot ids (as strings); `snapshot_meta` is the current snapshot's summary
  (`stedi.<key>` properties, JSON-decoded), an append's `base` is the snapshot it added to;
- `read_part(name, "old"|"new")`: the parent snapshot's rows, or the files the current one added;
- a quarantine is the table `<table>_quarantine`;
- `register`/`sql`: each existing table as a temporary view of its pinned read.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from stedi import config
from stedi.context import Policy
from stedi.core import storage
from stedi.core.tables import TABLES
from stedi.lake import icefiles
from stedi.lake.catalogs import locate, quarantine_name
from stedi.lake.iceberg import IcebergLake
from stedi.lake.iceschema import spark_schema
from stedi.lake.snapshots import POLICY, RUN_ID
from stedi.lake.staged import SchemaMismatch, Staged

if TYPE_CHECKING:  # pyspark only where an engine runs: the runner's freshness checks start none
    from pyspark.sql import DataFrame

STEDI = "stedi."


class IcebergTables:
    """The lake's tables by name (see the module docstring): what a notebook's step and the run
    machinery use."""

    def __init__(
        self,
        spark,
        root: str,
        policy: Policy = config.DEFAULT_POLICY,
        database: str = config.DEFAULT_DATABASE,
        *,
        run_id: str = "",
        step: str = "",
    ):
        self.spark, self.policy, self.database = spark, policy, database
        self.root = config.resolve(root)
        self.is_local = not storage.is_s3(self.root)
        self._run_id, self._step = run_id, step
        self._lake: IcebergLake | None = None
        self._checked: dict[
            tuple[str, int], list[str]
        ] = {}  # (table, snapshot id) -> its data files

    @property
    def lake(self) -> IcebergLake:
        """The Iceberg lake, opened at first use (a paths-only Lake(None, …) writes nothing)."""
        if (
            self._lake is None and self.spark is None and self.is_local
        ):  # engineless: the process's one
            self._lake = _shared_lake(self.root, self.policy, self.database)
            if self._run_id or self._step:
                self._lake.run_id, self._lake.step = self._run_id, self._step
        if self._lake is None:
            self._lake = IcebergLake(
                self.spark,
                self.root,
                self.policy,
                self.database,
                run_id=self._run_id,
                step=self._step,
            )
        return self._lake

    def name_run(self, run_id: str, step: str) -> None:
        """The run and step every later commit names in its snapshot summary."""
        self._run_id, self._step = run_id, step
        if self._lake is not None:
            self._lake.run_id, self._lake.step = run_id, step

    # -- paths -------------------------------------------------------------------------
    def path(self, name: str) -> str:
        """Where table `name` lives (no catalog opened)."""
        return locate(self.root, name, self.policy).location

    def quarantine_path(self, name: str) -> str:
        return locate(self.root, quarantine_name(name), self.policy).location

    def exists(self, name: str) -> bool:
        """Whether table `name` has a snapshot whose data files are all there: a damaged table (a
        data file of its current snapshot missing, issue #27) counts as absent, so that freshness
        runs the step that writes it again and that step rebuilds it whole."""
        if self.is_local and not Path(self.root, config.ICEBERG_CATALOG_FILE).is_file():
            return False
        return self.lake.exists(name) and not self.damaged(name)

    def exists_at_all(self) -> bool:
        """Whether there is an Iceberg lake at the root (locally: its catalog file)."""
        return not self.is_local or Path(self.root, config.ICEBERG_CATALOG_FILE).is_file()

    def damaged(self, name: str) -> list[str]:
        """The data files of table `name`'s current snapshot that are missing (none when absent)."""
        t = self.lake.table(name)
        snapshot = None if t is None else t.current_snapshot()
        if snapshot is None:
            return []
        key = (name, snapshot.snapshot_id)
        if key not in self._checked:  # a snapshot's files never change: its manifests are read once
            files, _ = icefiles.live_data_files(t)
            self._checked[key] = [f.file_path for f in files]
        return icefiles.missing(self._checked[key])  # whether they are still there: asked each time

    # -- read --------------------------------------------------------------------------
    def read(self, name: str) -> DataFrame:
        return self.lake.read(name)

    def read_staged(self, staged: Staged, *, added_only: bool = False) -> DataFrame:
        return self.lake.read_staged(staged, added_only=added_only)

    def read_quarantine(self, name: str) -> DataFrame:
        quarantine = self.lake.quarantine(name)
        if not self.lake.exists(quarantine):
            return self.spark.createDataFrame([], spark_schema(self.lake.place(quarantine).columns))
        return self.lake.read(quarantine)

    def read_part(self, name: str, part: str) -> DataFrame:
        """Of a snapshot that added rows (an append): the rows it added to ("old") or its own
        ("new")."""
        t = self.lake.table(name)
        current = t.current_snapshot()
        parent = current.parent_snapshot_id
        if part == "old":
            if parent is None:
                return self.spark.createDataFrame([], spark_schema(self.lake.place(name).columns))
            return self.lake.read(name, parent)
        before = (
            {f.file_path for f in icefiles.live_data_files(t, parent)[0]}
            if parent is not None
            else set()
        )
        added = [f.file_path for f in icefiles.live_data_files(t)[0] if f.file_path not in before]
        schema = spark_schema(self.lake.place(name).columns)
        if not added:
            return self.spark.createDataFrame([], schema)
        return self.spark.read.schema(schema).parquet(*[icefiles._local(p) for p in added])

    # -- versions and markers ------------------------------------------------------------
    def version(self, name: str) -> str | None:
        snapshot = self.lake.snapshot_id(name) if self.exists(name) else None
        return None if snapshot is None else str(snapshot)

    def snapshot_meta(self, name: str) -> dict:
        """What the current snapshot recorded: its `stedi.*` summary properties (the `meta` it was
        staged with: policy, inputs, base, ...), and its rows; {} when the table is absent."""
        if not self.exists(name):
            return {}
        summary = self.lake.summary(name)
        found = {"table": name, "rows": int(summary.get("total-records", 0))}
        for key, value in summary.items():
            if key.startswith(STEDI):
                # Objects, lists and None were stored as JSON (IcebergLake.snapshot_properties);
                # strings as they are.
                decoded = value.startswith(("{", "[")) or value == "null"
                found[key[len(STEDI) :]] = json.loads(value) if decoded else value
        return found

    def rows(self, name: str) -> int:
        return self.lake.rows(name)

    def described(self, name: str) -> dict:
        """Table `name` as it is now: {table, zone, rows, snapshot_id, path} (what `publish`
        returns)."""
        return self.lake.described(name)

    # -- write ---------------------------------------------------------------------------
    def stage(
        self, name: str, df: DataFrame, *, meta: dict | None = None, append: bool = False
    ) -> Staged:
        meta = dict(meta or {})
        if append and self.exists(name):
            meta["base"] = self.version(
                name
            )  # the snapshot this one adds rows to (incremental runs)
        return self.lake.stage(name, df, append=append, meta=meta)

    def publish(self, staged: Staged, *, always: bool = False) -> dict:
        """Commit a staged table; `always`: even an append of no row (a landing table committed with
        its quarantine, both naming the run: see `unfinished_pairs`)."""
        return self.lake.publish(staged, always=always)

    def discard(self, staged: Staged) -> None:
        self.lake.discard(staged)

    def write(self, name: str, df: DataFrame) -> dict:
        return self.publish(self.stage(name, df))

    def stage_quarantine(self, name: str, df: DataFrame, *, append: bool = False) -> Staged:
        return self.stage(self.lake.quarantine(name), df, append=append)

    def publish_quarantine(self, staged: Staged) -> str:
        """Commit a staged quarantine, even of no new row: its snapshot names the run as its table's
        does."""
        self.lake.publish(staged, always=True)
        return self.lake.place(staged.name).location

    def write_quarantine(self, name: str, df: DataFrame) -> str:
        return self.publish_quarantine(self.stage_quarantine(name, df))

    # -- erasure ---------------------------------------------------------------------------
    def forget_history(self, names: list[str] | None = None) -> dict[str, int]:
        """Expire every snapshot but the current one of each table (default: all present) and delete
        the files nothing reaches; {table: files deleted}. Once a run has rebuilt the tables without
        an erased customer, this leaves no file holding them (stedi.lake.icemaint)."""
        from stedi.lake import icemaint

        if self.is_local and not Path(self.root, config.ICEBERG_CATALOG_FILE).is_file():
            return {}
        chosen = self.lake.names() if names is None else names
        return {name: len(icemaint.expire_and_vacuum(self.lake, name)) for name in chosen}

    # -- SQL -------------------------------------------------------------------------------
    def register(self, name: str) -> None:
        """Table `name` as a temporary view of its pinned read (no engine reads a bare location)."""
        self.lake.read(name).createOrReplaceTempView(name)

    def catalog_columns(self, name: str) -> list[tuple[str, str, bool]]:
        """(column, Spark type name, nullable) of table `name`'s Iceberg schema in the catalog."""
        from stedi.lake.iceschema import spark_type_name

        return [
            (f.name, spark_type_name(f.field_type), not f.required)
            for f in self.lake.table(name).schema().fields
        ]

    def register_existing(self) -> list[str]:
        present = [name for name in TABLES if self.exists(name)]
        for name in present:
            self.register(name)
        return present

    def register_as_of(self, run_id: str, runs: list[str] | None = None) -> dict[str, int]:
        """Every table as it stood after run `run_id` (`stedi sql --as-of`): a temporary view of the
        latest snapshot committed by that run or before it; {table: snapshot id}. A table with no
        snapshot by then has no view."""
        chosen = {}
        for name in [n for n in TABLES if self.exists(n)]:
            snapshot = self.lake.as_of(name, run_id, runs)
            if snapshot is not None:
                self.lake.read(name, snapshot).createOrReplaceTempView(name)
                chosen[name] = snapshot
        return chosen

    def sql(self, query: str) -> DataFrame:
        return self.spark.sql(query)

    # -- runs ------------------------------------------------------------------------------
    def policies(self) -> dict[str, str]:
        """{policy: a table whose current snapshot a run of that policy committed}: what the lake
        holds."""
        found: dict[str, str] = {}
        if not self.exists_at_all():
            return found
        # Engineless (the runner's check before a run), the tables loaded here are the process's
        # shared ones: the freshness checks that follow load none of them again.
        for name in self.lake.names():
            policy = self.lake.summary(name).get(POLICY)
            if policy:
                found.setdefault(policy, name)
        return found

    def refuse_other_policy(self) -> None:
        """One line (SchemaMismatch) when the lake holds another policy's tables: a lake holds one
        policy's tables (the ML table's columns differ by policy); nothing is replaced silently."""
        other = {p: n for p, n in self.policies().items() if p != self.policy}
        if other:
            policy, name = sorted(other.items())[0]
            raise SchemaMismatch(
                f"the lake at {self.root} holds policy {policy}'s tables ({name}, ...), not policy "
                f"{self.policy}'s; "
                f"run with --policy {policy}, or build policy {self.policy} into another lake "
                "(--lake-dir)"
            )

    def unfinished_pairs(self) -> list[str]:
        """Landing tables whose quarantine's current snapshot names another run than theirs: a run
        killed between the two commits (the table first, then its quarantine). The next run lands
        them again (both commits naming it)."""
        found = []
        for name in TABLES:
            quarantine = self.lake.quarantine(name)
            if TABLES[name].zone != "landing" or not self.exists(name):
                continue
            # No quarantine at all: the first run was killed between the two commits.
            mine, held = self.lake.summary(name), self.lake.summary(quarantine)
            if mine.get(RUN_ID) != held.get(RUN_ID):
                found.append(name)
        return found


_shared: dict[tuple, object] = {}
_shared_lock = threading.Lock()


def _cached(key: tuple, make):
    """The object cached under `key`, made anew when its lake's catalog was closed since
    (stedi.lake.catalogs.forget_catalogs, as the tests do between lakes)."""
    from stedi.lake import catalogs

    with _shared_lock:
        found = _shared.get(key)
        lake = found if isinstance(found, IcebergLake) else getattr(found, "_lake", None)
        if lake is not None and not any(
            catalog is lake.catalog for catalog, _ in catalogs._catalogs.values()
        ):
            found = None
        if found is None:
            found = _shared[key] = make()
        return found


def _shared_lake(root: str, policy: str, database: str) -> IcebergLake:
    """The engineless IcebergLake of the lake at `root` in this process: its loaded tables are kept
    (loaded again only when the catalog names another metadata file, as after a commit by the
    kernel), so a run's freshness checks load each table once instead of once per question."""

    def opened() -> IcebergLake:
        lake = IcebergLake(None, root, policy, database)
        lake.loaded_tables = {}
        return lake

    return _cached(("lake", root, policy, database), opened)


def engineless(root: str, database: str = config.DEFAULT_DATABASE) -> IcebergTables:
    """The one engineless IcebergTables of the lake at `root` in this process: with the shared lake
    object, the data files each snapshot lists (its manifests read once) serve every freshness
    check. An S3 lake's is opened anew each time (its catalog depends on the AWS settings of the
    moment)."""
    if storage.is_s3(config.resolve(root)):
        return IcebergTables(None, root, database=database)
    return _cached(
        ("tables", config.resolve(root), database),
        lambda: IcebergTables(None, root, database=database),
    )


def table_version(root: str, name: str, database: str = config.DEFAULT_DATABASE) -> str | None:
    """The current snapshot of table `name` of the Iceberg lake at `root` (no engine), None when
    absent or damaged: what stedi.run.freshness compares (on S3: in the Glue database
    `database`)."""
    return engineless(root, database).version(name)


def table_rows(root: str, name: str, database: str = config.DEFAULT_DATABASE) -> int | None:
    """Rows of table `name`'s current snapshot (from its summary), None when absent."""
    tables = engineless(root, database)
    return tables.rows(name) if tables.exists(name) else None


def unfinished_pairs(root: str, database: str = config.DEFAULT_DATABASE) -> list[str]:
    """The landing tables of the lake at `root` a killed run committed without their quarantine (no
    engine)."""
    tables = engineless(root, database)
    return tables.unfinished_pairs() if tables.exists_at_all() else []


def forget_history(root: str, database: str = config.DEFAULT_DATABASE) -> dict[str, int]:
    """Expire every older snapshot of every table of the lake at `root` (its Glue database
    `database` on S3) and delete the files nothing reaches (after a run that applied erasures);
    {table: files deleted}."""
    tables = IcebergTables(None, root, database=database)
    deleted = tables.forget_history() if tables.exists_at_all() else {}
    icefiles.delete_files(
        [f"{tables.root}/{config.HISTORY_TO_FORGET_FILE}"]
    )  # done: see history_to_forget
    return deleted


def mark_history_to_forget(root: str, run_id: str) -> None:
    """Note in the lake, before an erasure request is marked done, that its history must be
    forgotten: a run killed before `forget_history` finished leaves it for the next run
    (stedi.run.runner)."""
    storage.write_text(f"{config.resolve(root)}/{config.HISTORY_TO_FORGET_FILE}", f"{run_id}\n")


def history_to_forget(root: str) -> bool:
    """Whether a run applied an erasure whose history no run has forgotten yet
    (mark_history_to_forget)."""
    return storage.read_text(f"{config.resolve(root)}/{config.HISTORY_TO_FORGET_FILE}") is not None
