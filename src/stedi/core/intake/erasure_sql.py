"""The erasure conditions as SQL and as columns: a landing row of an erased customer
(`erased_sql`), a quarantined record's text that mentions one (`mentions_sql`,
`mentions_column`), the erased customers' serial numbers (`serials_of`). Normalization and
tokens as stedi.core.intake.erasure's docstring says; the registry (`Erasures`) is there."""

from __future__ import annotations

import re

from pyspark.sql import Column, DataFrame

from stedi.core.intake.erasure import _TOKEN_SPLIT, _TRIMMED_SQL, Erasures, keyed_hash


# -- SQL ------------------------------------------------------------------------
def hash_sql(column_sql: str, key: str) -> str:
    """SQL for the hash of an email column, normalized as `normalize_email`."""
    return f"sha2(concat('{key}', lower(trim(BOTH {_TRIMMED_SQL} FROM {column_sql}))), 256)"


def serial_hash_sql(column_sql: str, key: str) -> str:
    """SQL for the hash of a serial-number column, normalized as `normalize_serial`."""
    return f"sha2(concat('{key}', trim(BOTH {_TRIMMED_SQL} FROM {column_sql})), 256)"


def _in_list(hashes) -> str:
    return ", ".join(f"'{h}'" for h in sorted(hashes))


# The landing column that names the customer, per source, and whether it is an email.
_SUBJECT_COLUMNS = {
    "customer": ("email", True),
    "accelerometer": ("user", True),
    "step_trainer": ("serialNumber", False),
}


def erased_sql(source: str, erasures: Erasures) -> str:
    """SQL condition on a landing table's columns: true for a row of an erased customer, never null.

    customer: `email` is an erased address; accelerometer: `user` is; step_trainer:
    `serialNumber` is an erased customer's serial (`with_serials`). `false` when there is nothing to
    match.
    """
    column, is_email = _SUBJECT_COLUMNS[source]
    hashes = erasures.email_hashes if is_email else erasures.serial_hashes
    if not hashes:
        return "false"
    hashed = (hash_sql if is_email else serial_hash_sql)(f"`{column}`", erasures.key)
    return f"coalesce({hashed} IN ({_in_list(hashes)}), false)"


def mentions_sql(raw_sql: str, erasures: Erasures) -> str:
    """SQL condition on a text (a quarantined record's `raw`): true when one of its tokens is an
    erased address (any case) or an erased customer's serial number; false for null text.
    Tokens as the module docstring says."""
    token = "trim(BOTH '.' FROM _token)"
    tests = []
    if erasures.email_hashes:
        tests.append(
            f"sha2(concat('{erasures.key}', lower({token})), 256) IN "
            f"({_in_list(erasures.email_hashes)})"
        )
    if erasures.serial_hashes:
        tests.append(
            f"sha2(concat('{erasures.key}', {token}), 256) IN ({_in_list(erasures.serial_hashes)})"
        )
    if not tests:
        return "false"
    return (
        f"coalesce(exists(split({raw_sql}, '{_TOKEN_SPLIT}'), _token -> {' OR '.join(tests)}), "
        "false)"
    )


def serials_of(customer_df: DataFrame, erasures: Erasures) -> list[str]:
    """The hashed serial numbers (sorted) of the rows of `customer_df` (`email`, `serialNumber`)
    whose email is erased: one small collect."""
    if not erasures.email_hashes:
        return []
    hashed = serial_hash_sql("`serialNumber`", erasures.key)
    rows = (
        customer_df.where(erased_sql("customer", erasures))
        .where(f"trim(BOTH {_TRIMMED_SQL} FROM `serialNumber`) != ''")
        .selectExpr(f"{hashed} AS serial_hash")
        .distinct()
        .collect()
    )
    return sorted(r.serial_hash for r in rows)


# -- files ----------------------------------------------------------------------
def mentions_column(raw: Column, erasures: Erasures) -> Column:
    """`mentions_sql` as a column computed in Python (a UDF, the same tokens and hashes), for texts
    read from files: Sail 0.7 cannot resolve a column inside a lambda (`exists(split(raw, ...),
    t -> ...)`) over a Parquet or JSON scan ("No field named ?table?.raw"), while it can over
    an in-memory frame. Null text: false."""
    from pyspark.sql import functions as F

    key, emails, serials = (
        erasures.key,
        frozenset(erasures.email_hashes),
        frozenset(erasures.serial_hashes),
    )
    if not emails and not serials:
        return F.lit(False)
    split = re.compile(_TOKEN_SPLIT)

    def mentions(text):
        if text is None:
            return False
        for token in split.split(text):
            token = token.strip(".")
            if token and (
                keyed_hash(key, token.lower()) in emails or keyed_hash(key, token) in serials
            ):
                return True
        return False

    return F.when(raw.isNull(), F.lit(False)).otherwise(F.udf(mentions, "boolean")(raw))
