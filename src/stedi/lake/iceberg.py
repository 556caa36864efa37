"""Every table of the lake an Apache Iceberg table: stage, check, commit; pinned reads; history.

The one storage layer (docs/decisions/0001-iceberg-storage.md): the only code that knows where
a table lives. Engines (Sail, Spark) write Parquet files; pyiceberg commits them, one snapshot
per publish, naming the run, step and policy in its summary. Every read is pinned to the
snapshot the catalog names. Erasure, vacuum and relocation: stedi.lake.icemaint.

    lake = IcebergLake(spark, "data/lake", run_id="20261207T0100", step="02")
    staged = lake.stage("customer_trusted", frame)          # files written, not visible
    lake.publish(staged, checks=[lambda df, s: ...])       # checked, then one commit
    lake.read("customer_trusted")                          # pinned to the current snapshot
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from stedi import config
from stedi.context import Engine, Policy
from stedi.core import storage
from stedi.core.tables import TABLES
from stedi.errors import UsageError
from stedi.lake import faults, icefiles
from stedi.lake.catalogs import (
    CommitConflict,
    Place,
    is_quarantine,
    load_table,
    locate,
    open_catalog,
    quarantine_name,
    refuse_previous_version,
)
from stedi.lake.iceschema import (
    _refuse_foreign_field_ids,
    _typed,
    iceberg_schema,
    spark_schema,
    table_properties,
)
from stedi.lake.snapshots import META_PREFIX, POLICY, RUN_ID, STEP, SnapshotHistory
from stedi.lake.staged import SchemaMismatch, SnapshotRefused, Staged

if TYPE_CHECKING:  # pyspark only where an engine runs: the runner's freshness checks start none
    from pyspark.sql import DataFrame, SparkSession


class IcebergLake(SnapshotHistory):
    """The lake at `root` (a local folder or `s3://bucket/prefix`) and its Iceberg catalog."""

    # a lake that only reads (the runner's): catalogs.load_table's
    loaded_tables: dict | None = None

    def __init__(
        self,
        spark: SparkSession,
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
        self.run_id, self.step = run_id, step
        refuse_previous_version(self.root)
        self.catalog, self.lock = open_catalog(self.root, database)
        if self.is_local:
            from stedi.lake.icemaint import relocate_moved_tables

            self.relocated = relocate_moved_tables(self)

    # -- tables ----------------------------------------------------------------
    def place(self, name: str) -> Place:
        return locate(self.root, name, self.policy)

    def quarantine(self, name: str) -> str:
        """The catalog name of table `name`'s quarantine (`<table>_quarantine`)."""
        return quarantine_name(name)

    def identifier(self, name: str) -> tuple[str, str]:
        return (self.database, self.place(name).name)

    def table(self, name: str):
        """The pyiceberg Table `name` as the catalog has it now, or None when it does not exist.
        A table that lives outside this lake is refused: a lake never writes elsewhere."""
        from pyiceberg.exceptions import NoSuchTableError

        place = self.place(name)
        with self.lock:
            try:
                t = load_table(self.catalog, self.identifier(name), self.loaded_tables)
            except NoSuchTableError:
                return None
        if not icefiles.same_location(t.location(), place.location):
            raise UsageError(
                f"table {name} of the lake at {self.root} lives at {t.location()}, not "
                f"{place.location}; "
                f"rebuild the lake with `stedi run --full`"
            )
        return t

    def ensure(self, name: str):
        """Table `name`, created empty (no snapshot) from its declared columns when missing."""
        t = self.table(name)
        place = self.place(name)
        if t is None:
            from pyiceberg.exceptions import TableAlreadyExistsError

            # another writer may make it meanwhile
            with self.lock, contextlib.suppress(TableAlreadyExistsError):
                self.catalog.create_table(
                    self.identifier(name),
                    schema=iceberg_schema(place.columns),
                    location=place.location,
                    properties=table_properties(place),
                )
            t = self.table(name)
        have = [(f.name, str(f.field_type)) for f in t.schema().fields]
        want = [(f.name, str(f.field_type)) for f in iceberg_schema(place.columns).fields]
        if have != want:
            raise SchemaMismatch(
                f"table {name} has columns {', '.join(n for n, _ in have)}, policy {self.policy} "
                "declares "
                f"{', '.join(n for n, _ in want)}; build this policy into another lake (--lake-dir)"
            )
        return t

    def names(self) -> list[str]:
        """The tables of the lake that exist (declared ones and quarantines), in declaration
        order."""
        with self.lock:
            present = {n for _, n in self.catalog.list_tables(self.database)}
        candidates = [n for t in TABLES for n in (t, quarantine_name(t))]
        return [n for n in candidates if n in present]

    def exists(self, name: str) -> bool:
        """Whether table `name` exists and has a snapshot (a published version)."""
        t = self.table(name)
        return t is not None and t.current_snapshot() is not None

    def snapshot_id(self, name: str) -> int | None:
        """The current snapshot of table `name` (its version), None when it has none."""
        t = self.table(name)
        s = None if t is None else t.current_snapshot()
        return None if s is None else s.snapshot_id

    # -- read ------------------------------------------------------------------
    def read(
        self, name: str, snapshot_id: int | None = None, *, iceberg_reader: bool = False
    ) -> DataFrame:
        """Table `name` as at `snapshot_id` (default: the current snapshot), with its declared
        columns.

        Both engines read the snapshot's data files, listed from the catalog's metadata. With
        `iceberg_reader`, Sail reads through its Iceberg reader pinned by snapshot id instead; a
        frame read so must not be written back: Sail writes its Iceberg field ids into the Parquet
        files, and after a join they are not the target table's (notes.md)."""
        t = self.table(name)
        if t is None or t.current_snapshot() is None:
            raise FileNotFoundError(
                f"table {name} does not exist in the lake at {self.root}; run the step that writes "
                "it first"
            )
        snapshot = t.current_snapshot() if snapshot_id is None else t.snapshot_by_id(snapshot_id)
        if snapshot is None:
            raise UsageError(
                f"table {name} has no snapshot {snapshot_id} (expired, or of another table)"
            )
        return self.read_snapshot(t, snapshot.snapshot_id, iceberg_reader=iceberg_reader)

    def read_snapshot(self, t, snapshot_id: int, *, iceberg_reader: bool = False) -> DataFrame:
        place = self.place(t.name()[-1])
        schema = spark_schema(place.columns)
        files, deletes = icefiles.live_data_files(t, snapshot_id)
        if not files:
            return self.spark.createDataFrame([], schema)
        if (
            iceberg_reader
            and Engine.of(self.spark) == Engine.SAIL
            and icefiles.newest_metadata_is_current(t)
        ):
            # Pinned to the snapshot; Sail looks it up in the newest metadata file it finds, which
            # was just checked to be the catalog's (else: the snapshot's files, as below).
            frame = (
                self.spark.read.format("iceberg")
                .option("snapshot-id", str(snapshot_id))
                .load(t.location())
            )
            return frame.selectExpr(*_typed(place.columns))
        if deletes:
            raise SnapshotRefused(
                f"table {place.name} snapshot {snapshot_id} has {len(deletes)} delete file(s), "
                "which a read of its "
                "data files cannot apply; rewrite the table without them (an Athena OPTIMIZE or a "
                "replacement)"
            )
        return self.spark.read.schema(schema).parquet(
            *[icefiles._local(f.file_path) for f in files]
        )

    # -- stage, check, commit --------------------------------------------------------
    def stage(
        self,
        name: str,
        df: DataFrame,
        *,
        append: bool = False,
        meta: dict | None = None,
        replaces: list | None = None,
    ) -> Staged:
        """Write `df` (cast to the declared columns) as Parquet into `<table>/data/stage-<id>/`.

        Nothing is visible until `publish`. With `append` the commit adds the files; otherwise it
        replaces every current data file (or only `replaces`, for an erasure). The table's current
        snapshot is kept: a commit on any other fails (CommitConflict)."""
        from pyiceberg.io.pyarrow import parquet_file_to_data_file

        t = self.ensure(name)
        place = self.place(name)
        folder = (
            f"{place.location}/{config.ICEBERG_DATA_DIR}/{config.ICEBERG_STAGE_PREFIX}"
            f"{self.run_id or 'run'}-{uuid.uuid4().hex[:12]}"
        )
        # By name in SQL text: `df[n]` resolves through plan ids, which Sail got wrong after the ML
        # table's join (two of seven columns went missing from the written files).
        typed = df.selectExpr(*_typed(place.columns))
        try:
            typed.write.parquet(folder)
            paths = icefiles.parquet_files(folder)
            for path in paths:
                _refuse_foreign_field_ids(t, name, path)
            data_files = [parquet_file_to_data_file(t.io, t.metadata, p) for p in paths]
        except BaseException:
            self._remove(folder)
            raise
        base_files, deletes = icefiles.live_data_files(t)
        if deletes:
            self._remove(folder)
            raise SnapshotRefused(
                f"table {name} has delete files; rewrite it without them before changing it"
            )
        faults.kill_point(f"staged:{name}")  # tests only: written, not committed
        if not append and replaces is None:
            replaces = base_files
        return Staged(
            name, t, folder, data_files, append, list(replaces or []), dict(meta or {}), base_files
        )

    def read_staged(self, staged: Staged, *, added_only: bool = False) -> DataFrame:
        """The table as the commit would make it (what a check sees: an append's base rows too), or
        with `added_only` the staged rows alone; the declared columns."""
        schema = spark_schema(self.place(staged.name).columns)
        files = staged.data_files if added_only else staged.files_after()
        paths = [icefiles._local(f.file_path) for f in files]
        return (
            self.spark.read.schema(schema).parquet(*paths)
            if paths
            else self.spark.createDataFrame([], schema)
        )

    def publish(
        self,
        staged: Staged,
        *,
        checks: Iterable[Callable[[DataFrame, Staged], None]] = (),
        expected_rows: int | None = None,
        unchanged: bool = False,
        always: bool = False,
    ) -> dict:
        """Check the staged files, then commit them as ONE snapshot; returns {table, zone, rows,
        snapshot_id, path}.

        A check that raises (or `expected_rows`, the table's rows once committed, not met) removes
        the staged files and commits nothing. `unchanged` (the caller found the rows equal to the
        current ones) commits nothing and keeps the current snapshot; so does an append of no row,
        unless `always` (a quarantine commits with its table, both naming the run). Files of no row
        are not committed."""
        try:
            if expected_rows is not None and staged.rows != expected_rows:
                raise RuntimeError(
                    f"{staged.name}: {staged.rows} rows were staged, {expected_rows} expected"
                )
            for check in checks:
                check(self.read_staged(staged), staged)
            if unchanged or (staged.append and staged.added_rows == 0 and not always):
                self.discard(staged)
            else:
                empty = [f.file_path for f in staged.data_files if f.record_count == 0]
                staged.data_files = [f for f in staged.data_files if f.record_count > 0]
                icefiles.delete_files(empty)
                self._commit(staged)
                faults.kill_point(f"commit:{staged.name}")  # tests only
                # What else the engine left in the folder (Spark's _SUCCESS and .crc files).
                kept = {icefiles._normalized(f.file_path) for f in staged.data_files}
                icefiles.delete_files(
                    [
                        f
                        for f in icefiles.files_under(staged.folder)
                        if icefiles._normalized(f) not in kept
                    ]
                )
        except BaseException:
            self.discard(staged)
            raise
        return self.described(staged.name)

    def discard(self, staged: Staged) -> None:
        """Remove a staged folder that will not be committed."""
        self._remove(staged.folder)

    def _remove(self, folder: str) -> None:
        icefiles.delete_files(icefiles.files_under(folder))
        icefiles.remove_empty_folders(folder)
        if self.is_local and os.path.isdir(folder):
            os.rmdir(folder)

    def _commit(self, staged: Staged) -> None:
        from pyiceberg.exceptions import CommitFailedException

        properties = self.snapshot_properties(staged.meta)
        with self.lock:
            tx = staged.table.transaction()
            update = tx.update_snapshot(snapshot_properties=properties)
            producer = update.fast_append() if staged.append else update.overwrite()
            producer._snapshot_id = (
                staged.snapshot_id or producer._snapshot_id
            )  # a relocated table's: its original's
            with producer as files:
                for data_file in staged.replaces:
                    files.delete_data_file(data_file)
                for data_file in staged.data_files:
                    files.append_data_file(data_file)
            try:
                tx.commit_transaction()
            except CommitFailedException:
                now = self.snapshot_id(staged.name)
                raise CommitConflict(
                    f"table {staged.name} changed while this change was staged (snapshot "
                    f"{staged.base} -> {now}, "
                    f"committed by another writer); nothing was committed: run again"
                ) from None

    def snapshot_properties(self, meta: dict | None = None) -> dict[str, str]:
        """The summary properties of this lake's commits: run id, step, policy and `stedi.<key>` per
        meta key."""
        properties = {RUN_ID: self.run_id, STEP: self.step, POLICY: self.policy}
        for key, value in (meta or {}).items():
            properties[f"{META_PREFIX}{key}"] = (
                value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            )
        return properties


__all__ = [
    "CommitConflict",
    "IcebergLake",
    "SchemaMismatch",
    "SnapshotRefused",
    "Staged",
    "is_quarantine",
]
