"""The Iceberg catalog of a lake: pyiceberg's SQL catalog in `<lake>/catalog.db` for a local lake,
the Glue Data Catalog for an `s3://bucket/prefix` lake. Where each table lives: `locate`.

One catalog object per lake and process (`open_catalog`), with a lock that serializes its
commits: the intake lands sources on several threads, and SQLite takes one writer at a time.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from stedi import config
from stedi.core import storage
from stedi.core.tables import TABLES, Columns, table
from stedi.errors import UsageError
from stedi.lake.layout import quarantine_path, table_path

# A quarantine's columns: the source file, the record's position in it, why it was held out, its
# text.
QUARANTINE_COLUMNS = (
    ("source_file", "string"),
    ("position", "bigint"),
    ("reason", "string"),
    ("raw", "string"),
)


class PreviousVersionLake(UsageError):
    """A lake made by the previous version (version folders, row markers): rebuild it."""


class CommitConflict(UsageError):
    """Another writer committed to the table since this change was staged: nothing was committed."""


@dataclass(frozen=True)
class Place:
    """Where a table of the lake lives and what it holds."""

    name: str  # the catalog's table name: a declared table, or `<table>_quarantine`
    zone: str  # landing, trusted, curated or quarantine
    location: str
    columns: Columns


def is_quarantine(name: str) -> bool:
    return (
        name.endswith(config.QUARANTINE_SUFFIX) and name[: -len(config.QUARANTINE_SUFFIX)] in TABLES
    )


def quarantine_name(name: str) -> str:
    """The catalog name of table `name`'s quarantine."""
    return table(name).name + config.QUARANTINE_SUFFIX


def locate(root: str, name: str, policy: str) -> Place:
    """Table `name` (declared, or a quarantine) of the lake at `root`: zone, location, columns for
    `policy`."""
    if is_quarantine(name):
        base = name[: -len(config.QUARANTINE_SUFFIX)]
        return Place(name, config.QUARANTINE_ZONE, quarantine_path(root, base), QUARANTINE_COLUMNS)
    t = table(name)  # an unknown name fails here, listing the known ones
    return Place(name, t.zone, table_path(root, name), t.columns_for(policy))


def previous_version_marks(root: str) -> list[str]:
    """What shows that the local lake at `root` was made by the previous version (empty when
    none)."""
    if storage.is_s3(root) or not Path(root).is_dir():
        return []
    found = []
    for zone in (*config.ZONES, config.QUARANTINE_ZONE):
        folder = Path(root) / zone
        if not folder.is_dir():
            continue
        for mark in config.PREVIOUS_LAKE_MARKS:
            found += [str(p) for p in folder.glob(mark)] + [
                str(p) for p in folder.glob(f"*/{mark}")
            ]
    return sorted(found)


def refuse_previous_version(root: str) -> None:
    marks = previous_version_marks(root)
    if marks:
        raise PreviousVersionLake(
            f"{root} is a lake of the previous version (it has {os.path.relpath(marks[0], root)}); "
            f"rebuild it into a new lake with `stedi run --full --lake-dir NEW_LAKE`"
        )


_catalogs: dict[tuple[str, str], tuple[object, threading.RLock]] = {}
_catalogs_lock = threading.Lock()


def open_catalog(root: str, database: str = config.DEFAULT_DATABASE):
    """(catalog, lock) of the lake at `root` (config.resolve'd), the namespace `database` created if
    missing."""
    settings = tuple(
        os.environ.get(n) for n in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION")
    )
    key = (root, database, settings)
    with _catalogs_lock:
        if key not in _catalogs:
            catalog = _glue_catalog() if storage.is_s3(root) else _sql_catalog(root)
            from pyiceberg.exceptions import NamespaceAlreadyExistsError

            if (database,) not in catalog.list_namespaces():
                # another process may make it meanwhile
                with contextlib.suppress(NamespaceAlreadyExistsError):
                    catalog.create_namespace(database)
            _catalogs[key] = (catalog, threading.RLock())
        return _catalogs[key]


def load_table(catalog, identifier: tuple[str, str], loaded: dict | None = None):
    """catalog.load_table; with `loaded` (kept by the caller: a lake that only reads, as the
    runner's checks), the table loaded before while the catalog still names its metadata file."""
    if loaded is None:
        return catalog.load_table(identifier)
    location = _metadata_location(catalog, identifier)
    cached = loaded.get(identifier)
    if location is not None and cached is not None and cached.metadata_location == location:
        return cached
    if location is None:
        t = catalog.load_table(identifier)
    else:
        t = _light_table(catalog, identifier, location)
    loaded[identifier] = t
    return t


