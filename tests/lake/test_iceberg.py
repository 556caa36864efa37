"""stedi.lake.iceberg and stedi.lake.icemaint on real Sail (and local Spark for its read path), tiny
frames.

Each test opens its own lake under tmp_path. The moto (S3 + Glue) tests are in test_iceberg_glue.py.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from pathlib import Path

import pytest

from engines import on, on_sail
from lake_files import holding, kinds
from stedi import config
from stedi.core.tables import CUSTOMER_COLUMNS
from stedi.errors import UsageError
from stedi.lake import icefiles, icemaint
from stedi.lake.catalogs import CommitConflict, PreviousVersionLake, forget_catalogs
from stedi.lake.iceberg import IcebergLake, SchemaMismatch, SnapshotRefused
from stedi.lake.snapshots import RUN_ID

CUSTOMER_SCHEMA = ", ".join(f"`{n}` {t}" for n, t in CUSTOMER_COLUMNS)
ACCEL_SCHEMA = "user string, timestamp bigint, x double, y double, z double"


def customer(email: str, serial: str, name: str = "Ann") -> tuple:
    return (name, email, "555-0100", "1990-01-01", serial, 1, 2, 3, None, None)


@pytest.fixture(autouse=True)
def _fresh_catalogs():
    yield
    forget_catalogs()  # no SQLite connection kept on a removed tmp_path


@pytest.fixture
def lake(tmp_path, sail):
    with on_sail():
        yield IcebergLake(sail, str(tmp_path / "lake"), run_id="r1", step="00")


def frame(lake, rows, schema=ACCEL_SCHEMA):
    return lake.spark.createDataFrame(rows, schema)


def content(df) -> list[tuple]:
    return sorted(tuple(r) for r in df.collect())


def accel(n: int, user: str = "a@x.com", start: int = 0) -> list[tuple]:
    return [(user, start + i, 1.0, 2.0, 3.0) for i in range(n)]


def publish(lake, name, rows, *, append=False, schema=ACCEL_SCHEMA, **kwargs):
    return lake.publish(lake.stage(name, frame(lake, rows, schema), append=append), **kwargs)


# -- opening a lake ---------------------------------------------------------------------
def test_a_local_lake_has_its_sql_catalog_in_catalog_db_and_the_namespace_stedi(lake):
    assert Path(lake.root, config.ICEBERG_CATALOG_FILE).is_file()
    assert (config.DEFAULT_DATABASE,) in lake.catalog.list_namespaces()
    assert type(lake.catalog).__name__ == "SqlCatalog"


@pytest.mark.parametrize("mark", [".versions", "_stedi_rows.json"])
def test_a_lake_of_the_previous_version_is_refused_in_one_line(tmp_path, sail, mark):
    old = tmp_path / "old"
    (old / "trusted" / "customer_trusted").mkdir(parents=True)
    target = (
        old / "trusted" / mark
        if mark == ".versions"
        else old / "trusted" / "customer_trusted" / mark
    )
    target.mkdir() if mark == ".versions" else target.write_text("{}")
    with pytest.raises(PreviousVersionLake) as refused:
        IcebergLake(sail, str(old))
    message = str(refused.value)
    assert "\n" not in message and "stedi run --full" in message and "previous version" in message
    assert not (old / config.ICEBERG_CATALOG_FILE).exists()  # nothing written into it


def test_tables_are_created_from_the_declared_columns_with_zone_and_no_identifier_metrics(lake):
    t = lake.ensure("customer_landing")
    assert [f.name for f in t.schema().fields] == [n for n, _ in CUSTOMER_COLUMNS]
    assert t.location() == f"{lake.root}/landing/customer_landing"
    props = t.properties
    assert props["stedi.zone"] == "landing"
    for column in ("customerName", "email", "phone", "birthDay", "serialNumber"):
        assert props[f"write.metadata.metrics.column.{column}"] == "none"
    assert "write.metadata.metrics.column.registrationDate" not in props
    q = lake.ensure(lake.quarantine("customer_landing"))
    assert q.name() == ("stedi", "customer_landing_quarantine")
    assert q.location() == f"{lake.root}/quarantine/customer_landing"
    assert (
        q.properties["stedi.zone"] == "quarantine"
        and q.properties["write.metadata.metrics.column.raw"] == "none"
    )
    assert lake.exists("customer_landing") is False  # created, nothing published yet
    with pytest.raises(KeyError, match="unknown table"):
        lake.ensure("no_such_table")


def test_a_table_made_with_the_other_policys_columns_is_refused_in_one_line(tmp_path, sail):
    with on_sail():
        IcebergLake(sail, str(tmp_path / "lake"), policy="udacity").ensure(
            "machine_learning_curated"
        )
        with pytest.raises(SchemaMismatch, match="policy strict declares") as refused:
            IcebergLake(sail, str(tmp_path / "lake"), policy="strict").ensure(
                "machine_learning_curated"
            )
    assert "\n" not in str(refused.value)


# -- stage, check, commit -------------------------------------------------------------------
def test_replace_append_and_unchanged_make_one_snapshot_or_none_naming_the_run(lake):
    first = publish(lake, "accelerometer_landing", accel(3))
    assert first["rows"] == 3 and first["zone"] == "landing"
    lake.run_id, lake.step = "r2", "00"
    publish(lake, "accelerometer_landing", accel(2, start=10), append=True)
    lake.run_id = "r3"
    publish(lake, "accelerometer_landing", accel(4, user="b@x.com"))
    lake.run_id = "r4"
    publish(lake, "accelerometer_landing", accel(1, user="c@x.com"), unchanged=True)
    publish(lake, "accelerometer_landing", [], append=True)

    history = lake.history("accelerometer_landing")
    assert [
        (h["run_id"], h["operation"], h["rows_added"], h["rows_deleted"], h["rows_total"])
        for h in history
    ] == [
        ("r1", "append", 3, 0, 3),
        ("r2", "append", 2, 0, 5),
        ("r3", "overwrite", 4, 5, 4),  # ONE snapshot for the replacement, not delete-then-append
    ]
    assert {h["step"] for h in history} == {"00"} and {h["policy"] for h in history} == {"strict"}
    assert content(lake.read("accelerometer_landing")) == sorted(accel(4, user="b@x.com"))
    assert lake.rows("accelerometer_landing") == 4
    assert lake.summary("accelerometer_landing")[RUN_ID] == "r3"
    # No staged folder is left: every data file is committed or removed.
    data = Path(lake.place("accelerometer_landing").location, config.ICEBERG_DATA_DIR)
    assert not [p for p in data.iterdir() if not any(p.iterdir())]


def test_a_failed_check_commits_nothing_and_removes_the_staged_files(lake):
    publish(lake, "accelerometer_trusted", accel(2))
    location = lake.place("accelerometer_trusted").location
    before, snapshot = icefiles.files_under(location), lake.snapshot_id("accelerometer_trusted")
    seen = []

    def no_b_users(staged_frame, staged):
        seen.append(content(staged_frame))
        if staged_frame.where("user = 'b@x.com'").count():
            raise ValueError("error rule failed: user b@x.com")

    staged = lake.stage("accelerometer_trusted", frame(lake, accel(1, user="b@x.com")))
    assert Path(staged.folder).is_dir() and staged.rows == 1
    with pytest.raises(ValueError, match="error rule failed"):
        lake.publish(staged, checks=[no_b_users])
    assert seen == [sorted(accel(1, user="b@x.com"))]  # the check saw the staged rows
    assert lake.snapshot_id("accelerometer_trusted") == snapshot
    assert icefiles.files_under(location) == before and not Path(staged.folder).exists()
    with pytest.raises(RuntimeError, match="3 expected"):
        publish(lake, "accelerometer_trusted", accel(2), expected_rows=3)
    assert lake.snapshot_id("accelerometer_trusted") == snapshot
    assert icefiles.files_under(location) == before


def test_reads_are_pinned_and_both_engines_read_the_same_snapshot(lake, spark):
    publish(
        lake,
        "step_trainer_trusted",
        [(1, "s-1", 5), (2, "s-2", 6)],
        schema="sensorReadingTime bigint, serialNumber string, distanceFromObject int",
    )
    day1 = lake.snapshot_id("step_trainer_trusted")
    lake.run_id = "r2"
    publish(
        lake,
        "step_trainer_trusted",
        [(3, "s-3", 7)],
        append=True,
        schema="sensorReadingTime bigint, serialNumber string, distanceFromObject int",
    )
    # A file Sail would take by a bare-location read: a newer metadata file no catalog names.
    metadata = Path(lake.place("step_trainer_trusted").location, "metadata")
    newest = max(metadata.glob("*.metadata.json"))
    shutil.copy(
        min(metadata.glob("*.metadata.json")), metadata / ("99999-" + newest.name.split("-", 1)[1])
    )

    t = lake.table("step_trainer_trusted")
    assert not icefiles.newest_metadata_is_current(t)  # so even Sail's Iceberg reader is not used
    assert content(lake.read("step_trainer_trusted", day1, iceberg_reader=True)) == [
        (1, "s-1", 5),
        (2, "s-2", 6),
    ]
    sail_day1 = content(lake.read("step_trainer_trusted", day1))
    sail_now = content(lake.read("step_trainer_trusted"))
    assert sail_day1 == [(1, "s-1", 5), (2, "s-2", 6)] and len(sail_now) == 3
    with on("spark"):
        local = IcebergLake(spark, lake.root)
        assert content(local.read("step_trainer_trusted", day1)) == sail_day1
        assert content(local.read("step_trainer_trusted")) == sail_now
        assert local.read("step_trainer_trusted").schema == lake.read("step_trainer_trusted").schema


def test_sail_reads_by_snapshot_id_when_the_newest_metadata_file_is_the_catalogs(lake, monkeypatch):
    publish(lake, "accelerometer_trusted", accel(2))
    first = lake.snapshot_id("accelerometer_trusted")
    publish(lake, "accelerometer_trusted", accel(1, start=7), append=True)
    assert icefiles.newest_metadata_is_current(lake.table("accelerometer_trusted"))
    reader = type(lake.spark.read)
    formats, options = [], []
    real_format, real_option = reader.format, reader.option
    monkeypatch.setattr(reader, "format", lambda self, f: formats.append(f) or real_format(self, f))
    monkeypatch.setattr(
        reader, "option", lambda self, k, v: options.append((k, v)) or real_option(self, k, v)
    )
    assert content(lake.read("accelerometer_trusted", first, iceberg_reader=True)) == sorted(
        accel(2)
    )
    assert formats == ["iceberg"] and options == [
        ("snapshot-id", str(first))
    ]  # Iceberg's read, pinned
    formats.clear()
    assert content(lake.read("accelerometer_trusted", first)) == sorted(accel(2))
    assert "iceberg" not in formats  # by default: the snapshot's data files, as Parquet


def test_a_frame_carrying_another_tables_field_ids_is_refused_in_one_line(lake):
    """Sail writes the Iceberg field ids of what it read into the Parquet files; after a join they
    are not the target table's, and pyiceberg would map the columns by them."""
    steps = "sensorReadingTime bigint, serialNumber string, distanceFromObject int"
    publish(lake, "step_trainer_trusted", [(1, "s-1", 5)], schema=steps)
    publish(lake, "accelerometer_trusted", [("a@x.com", 1, 1.0, 2.0, 3.0)])
    joined = (
        lake.read("step_trainer_trusted", iceberg_reader=True)
        .crossJoin(lake.read("accelerometer_trusted", iceberg_reader=True))
        .drop("user")
    )
    with pytest.raises(UsageError, match="field id") as refused:
        lake.stage("machine_learning_curated", joined)
    assert "\n" not in str(refused.value)
    assert lake.snapshot_id("machine_learning_curated") is None
    assert icefiles.files_under(lake.place("machine_learning_curated").location + "/data") == []
    plain = (
        lake.read("step_trainer_trusted").crossJoin(lake.read("accelerometer_trusted")).drop("user")
    )
    lake.publish(
        lake.stage("machine_learning_curated", plain)
    )  # read from data files: no ids, by name
    assert content(lake.read("machine_learning_curated")) == [(1, "s-1", 5, 1, 1.0, 2.0, 3.0)]


