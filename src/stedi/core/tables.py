"""The declared tables of the lake: zone, storage format and column types.

The column types are the contract: the landing DDL in sql/, the Spark schemas,
the catalog registration and the schema checks all derive from these lists.
"""

from __future__ import annotations

from dataclasses import dataclass

from stedi.context import Policy

Columns = tuple[tuple[str, str], ...]

CUSTOMER_COLUMNS: Columns = (
    ("customerName", "string"),
    ("email", "string"),
    ("phone", "string"),
    ("birthDay", "string"),
    ("serialNumber", "string"),
    ("registrationDate", "bigint"),
    ("lastUpdateDate", "bigint"),
    ("shareWithResearchAsOfDate", "bigint"),
    ("shareWithPublicAsOfDate", "bigint"),
    ("shareWithFriendsAsOfDate", "bigint"),
)
ACCELEROMETER_COLUMNS: Columns = (
    ("user", "string"),
    ("timestamp", "bigint"),
    ("x", "double"),
    ("y", "double"),
    ("z", "double"),
)
STEP_TRAINER_COLUMNS: Columns = (
    ("sensorReadingTime", "bigint"),
    ("serialNumber", "string"),
    ("distanceFromObject", "int"),
)
# The ML table: a step trainer reading paired with the accelerometer reading of
# the same instant. Under the strict policy it carries no direct identifier
# (the device serial number is the pseudonymous subject key); the udacity policy
# keeps the rubric's `user` (an email address).
MACHINE_LEARNING_COLUMNS: Columns = STEP_TRAINER_COLUMNS + (
    ("timestamp", "bigint"),
    ("x", "double"),
    ("y", "double"),
    ("z", "double"),
)
MACHINE_LEARNING_COLUMNS_UDACITY: Columns = STEP_TRAINER_COLUMNS + ACCELEROMETER_COLUMNS

# Columns that must be present for a landing record to be usable.
REQUIRED_COLUMNS = {
    "customer": ("email", "serialNumber"),
    "accelerometer": ("user", "timestamp"),
    "step_trainer": ("sensorReadingTime", "serialNumber"),
}

DIRECT_IDENTIFIERS = ("customerName", "email", "phone", "birthDay", "user")


@dataclass(frozen=True)
class Table:
    name: str
    zone: str
    fmt: str  # "json" (landing: cleaned JSON lines) or "parquet"
    columns: Columns
    udacity_columns: Columns | None = None

    def columns_for(self, policy: Policy) -> Columns:
        if policy == Policy.UDACITY and self.udacity_columns is not None:
            return self.udacity_columns
        return self.columns


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("customer_landing", "landing", "json", CUSTOMER_COLUMNS),
        Table("accelerometer_landing", "landing", "json", ACCELEROMETER_COLUMNS),
        Table("step_trainer_landing", "landing", "json", STEP_TRAINER_COLUMNS),
        Table("customer_trusted", "trusted", "parquet", CUSTOMER_COLUMNS),
        Table("accelerometer_trusted", "trusted", "parquet", ACCELEROMETER_COLUMNS),
        Table("step_trainer_trusted", "trusted", "parquet", STEP_TRAINER_COLUMNS),
        Table("customer_curated", "curated", "parquet", CUSTOMER_COLUMNS),
        Table(
            "machine_learning_curated",
            "curated",
            "parquet",
            MACHINE_LEARNING_COLUMNS,
            MACHINE_LEARNING_COLUMNS_UDACITY,
        ),
    )
}

# The raw exports, by the name of their folder under the raw directory.
SOURCES = ("customer", "accelerometer", "step_trainer")


def landing_table(source: str) -> str:
    return f"{source}_landing"


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(TABLES)}") from None


def ddl_columns(columns: Columns) -> str:
    """`name type, ...` with names quoted for Spark SQL and Athena."""
    return ", ".join(f"`{name}` {typ}" for name, typ in columns)
