"""`information_schema.columns` for the local catalog, so that SQL written for Athena's runs on it unchanged.

Athena answers `information_schema.columns` from the Glue Data Catalog. Neither local
engine has one: Spark 3.5 and Sail 0.7 both report the table as not found. `stedi sql`
therefore registers a view `information_schema.columns` (a database and a view, both
engines create them) with the columns of Athena's that name a column: table_catalog,
table_schema, table_name, column_name, ordinal_position, is_nullable, data_type; one
row per column of every table registered.

A row says what a reader of the table gets, not what its catalog entry says: the local
entry always carries the declared types (Lake.register), so it could never differ. A
Parquet table shows its files' schema; a landing table is JSON lines, which carry no
types, so it shows the types it is read with, the declared ones (as Athena's JSON SerDe
reads it with the types of its catalog entry). Types are Spark's names (string, int,
bigint, double); Athena's are Trino's (varchar, integer, ...): sql/validate_schema.sql
compares them in Trino's.
"""

from __future__ import annotations

from stedi.lake.store import Lake

DATABASE = "information_schema"
CATALOG = "spark_catalog"
# The view's columns, in Athena's order, with their Spark SQL types.
COLUMNS = (
    ("table_catalog", "string"),
    ("table_schema", "string"),
    ("table_name", "string"),
    ("column_name", "string"),
    ("ordinal_position", "bigint"),
    ("is_nullable", "string"),
    ("data_type", "string"),
)


def column_rows(lake: Lake, names: list[str]) -> list[tuple]:
    """One row per column of each table in `names`, as a reader of the table sees it (see the module doc)."""
    rows = []
    for name in names:
        for position, field in enumerate(lake.read(name).schema.fields, start=1):
            nullable = "YES" if field.nullable else "NO"
            rows.append(
                (CATALOG, lake.database, name, field.name, position, nullable, field.dataType.simpleString())
            )
    return rows


def _literal(value) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def register_information_schema(lake: Lake, names: list[str]) -> None:
    """(Re)create the view `information_schema.columns` describing the tables `names` of `lake`."""
    rows = column_rows(lake, names)
    typed = ", ".join(f"CAST({name} AS {typ}) AS {name}" for name, typ in COLUMNS)
    if rows:
        values = ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)
        source = f"(VALUES {values}) AS found ({', '.join(name for name, _ in COLUMNS)})"
        query = f"SELECT {typed} FROM {source}"
    else:  # no table: the view has its columns and no row
        nulls = ", ".join(f"CAST(NULL AS {typ}) AS {name}" for name, typ in COLUMNS)
        query = f"SELECT {nulls} WHERE 1 = 0"
    lake.spark.sql(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}`")
    lake.spark.sql(f"CREATE OR REPLACE VIEW `{DATABASE}`.`columns` AS {query}")