def test_local_spark_refuses_a_snapshot_with_delete_files_in_one_line(lake, spark, monkeypatch):
    publish(lake, "accelerometer_trusted", accel(2))
    files, _ = icefiles.live_data_files(lake.table("accelerometer_trusted"))
    # pyiceberg 0.12 writes no delete files (Athena's DELETE does): the snapshot is made to list
    # one.
    monkeypatch.setattr(
        icefiles, "live_data_files", lambda t, s=None: (files, ["/lake/x-deletes.parquet"])
    )
    with on("spark"), pytest.raises(SnapshotRefused, match="1 delete file") as refused:
        IcebergLake(spark, lake.root).read("accelerometer_trusted")
    assert "\n" not in str(refused.value)


def test_history_and_as_of_a_run(lake):
    for run, rows in (
        ("20261201T0000", accel(1)),
        ("20261202T0000", accel(2, start=5)),
        ("20261204T0000", accel(1, start=9)),
    ):
        lake.run_id = run
        publish(lake, "accelerometer_landing", rows, append=True)
    ids = [h["snapshot_id"] for h in lake.history("accelerometer_landing")]
    assert lake.as_of("accelerometer_landing", "20261202T0000") == ids[1]
    assert (
        lake.as_of("accelerometer_landing", "20261203T0000") == ids[1]
    )  # not written by that run: the one before
    assert lake.as_of("accelerometer_landing", "20261130T0000") is None
    assert lake.rows("accelerometer_landing") == 4
    assert lake.read("accelerometer_landing", ids[1]).count() == 3
    runs = [
        "20261204T0000",
        "20261201T0000",
        "20261202T0000",
    ]  # an explicit order wins over the ids
    assert lake.as_of("accelerometer_landing", "20261201T0000", runs) == ids[2]


