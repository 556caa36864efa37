"""Read, write and register lake tables by name.

`<root>/<zone>/<table>/` on the local disk or on S3. Landing tables are cleaned
JSON lines, the others Parquet. Every table is also registered in a catalog
database (Spark's in-memory catalog locally, the Glue Data Catalog on AWS) so
that it can be queried by name with SQL.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from stedi import config
from stedi.schemas import spark_schema
from stedi.tables import TABLES, Table, ddl_columns, table

VERSIONS_DIR = ".versions"

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


class Lake:
    """The lake at `root` (a local folder or an s3:// URI) and its catalog database."""

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

    # -- paths ---------------------------------------------------------------
    def path(self, name: str) -> str:
        t = table(name)
        return f"{self.root}/{t.zone}/{t.name}"

    def quarantine_path(self, name: str) -> str:
        table(name)
        return f"{self.root}/{config.QUARANTINE_ZONE}/{name}"

    def exists(self, name: str) -> bool:
        if self.is_local:
            return Path(self.path(name)).is_dir()
        return True  # pragma: no cover - S3 existence is checked by the read itself

    # -- read ----------------------------------------------------------------
    def read(self, name: str) -> DataFrame:
        t = table(name)
        if self.is_local and not self.exists(name):
            raise FileNotFoundError(
                f"table {name} does not exist at {self.path(name)}; run the step that writes it first"
            )
        if t.fmt == "json":
            return self.spark.read.schema(spark_schema(t.columns)).json(self.path(name))
        return self.spark.read.parquet(self.path(name))

    # -- write ---------------------------------------------------------------
    def write(self, name: str, df: DataFrame) -> dict:
        """Replace table `name` with `df`; returns {table, zone, rows, path}.

        Locally the new version is written to a staging folder and then moved into
        place, so a failed write never leaves a half-written table behind.
        """
        t = table(name)
        target = self.path(name)
        self._write_replacing(df, target, t.fmt)
        rows = self.read(name).count()
        self.register(name)
        return {"table": name, "zone": t.zone, "rows": rows, "path": target}

    def write_quarantine(self, name: str, df: DataFrame) -> str:
        """Replace the quarantine of table `name` (JSON lines: source_file, position, reason, raw)."""
        target = self.quarantine_path(name)
        self._write_replacing(df.select(*[c for c, _ in QUARANTINE_COLUMNS]), target, "json")
        return target

    def read_quarantine(self, name: str) -> DataFrame:
        return self.spark.read.schema(spark_schema(QUARANTINE_COLUMNS)).json(self.quarantine_path(name))

    def _write_replacing(self, df: DataFrame, target: str, fmt: str) -> None:
        """Write a complete new version of a table, then make it visible in one step.

        Locally `<zone>/<table>` is a symbolic link to `<zone>/.versions/<table>/<version>/`.
        The new version is written beside the current one and the link is swapped with one
        atomic rename: readers (and a run killed at any moment) see the previous complete
        version or the new complete one, never a partial or mixed table. A version left
        behind by a killed write is never linked, and is removed by the next write.
        """
        if not self.is_local:  # pragma: no cover - S3 has no rename; Spark overwrites in place
            df.write.mode("overwrite").format(fmt).save(target)
            return
        link = Path(target)
        versions = link.parent / VERSIONS_DIR / link.name
        versions.mkdir(parents=True, exist_ok=True)
        version = versions / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        try:
            df.write.format(fmt).save(str(version))
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            raise
        publish_version(link, version)
        for other in versions.iterdir():
            if other != version:
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
