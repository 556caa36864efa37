"""The vocabulary of a data-quality rule (stedi.core.quality.rules): its severities and kinds,
which kinds are judged row by row, and the columns and params each kind needs.

Kinds:

=====================  ==========================================================  =========
kind                   fails for                                                    row-level
=====================  ==========================================================  =========
completeness           a row with a null in any of `columns`                        yes
uniqueness             rows sharing their `columns` values (nulls count as values)  no
allowed_values         a non-null value not in `values` / not matching `pattern`    yes
range                  a non-null value below `min` or above `max` (inclusive)      yes
expression             a row for which the SQL boolean `expression` is not true     yes
referential_integrity  a row whose (non-null) key has no match in `table`           yes
schema                 the frame's columns/types differ from `declared`             no
forbidden_columns      the frame has any of `forbidden`                             no
row_count              rows (or distinct `distinct` values) fail `compare` against
                       `reference` table's rows or the constant `value`             no
group_size             groups of `columns` whose row count is outside the Tukey
                       fences of all groups (the "usual range")                     no
sql                    the free SQL `query` returns rows (the failing ones)         no
=====================  ==========================================================  =========

Severities: ``error`` fails the run, ``quarantine`` moves the failing rows out of
the table (row-level kinds only), ``warn`` reports.
"""

from __future__ import annotations

from stedi.context import Policy

ERROR = "error"
QUARANTINE = "quarantine"
WARN = "warn"
SEVERITIES = (ERROR, QUARANTINE, WARN)

ALL_POLICIES = tuple(Policy)

KINDS = (
    "completeness",
    "uniqueness",
    "allowed_values",
    "range",
    "expression",
    "referential_integrity",
    "schema",
    "forbidden_columns",
    "row_count",
    "group_size",
    "sql",
)
# Kinds judged row by row: their failing rows can be counted in one pass and quarantined.
ROW_LEVEL = ("completeness", "allowed_values", "range", "expression", "referential_integrity")
COMPARISONS = ("<=", "<", ">=", ">", "==")

REQUIRED_PARAMS = {
    "allowed_values": (),  # `values` or `pattern`, checked below
    "range": (),  # `min` and/or `max`, checked below
    "expression": ("expression",),
    "referential_integrity": ("table", "table_columns"),
    "schema": ("declared",),
    "forbidden_columns": ("forbidden",),
    "row_count": ("compare",),
    "group_size": ("unit",),
    "sql": ("query",),
}
NEEDS_COLUMNS = (
    "completeness",
    "uniqueness",
    "allowed_values",
    "range",
    "referential_integrity",
    "group_size",
)