# -- erasure ----------------------------------------------------------------------------
def test_erasure_leaves_no_file_under_the_lake_holding_the_address_or_serial(lake, sail):
    from pyspark.sql import functions as F

    erased, serial = "erase.me@example.com", "SERIAL-ERASED-0001"
    publish(
        lake,
        "customer_landing",
        [customer("keep@example.com", "SERIAL-KEEP-1"), customer(erased, serial)],
        schema=CUSTOMER_SCHEMA,
    )
    lake.run_id = "r2"
    publish(
        lake,
        "customer_landing",
        [customer("other@example.com", "SERIAL-KEEP-2")],
        append=True,
        schema=CUSTOMER_SCHEMA,
    )
    quarantine = lake.quarantine("customer_landing")
    publish(
        lake,
        quarantine,
        [
            ("f.json", 3, "broken", f'{{"email": "{erased}", "serialNumber": "{serial}"'),
            ("f.json", 4, "broken", "{not json"),
        ],
        schema="source_file string, position bigint, reason string, raw string",
    )
    assert holding(lake.root, erased) and holding(lake.root, serial)  # the test can see them

    lake.run_id, lake.step = "r3", "erase"
    started = time.perf_counter()
    done = [
        icemaint.erase(lake, "customer_landing", F.col("email") == erased),
        icemaint.erase(lake, quarantine, F.col("raw").contains(erased)),
    ]
    seconds = time.perf_counter() - started
    assert [d["rows_removed"] for d in done] == [1, 1]
    assert (
        done[0]["files_rewritten"] == 1
    )  # only the file holding the row; the appended one is kept
    assert holding(lake.root, erased) == [] and holding(lake.root, serial) == []
    assert {"avro", ".parquet", ".json", ".db"} <= set(kinds(lake.root))  # every kind was decoded
    assert content(lake.read("customer_landing").select("email")) == [
        ("keep@example.com",),
        ("other@example.com",),
    ]
    assert content(lake.read(quarantine).select("raw")) == [("{not json",)]
    history = lake.history("customer_landing")
    assert (
        len(history) == 1
        and history[0]["run_id"] == "r3"
        and history[0]["operation"] == "overwrite"
    )
    assert lake.summary("customer_landing")["stedi.erasure"] == "1"
    print(f"erasure of 2 tables: {seconds:.2f} s")