def _metadata_location(catalog, identifier: tuple[str, str]) -> str | None:
    """The metadata file the catalog names for a table (a SQL catalog: one row read, no file), None
    when it cannot be told so cheaply (Glue). Raises NoSuchTableError when the table is not
    there."""
    from pyiceberg.catalog.sql import IcebergTables as CatalogRow
    from pyiceberg.catalog.sql import SqlCatalog

    if not isinstance(catalog, SqlCatalog):
        return None
    from pyiceberg.exceptions import NoSuchTableError
    from sqlalchemy import select

    namespace, name = identifier
    with catalog.engine.connect() as connection:  # Core, not an ORM session: a few times cheaper
        location = connection.execute(
            select(CatalogRow.metadata_location).where(
                CatalogRow.catalog_name == catalog.name,
                CatalogRow.table_namespace == namespace,
                CatalogRow.table_name == name,
            )
        ).scalar()
    if location is None:
        raise NoSuchTableError(f"{namespace}.{name}")
    return location


def _light_table(catalog, identifier: tuple[str, str], location: str):
    """The table whose metadata file is at `location` (a local SQL catalog's), read through
    pyiceberg's fsspec FileIO: what catalog.load_table gives, without importing pyarrow (and pandas
    with it) into a process that reads metadata and manifests only (the runner's checks)."""
    from pyiceberg.io.fsspec import FsspecFileIO
    from pyiceberg.serializers import FromInputFile
    from pyiceberg.table import Table

    io = FsspecFileIO(dict(catalog.properties))
    metadata = FromInputFile.table_metadata(io.new_input(location))
    return Table(
        identifier=identifier, metadata=metadata, metadata_location=location, io=io, catalog=catalog
    )


def forget_catalogs() -> None:
    """Drop the cached catalog objects (their SQLite connections close with them)."""
    with _catalogs_lock:
        for catalog, _ in _catalogs.values():
            engine = getattr(catalog, "engine", None)
            if engine is not None:
                engine.dispose()
        _catalogs.clear()


def _sql_catalog(root: str):
    from pyiceberg.catalog.sql import SqlCatalog

    Path(root).mkdir(parents=True, exist_ok=True)
    return SqlCatalog(
        config.ICEBERG_CATALOG_NAME,
        uri=f"sqlite:///{Path(root) / config.ICEBERG_CATALOG_FILE}",
        warehouse=f"file://{root}",
    )


def _glue_catalog():
    """pyiceberg's GlueCatalog; Glue's and S3's endpoints, region and credentials from the
    standard AWS settings (AWS_ENDPOINT_URL points both at moto in the tests)."""
    from pyiceberg.catalog.glue import GlueCatalog

    properties = {}
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        properties.update({"glue.region": region, "s3.region": region})
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        properties.update({"glue.endpoint": endpoint, "s3.endpoint": endpoint})
        if endpoint.startswith("http://"):
            # Sail's object store refuses a plain-HTTP endpoint ("HTTP error: builder error") unless
            # allowed; it reads this from the environment of the process its server runs in.
            os.environ.setdefault("AWS_ALLOW_HTTP", "true")
    return _sharing_file_io(GlueCatalog)(config.ICEBERG_CATALOG_NAME, **properties)


def _sharing_file_io(catalog_class):
    """`catalog_class` with one FileIO per set of properties: pyiceberg makes two new ones per
    `load_table`, and a PyArrowFileIO's first S3 access builds a new S3 filesystem (its AWS SDK
    client), about 0.1 s each: half the kernel's time of a run on an S3 lake (114 loads in an
    idle run)."""

    class SharingFileIO(catalog_class):
        def _load_file_io(self, properties=None, location=None):
            merged = {**self.properties, **(properties or {})}
            scheme = (location or "").partition("://")[0]
            key = (scheme, tuple(sorted(merged.items())))
            shared = self.__dict__.setdefault("_shared_file_io", {})
            if key not in shared:
                shared[key] = super()._load_file_io(properties or {}, location)
            return shared[key]

    SharingFileIO.__name__ = catalog_class.__name__  # what errors and type checks name
    return SharingFileIO
