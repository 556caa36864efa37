"""Iceberg schemas and properties of the declared tables, and the checks on files an engine
wrote."""

from __future__ import annotations

from stedi.core.tables import DIRECT_IDENTIFIERS, Columns
from stedi.errors import UsageError
from stedi.lake.catalogs import Place

ZONE_PROPERTY = "stedi.zone"
# Columns whose values are addresses or identify a person or device: no statistics in manifests.
IDENTIFIER_COLUMNS = (*DIRECT_IDENTIFIERS, "serialNumber", "raw")


def spark_schema(columns: Columns):
    """stedi.core.schemas.spark_schema, imported (with pyspark) at first use: the runner's checks
    read the lake without an engine."""
    from stedi.core.schemas import spark_schema as schema

    return schema(columns)


def iceberg_schema(columns: Columns):
    from pyiceberg.schema import Schema
    from pyiceberg.types import (
        DoubleType,
        IntegerType,
        LongType,
        NestedField,
        StringType,
    )

    types = {"string": StringType, "bigint": LongType, "int": IntegerType, "double": DoubleType}
    return Schema(
        *[
            NestedField(i, n, types[t](), required=False)
            for i, (n, t) in enumerate(columns, start=1)
        ]
    )


def spark_type_name(iceberg_type) -> str:
    """The Spark SQL name of an Iceberg type (`long` -> bigint); the type's own name otherwise."""
    names = {
        "string": "string",
        "int": "int",
        "long": "bigint",
        "double": "double",
        "float": "float",
        "boolean": "boolean",
        "date": "date",
        "timestamp": "timestamp",
        "binary": "binary",
    }
    return names.get(str(iceberg_type), str(iceberg_type))


def table_properties(place: Place) -> dict[str, str]:
    """A new table's properties: its zone, no metrics for identifier columns, the name mapping
    (engines write Parquet without field ids), and no silent retry of a conflicting commit
    (CommitConflict)."""
    schema = iceberg_schema(place.columns)
    properties = {
        ZONE_PROPERTY: place.zone,
        "schema.name-mapping.default": schema.name_mapping.model_dump_json(),
        "commit.retry.num-retries": "0",
    }
    for name, _ in place.columns:
        if name in IDENTIFIER_COLUMNS:
            properties[f"write.metadata.metrics.column.{name}"] = "none"
    return properties


def _typed(columns: Columns) -> list[str]:
    """`CAST(`name` AS type) AS `name`` for each declared column."""
    return [f"CAST(`{n}` AS {t}) AS `{n}`" for n, t in columns]


def _refuse_foreign_field_ids(t, name: str, path: str) -> None:
    """pyiceberg maps a Parquet column by its field id when it has one: ids that are not the table's
    (Sail copies them from an Iceberg read, through joins) would put values in the wrong columns."""
    import pyarrow.parquet as pq

    with t.io.new_input(path).open() as stream:
        schema = pq.read_schema(stream)
    ids = {f.name: f.field_id for f in t.schema().fields}
    for column in schema:
        written = (column.metadata or {}).get(b"PARQUET:field_id")
        if written is not None and int(written) != ids.get(column.name):
            raise UsageError(
                f"table {name}: the engine wrote column {column.name} with Iceberg field id "
                f"{int(written)}, the "
                f"table's is {ids.get(column.name)}; write frames read with IcebergLake.read (data "
                "files), not "
                f"through an Iceberg reader"
            )