def test_erasure_without_a_matching_row_commits_nothing_but_removes_older_snapshots(lake):
    from pyspark.sql import functions as F

    publish(lake, "accelerometer_landing", accel(2, user="gone@x.com"))
    publish(
        lake, "accelerometer_landing", accel(2, user="kept@x.com")
    )  # replaced: gone@x.com only in the old snapshot
    assert holding(lake.root, "gone@x.com")
    current = lake.snapshot_id("accelerometer_landing")
    done = icemaint.erase(lake, "accelerometer_landing", F.col("user") == "gone@x.com")
    assert (
        done["rows_removed"] == 0 and done["files_deleted"] >= 3
    )  # the old data file, manifest list, metadata
    assert lake.snapshot_id("accelerometer_landing") == current
    assert holding(lake.root, "gone@x.com") == []


def test_vacuum_removes_staged_files_a_killed_process_left_behind(lake):
    publish(lake, "accelerometer_landing", accel(2))
    lake.stage(
        "accelerometer_landing", frame(lake, accel(1, user="left@x.com"))
    )  # never published nor discarded
    assert holding(lake.root, "left@x.com")
    deleted = icemaint.vacuum(lake, "accelerometer_landing")
    staged = [d for d in deleted if f"/{config.ICEBERG_STAGE_PREFIX}" in d]
    assert (
        len(staged) == 1
        and staged[0].endswith(".parquet")
        and holding(lake.root, "left@x.com") == []
    )
    assert all(
        d.endswith(".metadata.json") for d in deleted if d not in staged
    )  # older metadata only
    assert (
        lake.rows("accelerometer_landing") == 2 and lake.read("accelerometer_landing").count() == 2
    )


