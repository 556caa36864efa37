"""What a publish stages before it commits (`Staged`), and the refusals of the Iceberg lake.

Below stedi.lake.iceberg (which stages and commits) and stedi.lake.icemaint (which erases and
relocates tables through it), so that neither imports the other for these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stedi.errors import UsageError


class SnapshotRefused(UsageError):
    """A snapshot this engine cannot read exactly (delete files on the Spark path)."""


class SchemaMismatch(UsageError):
    """A table whose columns are not the ones declared for the lake's policy."""


@dataclass
class Staged:
    """Parquet files written under a table's location and not committed yet (see
    IcebergLake.stage)."""

    name: str
    table: object  # the pyiceberg Table as it was when staged: the commit requires it still current
    folder: str
    data_files: list  # pyiceberg DataFiles of the staged Parquet files (read from their footers)
    append: bool  # add the files; else replace `replaces` by them
    replaces: list = field(default_factory=list)  # the DataFiles the commit deletes
    meta: dict = field(default_factory=dict)
    base_files: list = field(default_factory=list)  # the table's live DataFiles when staged
    snapshot_id: int | None = (
        None  # the id the commit's snapshot takes (a relocated table keeps its original's)
    )

    @property
    def added_rows(self) -> int:
        """Rows of the staged files."""
        return sum(f.record_count for f in self.data_files)

    def files_after(self) -> list:
        """The table's data files once committed: the base's, less those replaced, and the staged
        ones."""
        gone = {f.file_path for f in self.replaces}
        return [f for f in self.base_files if f.file_path not in gone] + list(self.data_files)

    @property
    def rows(self) -> int:
        """Rows of the table once committed (an append: the base's and the staged ones)."""
        return sum(f.record_count for f in self.files_after())

    @property
    def base(self) -> int | None:
        snapshot = self.table.current_snapshot()
        return None if snapshot is None else snapshot.snapshot_id
