"""`information_schema.columns` for the local catalog, so that SQL written for Athena's runs on it
unchanged.

Athena answers `information_schema.columns` from the Glue Data Catalog. Neither local
engine has one: Spark 3.5 and Sail 0.7 both report the table as not found. `stedi sql`
therefore registers a view `information_schema.columns` (a database and a view, both
engines create them) with the columns of Athena's that name a column: table_catalog,
table_schema, table_name, column_name, ordinal_position, is_nullable, data_type; one
row per column of every table registered.

A row says what the table's catalog entry says, as Athena's does: the Iceberg schema of
the table in the lake's catalog (a table altered by another Iceberg tool shows its
alteration; a read of the lake through `IcebergTables` always gets the declared columns). Types
are Spark's names (string, int, bigint, double); Athena's are Trino's (varchar,
integer, ...): sql/validate_schema.sql compares them in Trino's.
"""

from __future__ import annotations

from stedi.lake.icelake import IcebergTables

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


def column_rows(lake: IcebergTables, names: list[str]) -> list[tuple]:
    """One row per column of each table in `names`, as its catalog entry has it (see the module
    doc)."""
    rows = []
    for name in names:
        for position, (column, typ, nullable) in enumerate(lake.catalog_columns(name), start=1):
            rows.append(
                (CATALOG, lake.database, name, column, position, "YES" if nullable else "NO", typ)
            )
    return rows


def _literal(value) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def register_information_schema(lake: IcebergTables, names: list[str]) -> None:
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