# -- concurrency --------------------------------------------------------------------------
def test_commits_from_several_threads_into_one_catalog_all_land(lake):
    names = [
        "accelerometer_landing",
        "accelerometer_trusted",
        "customer_landing_quarantine",
        "accelerometer_landing_quarantine",
        "step_trainer_landing_quarantine",
        "customer_trusted_quarantine",
    ]
    quarantine_row = [("f", 1, "r", "x")]
    errors = []

    def land(name):
        try:
            for i in range(3):
                if "quarantine" in name:
                    publish(
                        lake,
                        name,
                        quarantine_row * (i + 1),
                        append=True,
                        schema="source_file string, position bigint, reason string, raw string",
                    )
                else:
                    publish(lake, name, accel(i + 1, start=10 * i), append=True)
        except Exception as exc:
            errors.append(f"{name}: {exc!r}")

    threads = [threading.Thread(target=land, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {n: (lake.rows(n), len(lake.history(n))) for n in names} == dict.fromkeys(names, (6, 3))


def test_a_conflicting_commit_from_a_second_writer_fails_in_one_line_and_commits_nothing(
    lake, sail
):
    publish(lake, "accelerometer_trusted", accel(1))
    second = IcebergLake(sail, lake.root, run_id="other-run", step="03")
    mine = lake.stage("accelerometer_trusted", frame(lake, accel(2)))
    theirs = second.stage("accelerometer_trusted", frame(lake, accel(3)), append=True)
    second.publish(theirs)
    won = lake.snapshot_id("accelerometer_trusted")
    with pytest.raises(CommitConflict) as conflict:
        lake.publish(mine)
    message = str(conflict.value)
    assert "\n" not in message and "accelerometer_trusted" in message and str(won) in message
    assert (
        lake.snapshot_id("accelerometer_trusted") == won and lake.rows("accelerometer_trusted") == 4
    )
    assert not Path(mine.folder).exists()


# -- moved and copied lakes ------------------------------------------------------------------
def _digest(root) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in Path(root).rglob("*")
        if p.is_file()
    }


def test_a_copied_lake_is_relocated_and_never_touches_its_original(lake, sail, tmp_path):
    publish(lake, "accelerometer_landing", accel(2))
    lake.run_id = "r2"
    publish(lake, "accelerometer_landing", accel(1, start=5), append=True)
    publish(lake, "customer_trusted", [], schema=CUSTOMER_SCHEMA)  # an empty table moves too
    original = _digest(lake.root)
    ids = {name: lake.snapshot_id(name) for name in ("accelerometer_landing", "customer_trusted")}
    forget_catalogs()

    copy_root = shutil.copytree(lake.root, tmp_path / "copy")
    copy = IcebergLake(sail, str(copy_root), run_id="r3", step="01")
    assert copy.relocated == ["accelerometer_landing", "customer_trusted"]
    t = copy.table("accelerometer_landing")
    assert t.location() == f"{copy_root}/landing/accelerometer_landing"
    assert all(p.startswith(str(copy_root)) for p in icefiles.reachable(t))
    assert content(copy.read("accelerometer_landing")) == sorted(accel(2) + accel(1, start=5))
    summary = copy.summary("accelerometer_landing")
    assert summary[RUN_ID] == "r2" and summary["stedi.relocated-from"] == lake.root
    # The current snapshots keep their ids (what freshness compares): a copy's steps stay up to
    # date.
    assert {name: copy.snapshot_id(name) for name in ids} == ids
    assert copy.exists("customer_trusted") and copy.rows("customer_trusted") == 0
    publish(copy, "accelerometer_landing", accel(1, user="copy@x.com"), append=True)
    assert copy.rows("accelerometer_landing") == 4

    assert _digest(lake.root) == original  # not one byte of the original changed
    reopened = IcebergLake(sail, lake.root)
    assert reopened.relocated == [] and len(reopened.history("accelerometer_landing")) == 2
    assert reopened.rows("accelerometer_landing") == 3
    assert holding(lake.root, "copy@x.com") == []


def test_a_moved_lake_opens_at_its_new_place(lake, sail, tmp_path):
    publish(lake, "accelerometer_landing", accel(2))
    forget_catalogs()
    moved = Path(lake.root).rename(tmp_path / "moved")
    again = IcebergLake(sail, str(moved))
    assert again.relocated == ["accelerometer_landing"]
    assert content(again.read("accelerometer_landing")) == sorted(accel(2))
    assert IcebergLake(sail, str(moved)).relocated == []  # once


def test_a_copied_lake_missing_a_data_file_opens_and_the_table_is_found_damaged(
    lake, sail, tmp_path
):
    """Relocation re-commits the original's manifest entries at the copy's paths (it reads no data
    file): a data file missing from the copy stays listed, so the step that makes the table
    rebuilds it, as on the original (it used to stop the run with a FileNotFoundError)."""
    from stedi.lake.icelake import IcebergTables

    publish(lake, "accelerometer_landing", accel(2))
    publish(lake, "accelerometer_landing", accel(1, start=5), append=True)
    forget_catalogs()
    copy_root = shutil.copytree(lake.root, tmp_path / "copy")
    files, _ = icefiles.live_data_files(lake.table("accelerometer_landing"))
    missing = Path(str(copy_root) + files[0].file_path[len(lake.root) :])
    missing.unlink()
    copy = IcebergTables(sail, str(copy_root))
    assert copy.lake.relocated == ["accelerometer_landing"]
    assert copy.damaged("accelerometer_landing") == [str(missing)]
    assert copy.lake.rows("accelerometer_landing") == 3  # as the original's summary says


def test_a_lake_opened_through_a_symbolic_link_is_the_same_lake(lake, sail, tmp_path):
    publish(lake, "accelerometer_landing", accel(2))
    forget_catalogs()
    link = tmp_path / "link"
    link.symlink_to(lake.root)
    same = IcebergLake(sail, str(link), run_id="r2")
    assert same.relocated == [] and len(same.history("accelerometer_landing")) == 1
    publish(same, "accelerometer_landing", accel(1, start=5), append=True)
    deleted = icemaint.vacuum(
        same, "accelerometer_landing"
    )  # through the link: no committed file is "unreachable"
    assert all(p.endswith(".metadata.json") for p in deleted)
    assert IcebergLake(sail, lake.root).rows("accelerometer_landing") == 3
    assert content(IcebergLake(sail, lake.root).read("accelerometer_landing")) == sorted(
        accel(2) + accel(1, start=5)
    )


def test_a_published_folder_keeps_only_its_committed_data_files(tmp_path, spark):
    with on("spark"):  # Spark writes _SUCCESS and .crc files beside the Parquet files
        local = IcebergLake(spark, str(tmp_path / "lake"))
        staged = local.stage("accelerometer_landing", spark.createDataFrame(accel(2), ACCEL_SCHEMA))
        assert len(icefiles.files_under(staged.folder)) > len(staged.data_files)
        local.publish(staged)
        assert sorted(icefiles.files_under(staged.folder)) == sorted(
            f.file_path for f in staged.data_files
        )


SECOND_WRITER = """
import sys
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog

catalog = SqlCatalog("stedi", uri=f"sqlite:///{sys.argv[1]}/catalog.db")
table = catalog.load_table(("stedi", "accelerometer_trusted"))
table.append(pa.table({"user": ["z@x.com"], "timestamp": [9], "x": [0.0], "y": [0.0], "z": [0.0]},
                      schema=table.schema().as_arrow()))
"""


def test_a_commit_from_another_process_in_between_is_a_conflict_in_one_line(lake):
    import subprocess
    import sys

    publish(lake, "accelerometer_trusted", accel(1))
    mine = lake.stage("accelerometer_trusted", frame(lake, accel(2)))
    subprocess.run(
        [sys.executable, "-c", SECOND_WRITER, lake.root], check=True, capture_output=True
    )
    theirs = lake.snapshot_id("accelerometer_trusted")
    assert theirs != mine.base
    with pytest.raises(CommitConflict) as conflict:
        lake.publish(mine)
    assert "\n" not in str(conflict.value) and f"{mine.base} -> {theirs}" in str(conflict.value)
    assert lake.rows("accelerometer_trusted") == 2 and not Path(mine.folder).exists()


def test_a_staged_append_is_checked_as_the_table_it_would_make(lake):
    publish(lake, "accelerometer_landing", accel(2))
    staged = lake.stage(
        "accelerometer_landing", frame(lake, accel(1, user="new@x.com")), append=True
    )
    assert (staged.added_rows, staged.rows) == (1, 3)
    assert content(lake.read_staged(staged)) == sorted(accel(2) + accel(1, user="new@x.com"))
    assert content(lake.read_staged(staged, added_only=True)) == accel(1, user="new@x.com")
    with pytest.raises(RuntimeError, match="3 rows were staged, 2 expected"):
        lake.publish(staged, expected_rows=2)
    assert lake.rows("accelerometer_landing") == 2
