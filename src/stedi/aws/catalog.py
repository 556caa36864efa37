"""The Glue Data Catalog side of a publish: which declared columns a local table's files carry, and its entry.

A local table folder is recognised by its files (Parquet by schema, JSON lines by
field names) and registered with its declared column types: landing tables as JSON
tables with the openx SerDe of sql/*_landing.sql, the others as Parquet.
"""

from __future__ import annotations

import json
from pathlib import Path

from stedi import config
from stedi.core.tables import Columns, Table
from stedi.errors import UsageError

# The SerDe of the landing tables, as in sql/*_landing.sql (tests/test_aws.py keeps them equal).
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
JSON_SERDE_PARAMETERS = {"ignore.malformed.json": "FALSE", "dots.in.keys": "FALSE", "case.insensitive": "TRUE"}

# Arrow types of the files Spark writes, by declared type.
_ARROW_TYPES = {"string": ("string", "large_string"), "bigint": ("int64",), "int": ("int32",), "double": ("double",)}


def data_files(folder: Path) -> list[Path]:
    """The data files of a table folder written by Spark, relative to it: no _SUCCESS, no .crc, no hidden files."""
    return sorted(
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    )


def _parquet_columns(folder: Path, files: list[Path]) -> list[tuple[str, str]]:
    import pyarrow.parquet as pq

    schema = pq.read_schema(folder / files[0])
    return [(f.name, str(f.type)) for f in schema]


def _matches(found: list[tuple[str, str]], declared: Columns) -> bool:
    return len(found) == len(declared) and all(
        name == want_name and typ in _ARROW_TYPES[want_type]
        for (name, typ), (want_name, want_type) in zip(found, declared)
    )


def _json_keys(folder: Path, files: list[Path]) -> set[str]:
    for relative in files:
        with open(folder / relative, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    return set(json.loads(line))
    return set()


def declared_columns(t: Table, folder: Path, files: list[Path], policy: str | None) -> tuple[Columns, str | None]:
    """The declared columns the table's files carry, and the policy that layout belongs to (None: any).

    Parquet tables are recognised by their schema (names and types, in order); a
    landing table's first record must use declared column names only (Spark's JSON
    writer leaves out null fields, so a record may have fewer). A table that fits no
    declared layout, or not the one `policy` asks for, is refused.
    """
    policies = (policy,) if policy else config.POLICIES
    if t.fmt == "parquet":
        found = _parquet_columns(folder, files)
        for candidate in policies:
            if _matches(found, t.columns_for(candidate)):
                layout_policy = candidate if t.udacity_columns is not None else None
                return t.columns_for(candidate), layout_policy
        wanted = " or ".join(
            f"{p}: " + ", ".join(f"{n} {ty}" for n, ty in t.columns_for(p)) for p in policies
        )
        raise UsageError(
            f"table {t.name} at {folder} has an unknown layout ({', '.join(f'{n} {ty}' for n, ty in found)}); "
            f"declared {wanted}"
        )
    columns = t.columns_for(policy or config.DEFAULT_POLICY)
    unknown = _json_keys(folder, files) - {name for name, _ in columns}
    if unknown:
        raise UsageError(
            f"table {t.name} at {folder} has an unknown layout: undeclared fields {', '.join(sorted(unknown))}"
        )
    return columns, None


def quarantine_table(name: str) -> str:
    """The catalog name of the quarantine of table `name`, when registered."""
    return f"{name}_{config.QUARANTINE_ZONE}"


def register_table(session, database: str, t: Table, columns: Columns, location: str) -> None:
    """Create table `t`'s entry in `database`, or point the existing one, at `location` with `columns`."""
    _register(session, database, t.name, t.fmt, columns, location, f"STEDI {t.zone} table {t.name}")


def register_quarantine(session, database: str, name: str, location: str) -> None:
    """Create or update the entry of table `name`'s quarantine (JSON lines: source_file, position, reason, raw)."""
    from stedi.lake.store import QUARANTINE_COLUMNS

    _register(session, database, quarantine_table(name), "json", QUARANTINE_COLUMNS, location,
              f"STEDI quarantine of {name}")


def _register(session, database: str, name: str, fmt: str, columns: Columns, location: str, description: str) -> None:
    """One CreateTable or UpdateTable call (awswrangler's mode "overwrite" updates an existing table in place)."""
    import awswrangler as wr

    common = {
        "database": database, "table": name, "path": f"{location}/", "columns_types": dict(columns),
        "description": description, "mode": "overwrite", "boto3_session": session,
    }
    if fmt == "json":
        wr.catalog.create_json_table(
            **common, serde_library=JSON_SERDE, serde_parameters=dict(JSON_SERDE_PARAMETERS)
        )
    else:
        wr.catalog.create_parquet_table(**common)
