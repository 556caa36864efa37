"""Read, write and register the lake's tables by name: `Lake`.

Every table is an Apache Iceberg table in a catalog (docs/decisions/0001-iceberg-storage.md):
`Lake` is stedi.lake.icelake.IcebergTables, the notebooks' and the run machinery's API over
stedi.lake.iceberg (stage, check, commit; pinned reads; history), kept under this name so the
notebooks' `from stedi.lake.store import Lake` stays what it was.
"""

from __future__ import annotations

from stedi.lake.catalogs import QUARANTINE_COLUMNS
from stedi.lake.iceberg import Staged
from stedi.lake.icelake import IcebergTables as Lake

__all__ = ["QUARANTINE_COLUMNS", "Lake", "Staged"]
