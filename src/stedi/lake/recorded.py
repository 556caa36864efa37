"""What a lake root says about itself, read without a Spark session: whether it holds a lake,
and the policy its tables were built with.

The commands that are handed a `--lake-dir` (`stedi erase`, `stedi sql`) ask these
functions before they do anything, so that a typo in the path is refused in one line
instead of creating a new lake or reading an empty one. They are the only place that
knows what marks a lake: when the storage changes (an Iceberg catalog), these change.
"""

from __future__ import annotations

from pathlib import Path

from stedi.core import storage
from stedi.core.intake.erasure import ERASURE_DIR, REQUESTS_FILE
from stedi.core.intake.ledger import INTAKE_DIR, LEDGER_FILE
from stedi.core.tables import TABLES
from stedi.lake import layout
from stedi.lake.store import ROWS_FILE


def holds_lake(root: str) -> bool:
    """Whether `root` (a local folder or an s3:// URI) holds a lake: a published table, the
    intake's ledger (a run landed files), or the erasure registry (a request made before the
    first build, `stedi erase --new-lake`). A folder holding anything else does not."""
    root = str(root).rstrip("/")
    marks = (f"{root}/{INTAKE_DIR}/{LEDGER_FILE}", f"{root}/{ERASURE_DIR}/{REQUESTS_FILE}")
    if storage.is_s3(root):
        return any(storage.read_text(mark) is not None for mark in marks) or any(
            storage.folder_exists(layout.table_path(root, name)) for name in TABLES
        )
    return any(Path(where).is_file() for where in marks) or any(
        Path(layout.table_path(root, name)).exists() for name in TABLES
    )


def built_policies(root: str) -> dict[str, str]:
    """table -> the policy its current version was built with, for every local table that
    recorded one (in its version's marker); {} on S3 or when no table did."""
    if storage.is_s3(str(root)):
        return {}
    import json

    found = {}
    for name in TABLES:
        marker = Path(layout.table_path(str(root), name)) / ROWS_FILE
        if marker.is_file():
            policy = json.loads(marker.read_text()).get("policy")
            if policy:
                found[name] = policy
    return found


def policy_to_read(root: str, asked: str | None) -> str:
    """The policy to read the lake at `root` with: the one its tables were built with; `asked`
    (`--policy`), when given, must be that one. ValueError (one line) when `asked` disagrees with
    a table, or the tables disagree among themselves. A lake whose tables recorded none: `asked`,
    else the default."""
    from stedi import config

    built = built_policies(root)
    policies = sorted(set(built.values()))
    if len(policies) > 1:
        raise ValueError(f"the lake {root} holds tables built with policies {' and '.join(policies)}; "
                         "rebuild it with stedi run --policy POLICY")
    if asked is not None and policies and policies != [asked]:
        raise ValueError(f"the lake {root} was built with policy {policies[0]}, not {asked}: "
                         f"drop --policy, or rebuild it with stedi run --policy {asked}")
    return policies[0] if policies else asked or config.DEFAULT_POLICY
