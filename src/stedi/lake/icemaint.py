"""Keeping an Iceberg lake: physical erasure, vacuum, and tables of a moved or copied lake.

- `erase`: the engine finds the data files holding a row that meets a condition; those files
  are rewritten without such rows and replaced in ONE overwrite commit; every older snapshot
  is expired and every file the current metadata no longer reaches is deleted (pyiceberg
  0.12 deletes none itself), so no file under the table keeps an erased row.
- `vacuum`: that last part alone (also removes staged files a killed process left behind).
- `relocate_moved_tables`: a local lake opened at another folder than the one its tables
  were made in (Iceberg stores absolute paths) gets its tables re-registered at the new
  place, from the current snapshots' files there; the original is never read for data,
  written or deleted from (docs/decisions/0001-iceberg-storage.md, decision 9).
"""

from __future__ import annotations

import os
import time
from functools import reduce
from typing import TYPE_CHECKING

from stedi.errors import UsageError
from stedi.lake import faults, icefiles
from stedi.lake.iceschema import spark_schema
from stedi.lake.staged import SnapshotRefused, Staged

if TYPE_CHECKING:  # pyspark only where an engine runs (erasure); relocation and expiry need none
    from pyspark.sql import Column

RELOCATED_FROM = "stedi.relocated-from"
ERASURE = "erasure"  # meta key of an erasure's commit: stedi.erasure = the rows removed


def affected_files(lake, name: str, condition: Column) -> tuple[list, list]:
    """(all live data files, those holding a row that meets `condition`) of table `name`'s current
    snapshot: one engine job over the files, each tagged by its position (Sail has no
    input_file_name())."""
    t = lake.table(name)
    files, deletes = icefiles.live_data_files(t) if t is not None else ([], [])
    if deletes:
        raise SnapshotRefused(
            f"table {name} has delete files; erase it with an engine that applies them"
        )
    if not files:
        return [], []
    from pyspark.sql import functions as F

    schema = spark_schema(lake.place(name).columns)
    matches = F.coalesce(condition, F.lit(False))
    tagged = [
        lake.spark.read.schema(schema)
        .parquet(icefiles._local(f.file_path))
        .where(matches)
        .select(F.lit(i).alias("_file"))
        for i, f in enumerate(files)
    ]
    hit = {row[0] for row in reduce(lambda a, b: a.unionByName(b), tagged).distinct().collect()}
    return files, [f for i, f in enumerate(files) if i in hit]


def erase(lake, name: str, condition: Column) -> dict:
    """Remove every row of table `name` that meets `condition`, physically (see the module
    docstring).

    Returns {table, rows_removed, files_rewritten, files_deleted, seconds}. With no matching row
    nothing is committed, but older snapshots are still expired and unreachable files deleted:
    an earlier snapshot may hold the rows."""
    started = time.perf_counter()
    _, affected = affected_files(lake, name, condition)
    removed = 0
    if affected:
        from pyspark.sql import functions as F

        schema = spark_schema(lake.place(name).columns)
        keep = ~F.coalesce(condition, F.lit(False))
        kept = (
            lake.spark.read.schema(schema)
            .parquet(*[icefiles._local(f.file_path) for f in affected])
            .where(keep)
        )
        staged = lake.stage(name, kept, replaces=affected)
        removed = sum(f.record_count for f in affected) - staged.added_rows
        staged.meta[ERASURE] = str(removed)
        lake.publish(staged)
    deleted = expire_and_vacuum(lake, name)
    return {
        "table": name,
        "rows_removed": removed,
        "files_rewritten": len(affected),
        "files_deleted": len(deleted),
        "seconds": round(time.perf_counter() - started, 3),
    }


def expire_and_vacuum(lake, name: str) -> list[str]:
    """Expire every snapshot of `name` but the current one, then delete the files nothing
    reaches."""
    t = lake.table(name)
    if t is None:
        return []
    current = t.current_snapshot()
    older = [
        s.snapshot_id
        for s in t.snapshots()
        if current is None or s.snapshot_id != current.snapshot_id
    ]
    if older:
        with lake.lock:
            t.maintenance.expire_snapshots().by_ids(older).commit()
        faults.kill_point(f"expire:snapshots:{name}")  # tests only
    return vacuum(lake, name)


def vacuum(lake, name: str) -> list[str]:
    """Delete every file under table `name`'s location that its current metadata does not reach;
    returns them. Not while another writer stages files for this table (they would go too)."""
    t = lake.table(name)
    if t is None:
        return []
    with lake.lock:
        doomed = icefiles.unreachable(t)
        icefiles.delete_files(doomed[:1])
        faults.kill_point(f"expire:files:{name}")  # tests only
        icefiles.delete_files(doomed[1:])
    icefiles.remove_empty_folders(t.location())
    return doomed


