"""What a lake root says about itself, read without a Spark session: whether it holds a lake,
and the policy it was last built with.

The commands that are handed a `--lake-dir` (`stedi erase`, `stedi sql`) ask these
functions before they do anything, so that a typo in the path is refused in one line
instead of creating a new lake or reading an empty one. They are the only place that
knows what marks a lake: when the storage changes (an Iceberg catalog), these change.
"""

from __future__ import annotations

from pathlib import Path

from stedi import config
from stedi.context import Policy
from stedi.core import storage
from stedi.core.intake.erasure import ERASURE_DIR, REQUESTS_FILE
from stedi.core.intake.ledger import INTAKE_DIR, LEDGER_FILE
from stedi.core.tables import TABLES
from stedi.lake import layout


def holds_lake(root: str) -> bool:
    """Whether `root` (a local folder or an s3:// URI) holds a lake: its Iceberg catalog (locally
    `catalog.db`) or a table's folder, the intake's ledger (a run landed files), or the erasure
    registry (a request made before the first build, `stedi erase --new-lake`). A folder holding
    anything else does not."""
    root = str(root).rstrip("/")
    marks = (f"{root}/{INTAKE_DIR}/{LEDGER_FILE}", f"{root}/{ERASURE_DIR}/{REQUESTS_FILE}")
    if storage.is_s3(root):
        return any(storage.read_text(mark) is not None for mark in marks) or any(
            storage.folder_exists(layout.table_path(root, name)) for name in TABLES
        )
    return Path(root, config.ICEBERG_CATALOG_FILE).is_file() or any(
        Path(where).is_file() for where in marks
    )


def built_policy(root: str) -> Policy | None:
    """The policy the lake at `root` was built with, from its tables' current snapshots (each
    names its run's policy; a lake holds one policy's tables: stedi.lake.icelake); None on S3
    or when no table recorded one."""
    if storage.is_s3(str(root)) or not Path(str(root), config.ICEBERG_CATALOG_FILE).is_file():
        return None
    from stedi.lake.icelake import IcebergTables

    policies = sorted(IcebergTables(None, str(root)).policies())
    return (
        Policy.parse(policies[0]) if policies else None
    )  # as the lake's commits recorded it (text)


def policy_to_read(root: str, asked: Policy | None) -> Policy:
    """The policy to read the lake at `root` with: the one it was last built with (`built_policy`);
    `asked` (`--policy`), when given, must be that one (else ValueError, one line). A lake whose
    tables recorded none: `asked`, else the default."""
    from stedi import config

    built = built_policy(root)
    if asked is not None and built is not None and asked != built:
        raise ValueError(
            f"the lake {root} was built with policy {built}, not {asked}: "
            f"drop --policy, or rebuild it with stedi run --policy {asked}"
        )
    return built or asked or config.DEFAULT_POLICY
