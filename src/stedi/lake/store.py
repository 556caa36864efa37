"""Read, write and register lake tables by name.

`<root>/<zone>/<table>/` on the local disk or on S3. Landing tables are cleaned
JSON lines, the others Parquet. Every table is also registered in a catalog
database (Spark's in-memory catalog locally, the Glue Data Catalog on AWS) so
that it can be queried by name with SQL.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from stedi import config
from stedi.core.schemas import spark_schema
from stedi.core.tables import TABLES, Table, ddl_columns, table
from stedi.lake import layout

VERSIONS_DIR = ".versions"
# Locally, a landing table's version (JSON lines, the zone's format) has a Parquet twin beside
# it, `<version>.parquet`, holding the same rows: the lake's own readers (the next steps, the
# quality rules) read that instead of parsing the JSON again. Written first, from the frame
# (the JSON is then written from it), appended to alike, removed with its version.
TWIN_SUFFIX = ".parquet"
ROWS_FILE = "_stedi_rows.json"  # in a table version: the rows written (Spark skips `_` names)


@dataclass(frozen=True)
class Staged:
    """A version of a table written but not yet published (see Lake.stage)."""

    name: str
    target: str  # the table's path
    location: str  # where this version was written (the target itself on S3)
    rows: int  # rows written, counted from the written version

QUARANTINE_COLUMNS = (
    ("source_file", "string"),
    ("position", "bigint"),
    ("reason", "string"),
    ("raw", "string"),
)


def publish_version(link: Path, version: Path) -> None:
    """Point `link` at `version` with one atomic rename (a folder of an older layout is moved aside)."""
    tmp = link.parent / f".link-{link.name}-{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(version, link.parent), tmp)
    if link.exists() and not link.is_symlink():
        link.rename(version.parent / f"unversioned-{uuid.uuid4().hex[:8]}")
    os.replace(tmp, link)


def _data_files(folder: Path) -> list[Path]:
    """The data files of a written table folder (the engines' `_SUCCESS`, `.crc` and our `_stedi_rows.json` left out)."""
    return [f for f in folder.iterdir() if f.is_file() and not f.name.startswith(("_", "."))]


def _twin(version: Path) -> Path:
    return version.with_name(version.name + TWIN_SUFFIX)


def _lines(path: Path, chunk: int = 1 << 22) -> int:
    """Lines of a text file (a last line without a newline counts)."""
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        while block := f.read(chunk):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


class Lake:
    """The lake at `root` (a local folder or an s3:// URI) and its catalog database.

    With $STEDI_LAKE_FORMAT=iceberg, `Lake(...)` is an stedi.lake.icelake.IcebergTables instead:
    the same methods over Iceberg tables (docs/decisions/0001-iceberg-storage.md)."""

    def __new__(cls, *args, **kwargs):
        root = args[1] if len(args) > 1 else kwargs.get("root", "")
        if cls is Lake and config.lake_format(str(root)) == "iceberg":
            from stedi.lake.icelake import IcebergTables

            return IcebergTables(*args, **kwargs)
        return super().__new__(cls)

    def __init__(
        self,
        spark: SparkSession,
        root: str,
        policy: str = config.DEFAULT_POLICY,
        database: str = config.DEFAULT_DATABASE,
    ):
        if policy not in config.POLICIES:
            raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(config.POLICIES)}")
        self.spark = spark
        self.root = config.resolve(root)
        self.policy = policy
        self.database = database
        self.is_local = not self.root.startswith("s3://")

    def name_run(self, run_id: str, step: str) -> None:
        """Nothing for a folder lake; an Iceberg lake names the run and step in each snapshot."""

    def unfinished_pairs(self) -> list[str]:
        """None for a folder lake (a landing table and its quarantine publish by renames)."""
        return []

    # -- paths ---------------------------------------------------------------
    def path(self, name: str) -> str:
        return layout.table_path(self.root, name)

    def quarantine_path(self, name: str) -> str:
        return layout.quarantine_path(self.root, name)

    def exists(self, name: str) -> bool:
        if self.is_local:
            return Path(self.path(name)).is_dir()
        return True  # pragma: no cover - S3 existence is checked by the read itself

    # -- read ----------------------------------------------------------------
    def read(self, name: str) -> DataFrame:
        table(name)  # an unknown name fails here, with the known ones listed
        if self.is_local and not self.exists(name):
            raise FileNotFoundError(
                f"table {name} does not exist at {self.path(name)}; run the step that writes it first"
            )
        return self._read_at(name, self.path(name))

    def _read_at(self, name: str, location: str) -> DataFrame:
        t = table(name)
        reader = self.spark.read
        if not self.is_local:  # pragma: no cover - on S3 a published table's files are in a version folder
            reader = reader.option("recursiveFileLookup", "true")
        if t.fmt == "json":
            twin = _twin(Path(location).resolve()) if self.is_local else None
            if twin is not None and twin.is_dir() and _data_files(twin):
                # The same rows, as Parquet: read without parsing JSON (see TWIN_SUFFIX).
                return reader.parquet(str(twin)).select(*[F.col(n).cast(typ).alias(n) for n, typ in t.columns])
            return reader.schema(spark_schema(t.columns)).json(location)
        return reader.parquet(location)

    # -- write ---------------------------------------------------------------
    def write(self, name: str, df: DataFrame) -> dict:
        """Replace table `name` with `df`; returns {table, zone, rows, path}.

        Locally the new version is written to a staging folder and then moved into
        place, so a failed write never leaves a half-written table behind. `rows` is
        counted from what was written (no second pass over the frame: see `written_rows`).
        """
        return self.publish(self.stage(name, df))

    def marker(self, name: str) -> dict:
        """What the current version of table `name` recorded when it was written ({} if nothing)."""
        if not self.is_local:
            return {}
        path = Path(self.path(name)) / ROWS_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    def read_part(self, name: str, part: str) -> DataFrame:
        """Of a version that added rows to another (`stage(..., append=True)`): its "old" rows (the
        version it added to) or its "new" ones. Locally only; a landing table's from its twin."""
        t = table(name)
        current = Path(self.path(name)).resolve()
        folder = _twin(current) if t.fmt == "json" else current
        files = [f for f in _data_files(folder) if f.name.startswith("base-") == (part == "old")]
        columns = [F.col(n).cast(typ).alias(n) for n, typ in t.columns]
        if not files:
            return self.spark.createDataFrame([], spark_schema(t.columns))
        return self.spark.read.parquet(*[str(f) for f in files]).select(*columns)

    def version(self, name: str) -> str | None:
        """The current version of a local table (its version folder's name); None on S3 or when absent."""
        link = Path(self.path(name))
        return os.readlink(link).rsplit("/", 1)[-1] if self.is_local and link.is_symlink() else None

    def stage(self, name: str, df: DataFrame, *, meta: dict | None = None, append: bool = False) -> Staged:
        """Write a complete new version of table `name`, not yet visible to readers.

        Locally `<zone>/<table>` is a symbolic link to `<zone>/.versions/<table>/<version>/`;
        the new version is written beside the current one (`publish` swaps the link, `discard`
        removes it). On S3, which has no rename, Spark overwrites the table in place. The
        rows written are counted from the written files (`written_rows`).
        """
        t = table(name)
        return self._stage_at(name, df, self.path(name), t.fmt, meta=meta, append=append)

    def read_staged(self, staged: Staged) -> DataFrame:
        """The staged version of a table, as readers will see it once published."""
        return self._read_at(staged.name, staged.location)

    def publish(self, staged: Staged, *, always: bool = False) -> dict:
        """Make a staged version the table (one atomic rename locally) and register it."""
        self._publish(staged)
        self.register(staged.name)
        t = table(staged.name)
        return {"table": staged.name, "zone": t.zone, "rows": staged.rows, "path": staged.target}

    def discard(self, staged: Staged) -> None:
        """Remove a staged version that will not be published (and its twin)."""
        if self.is_local and staged.location != staged.target:
            shutil.rmtree(staged.location, ignore_errors=True)
            shutil.rmtree(staged.location + TWIN_SUFFIX, ignore_errors=True)

    def rows(self, name: str) -> int:
        """Rows of table `name`: recorded when its version was written, else counted."""
        if self.is_local:
            marker = Path(self.path(name)) / ROWS_FILE
            if marker.is_file():
                return int(json.loads(marker.read_text())["rows"])
        return int(self.read(name).count())

    def write_quarantine(self, name: str, df: DataFrame) -> str:
        """Replace the quarantine of table `name` (JSON lines: source_file, position, reason, raw)."""
        return self.publish_quarantine(self.stage_quarantine(name, df))

    def stage_quarantine(self, name: str, df: DataFrame, *, append: bool = False) -> Staged:
        """Stage a new quarantine of table `name` (published by `publish_quarantine`); with `append`,
        the current quarantine's rows and `df`'s."""
        columns = [c for c, _ in QUARANTINE_COLUMNS]
        return self._stage_at(name, df.select(*columns), self.quarantine_path(name), "json", append=append)

    def publish_quarantine(self, staged: Staged) -> str:
        self._publish(staged)
        return staged.target

    def read_quarantine(self, name: str) -> DataFrame:
        return self.spark.read.schema(spark_schema(QUARANTINE_COLUMNS)).json(self.quarantine_path(name))

    def _stage_at(
        self, name: str, df: DataFrame, target: str, fmt: str, *, meta: dict | None = None, append: bool = False
    ) -> Staged:
        """A new version of the table at `target`: `df`, or with `append` the current version's
        files (hard links: nothing copied) and `df`'s rows as new files. `meta` is kept in the
        version's marker beside the rows written."""
        if not self.is_local:  # pragma: no cover - S3 has no rename; Spark overwrites in place
            df.write.mode("overwrite").format(fmt).save(target)
            return Staged(name, target, target, self.written_rows(target, fmt))
        link = Path(target)
        versions = link.parent / VERSIONS_DIR / link.name
        versions.mkdir(parents=True, exist_ok=True)
        version = versions / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        twin = _twin(version) if fmt == "json" and target == self.path(name) else None
        try:
            if twin is not None:
                df.write.parquet(str(twin))
                twin.mkdir(exist_ok=True)
                if _data_files(twin):  # else: nothing written, nothing to read back
                    df = self.spark.read.parquet(str(twin))
            df.write.format(fmt).save(str(version))
            version.mkdir(exist_ok=True)  # an engine may write no folder at all for an empty frame
            rows = self.written_rows(str(version), fmt)
            if append and link.is_dir():
                current = link.resolve()
                meta = {**(meta or {}), "base": current.name}  # the version this one adds rows to
                pairs = [(current, version)]
                if twin is not None and _twin(current).is_dir():
                    pairs.append((_twin(current), twin))
                for old, new in pairs:
                    for i, part in enumerate(_data_files(old)):
                        os.link(part, new / f"base-{i:05d}-{part.name.removeprefix('base-').split('-', 2)[-1]}")
                rows += json.loads((link / ROWS_FILE).read_text())["rows"]
            # Hidden from Spark's readers (a name starting with `_`), kept with the version.
            (version / ROWS_FILE).write_text(json.dumps({"table": name, "rows": rows, **(meta or {})}))
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            if twin is not None:
                shutil.rmtree(twin, ignore_errors=True)
            raise
        return Staged(name, target, str(version), rows)

    def written_rows(self, location: str, fmt: str) -> int:
        """Rows of the files just written at `location`, without computing the written frame again.

        The same on a classic session and on Spark Connect (Sail has no `Observation`), and
        no engine job locally: Parquet from the files' footers, JSON lines by counting the
        files' lines. On S3 the engine counts them (a Parquet count reads only footers). A plain int.
        """
        if self.is_local:
            files = _data_files(Path(location))
            if fmt == "parquet":
                import pyarrow.parquet as pq

                return sum(pq.read_metadata(f).num_rows for f in files)
            if all(f.suffix == ".json" for f in files):  # uncompressed, as both engines write by default
                return sum(_lines(f) for f in files)
        reader = self.spark.read.parquet if fmt == "parquet" else self.spark.read.text
        return int(reader(location).count())

    def _publish(self, staged: Staged) -> None:
        """Swap the table's link to the staged version; older versions (and any version left
        behind by a killed write, never linked) are removed. Readers, and a run killed at any
        moment, see the previous complete version or the new complete one, never a mix."""
        if not self.is_local or staged.location == staged.target:
            return
        link, version = Path(staged.target), Path(staged.location)
        publish_version(link, version)
        keep = {version, _twin(version)}
        for other in version.parent.iterdir():
            if other not in keep:
                shutil.rmtree(other, ignore_errors=True)

    # -- catalog -------------------------------------------------------------
    def register(self, name: str) -> None:
        """(Re)register table `name` in the catalog database, with its declared column types."""
        t: Table = table(name)
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        qualified = f"`{self.database}`.`{name}`"
        self.spark.sql(f"DROP TABLE IF EXISTS {qualified}")
        columns = ddl_columns(t.columns_for(self.policy))
        if self.is_local:
            self.spark.sql(
                f"CREATE TABLE {qualified} ({columns}) USING {t.fmt} LOCATION '{self.path(name)}'"
            )
        else:  # pragma: no cover - Glue Data Catalog through Spark's Hive support
            stored = (
                "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'"
                if t.fmt == "json"
                else "STORED AS PARQUET"
            )
            self.spark.sql(
                f"CREATE EXTERNAL TABLE {qualified} ({columns}) {stored} LOCATION '{self.path(name)}/'"
            )

    def register_existing(self) -> list[str]:
        """Register every table that exists in the lake; returns their names."""
        present = [name for name in TABLES if self.exists(name)]
        for name in present:
            self.register(name)
        return present

    def sql(self, query: str) -> DataFrame:
        self.spark.catalog.setCurrentDatabase(self.database)
        return self.spark.sql(query)