# -- moved and copied lakes ----------------------------------------------------------------
def _catalog_rows(lake) -> dict[str, str]:
    """{table name: metadata location} of the lake's namespace, straight from catalog.db (loading a
    table would read its metadata at the old place)."""
    from pyiceberg.catalog.sql import IcebergTables
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    with lake.lock, Session(lake.catalog.engine) as session:
        rows = session.execute(
            select(IcebergTables.table_name, IcebergTables.metadata_location).where(
                IcebergTables.catalog_name == lake.catalog.name,
                IcebergTables.table_namespace == lake.database,
            )
        ).all()
    return {name: location for name, location in rows if location}


def _declared(name: str) -> bool:
    from stedi.core.tables import TABLES
    from stedi.lake.catalogs import is_quarantine

    return name in TABLES or is_quarantine(name)


def relocate_moved_tables(lake) -> list[str]:
    """Re-register at this lake's folder every table whose metadata lies elsewhere; returns their
    names."""
    moved = []
    for name, metadata_location in sorted(_catalog_rows(lake).items()):
        path = os.path.normpath(icefiles._local(metadata_location))
        if path.startswith(lake.root.rstrip("/") + "/"):
            continue
        place = lake.place(name) if _declared(name) else None
        if place is not None and icefiles.same_location(
            os.path.dirname(os.path.dirname(path)), place.location
        ):
            continue  # the same folder by another path (a symbolic link): not moved
        _relocate(lake, name, path)
        moved.append(name)
    return moved


def _relocate(lake, name: str, old_metadata: str) -> None:
    from pyiceberg.io.pyarrow import PyArrowFileIO
    from pyiceberg.manifest import ManifestContent, read_manifest_list
    from pyiceberg.serializers import FromInputFile

    place = lake.place(name)
    relative = os.path.relpath(place.location, lake.root)
    marker = f"/{relative}/metadata/"
    if marker not in old_metadata:
        raise UsageError(
            f"table {name} of the lake at {lake.root} was made at {old_metadata}, outside any lake "
            "layout; "
            f"rebuild the lake with `stedi run --full`"
        )
    old_root = old_metadata[: old_metadata.index(marker)]

    def here(path: str) -> str:
        path = os.path.normpath(icefiles._local(path))
        if not path.startswith(old_root + "/"):
            raise UsageError(
                f"table {name}: {path} is outside the lake it was made in ({old_root}); rebuild "
                "the lake"
            )
        return lake.root + path[len(old_root) :]

    io = PyArrowFileIO()
    metadata = FromInputFile.table_metadata(io.new_input(here(old_metadata)))
    snapshot = metadata.current_snapshot()
    live, summary = [], {}
    if snapshot is not None:
        summary = {
            k: v
            for k, v in snapshot.summary.additional_properties.items()
            if k.startswith("stedi.")
        }
        for manifest in read_manifest_list(io.new_input(here(snapshot.manifest_list))):
            if manifest.content != ManifestContent.DATA:
                raise UsageError(
                    f"table {name} has delete files; it cannot be moved: rebuild the lake"
                )
            manifest._data[0] = here(
                manifest.manifest_path
            )  # read the copy's manifest, not the original's
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                # The entry as the original committed it (its statistics, or none for the
                # identifier columns), at the copy's path; a data file missing from the copy stays
                # listed, so the table is found damaged and rebuilt (icelake.damaged).
                entry.data_file[1] = here(entry.data_file.file_path)
                live.append(entry.data_file)
    with lake.lock:
        lake.catalog.drop_table((lake.database, name))  # the catalog row only: no file is touched
        keep = {icefiles._normalized(f.file_path) for f in live}
        icefiles.delete_files(
            [f for f in icefiles.files_under(place.location) if icefiles._normalized(f) not in keep]
        )
        t = lake.catalog.create_table(
            (lake.database, name),
            schema=metadata.schema(),
            location=place.location,
            properties=metadata.properties,
        )
    icefiles.remove_empty_folders(place.location)
    if snapshot is None:
        return
    # The first snapshot here names the run, step and policy that made the original's current one.
    meta = {k[len("stedi.") :]: v for k, v in summary.items()}
    meta["relocated-from"] = old_root
    # Its id too: freshness compares snapshot ids, so a copied lake's steps stay up to date.
    lake._commit(
        Staged(
            name,
            t,
            place.location,
            live,
            append=True,
            meta=meta,
            snapshot_id=snapshot.snapshot_id,
        )
    )
