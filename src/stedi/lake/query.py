"""`stedi sql`: SQL statements on the local catalog of a lake's tables, each result printed.

What cannot be run is one line, exit 2 (UsageError), never a traceback: a path that holds
no lake, a `--policy` the lake was not built with (stedi.lake.recorded), or a statement the
engine refuses or fails, with the engine's own message (stedi.engine.errors).
"""

from __future__ import annotations

import sys

from stedi import config
from stedi.context import Policy
from stedi.errors import UsageError


def run_statements(
    lake_dir: str,
    found: list[str],
    *,
    policy: Policy | None,
    engine: str | None,
    limit: int,
    as_of: str = "",
    out=None,
) -> None:
    """Run `found` (SQL statements) in order on the lake at `lake_dir`, printing at most `limit`
    rows of each result; stops at the first statement that fails. With `as_of` (a run id), every
    table as it stood after that run (stedi.lake.history.as_of_views)."""
    from stedi.engine.errors import engine_error_types, engine_message, quiet_task_errors
    from stedi.engine.session import local_session
    from stedi.lake.history import as_of_views
    from stedi.lake.icelake import IcebergTables
    from stedi.lake.information_schema import register_information_schema
    from stedi.lake.recorded import holds_lake, policy_to_read

    out = out or sys.stdout
    root = config.resolve(lake_dir)
    if not holds_lake(root):
        raise UsageError(f"{root} holds no lake; check --lake-dir, or build one with stedi run")
    try:
        policy = policy_to_read(root, policy)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    spark = local_session(engine, "stedi-sql")
    quiet_task_errors(spark)
    lake = IcebergTables(spark, root, policy=policy)
    register_information_schema(
        lake, as_of_views(lake, as_of) if as_of else lake.register_existing()
    )
    for number, statement in enumerate(found, 1):
        try:
            frame = lake.sql(statement).limit(limit + 1).toPandas()
        except engine_error_types() as exc:
            where = f"statement {number} of {len(found)}: " if len(found) > 1 else ""
            raise UsageError(f"{where}{engine_message(exc)}") from None
        print(frame.head(limit).to_string(index=False), file=out)
        if len(frame) > limit:
            print(f"(the first {limit} rows; --limit N shows more)", file=out)
