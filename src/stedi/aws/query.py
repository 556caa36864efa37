"""SQL on the published lake with Athena: run each statement of a text, print each result.

Results come from Athena's GetQueryResults pages (_result_frame), not from
awswrangler's `athena.get_query_results`: that one reads a SELECT's CSV result file
and refuses DDL (`UndetectedType` for the CREATE EXTERNAL TABLE of sql/*_landing.sql)
and INSERT, while GetQueryResults answers for every kind of statement.
"""

from __future__ import annotations

import sys

from stedi import config
from stedi.aws.session import QueryFailed, aws_session
from stedi.core.sqltext import statements
from stedi.errors import UsageError

_INTEGER_TYPES = {"tinyint", "smallint", "integer", "int", "bigint"}
_FLOAT_TYPES = {"float", "real", "double", "decimal"}


def _result_frame(pages: list[dict]):
    """A DataFrame of Athena's GetQueryResults pages, typed by their column metadata."""
    import pandas as pd

    columns = pages[0]["ResultSet"]["ResultSetMetadata"].get("ColumnInfo", []) if pages else []
    names = [c["Name"] for c in columns]
    rows = [
        [datum.get("VarCharValue") for datum in row.get("Data", [])]
        for page in pages
        for row in page["ResultSet"].get("Rows", [])
    ]
    if rows and rows[0] == names:  # a SELECT's first row repeats the column names
        rows = rows[1:]
    frame = pd.DataFrame(rows, columns=names or None)
    for column in columns:
        kind = column.get("Type", "varchar").split("(")[0].lower()
        if kind in _INTEGER_TYPES:
            frame[column["Name"]] = pd.to_numeric(frame[column["Name"]]).astype("Int64")
        elif kind in _FLOAT_TYPES:
            frame[column["Name"]] = pd.to_numeric(frame[column["Name"]])
    return frame


def run_query(
    sql: str,
    database: str = config.DEFAULT_DATABASE,
    workgroup: str = "primary",
    s3_output: str | None = None,
    session=None,
):
    """Run one statement on Athena and wait for it; returns (query execution id, result
    DataFrame)."""
    import awswrangler as wr

    session = session or aws_session()
    try:
        execution = wr.athena.start_query_execution(
            sql,
            database=database,
            workgroup=workgroup,
            s3_output=s3_output,
            wait=True,
            athena_query_wait_polling_delay=0.25,
            boto3_session=session,
        )
    except wr.exceptions.QueryFailed as exc:
        raise QueryFailed(f"Athena query failed: {exc}") from None
    state = execution["Status"]["State"]
    if state != "SUCCEEDED":
        raise QueryFailed(
            f"Athena query {state.lower()}: "
            f"{execution['Status'].get('StateChangeReason', '')}".strip()
        )
    query_id = execution["QueryExecutionId"]
    paginator = session.client("athena").get_paginator("get_query_results")
    pages = list(paginator.paginate(QueryExecutionId=query_id))
    return query_id, _result_frame(pages)


def query(
    text: str,
    database: str = config.DEFAULT_DATABASE,
    workgroup: str = "primary",
    s3_output: str | None = None,
    out=None,
) -> list[str]:
    """Run every statement of `text` on Athena and print each result; returns the query execution
    ids."""
    out = out or sys.stdout
    found = statements(text)
    if not found:
        raise UsageError("no SQL statement to run")
    if s3_output is not None and not s3_output.startswith("s3://"):
        raise UsageError(f"--s3-output must be an s3:// URI, not {s3_output!r}")
    session = aws_session()
    ids = []
    for statement in found:
        query_id, frame = run_query(statement, database, workgroup, s3_output, session=session)
        ids.append(query_id)
        print(
            frame.to_string(index=False)
            if len(frame.columns)
            else f"(no result; query {query_id})",
            file=out,
        )
    return ids
