"""`stedi aws query` against a moto server on 127.0.0.1: the Athena requests it sends and the
results it prints.

moto records each query and answers GetQueryResults with canned results (set through
its API, _canned_athena_result): it does not execute SQL.
"""

from __future__ import annotations

import json
import re
import urllib.request

import boto3
import pytest

from aws_fixtures import BUCKET, REGION, one_line_error
from stedi import config
from stedi.aws import query as athena
from stedi.cli import main
from stedi.core.sqltext import statements


def _canned_athena_result(
    endpoint: str, columns: list[tuple[str, str]], rows: list[list[str]]
) -> None:
    """moto answers GetQueryResults with the next canned result (it does not execute SQL)."""
    header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
    body = {
        "region": REGION,
        "results": [
            {
                "rows": [header] + [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
                "column_info": [{"Name": n, "Type": t, "Label": n} for n, t in columns],
            }
        ],
    }
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request).close()


def _athena_requests() -> list[dict]:
    athena = boto3.client("athena")
    ids = athena.list_query_executions()["QueryExecutionIds"]
    return [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]


@pytest.mark.parametrize("sql_file", ["validate_counts.sql", "validate_privacy.sql"])
def test_query_sends_the_sql_file_unchanged_to_athena_and_prints_the_result(
    aws_env, capsys, sql_file
):
    _canned_athena_result(
        aws_env, [("name", "varchar"), ("n", "bigint")], [["customer_landing", "956"], ["x", "0"]]
    )
    path = config.SQL_DIR / sql_file
    output = f"s3://{BUCKET}/athena-results/"
    code = main(["aws", "query", str(path), "--database", "stedi", "--s3-output", output])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    [request] = _athena_requests()
    [statement] = statements(path.read_text())
    assert request["Query"] == statement
    assert path.read_text().rstrip().endswith(statement)  # the file's statement, not rewritten
    assert request["QueryExecutionContext"]["Database"] == "stedi"
    assert request["ResultConfiguration"]["OutputLocation"].startswith(output)
    assert request["WorkGroup"] == "primary"
    assert re.search(r"customer_landing\s+956", captured.out)
    assert "name" in captured.out.splitlines()[0]


def test_query_runs_inline_sql_in_the_given_workgroup(aws_env, capsys):
    boto3.client("athena").create_work_group(
        Name="stedi",
        Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}/wg/"}},
    )
    code = main(
        ["aws", "query", "--sql", "SELECT COUNT(*) FROM customer_trusted", "--workgroup", "stedi"]
    )
    assert code == 0, capsys.readouterr().err
    [request] = _athena_requests()
    assert (
        request["Query"] == "SELECT COUNT(*) FROM customer_trusted"
        and request["WorkGroup"] == "stedi"
    )


def test_result_frames_drop_the_header_row_and_take_the_column_types():
    page = {
        "ResultSet": {
            "Rows": [
                {"Data": [{"VarCharValue": "table_name"}, {"VarCharValue": "row_count"}]},
                {"Data": [{"VarCharValue": "customer_trusted"}, {"VarCharValue": "482"}]},
            ],
            "ResultSetMetadata": {
                "ColumnInfo": [
                    {"Name": "table_name", "Type": "varchar"},
                    {"Name": "row_count", "Type": "bigint"},
                ]
            },
        }
    }
    frame = athena._result_frame([page])
    assert frame.to_dict("records") == [{"table_name": "customer_trusted", "row_count": 482}]
    assert str(frame["row_count"].dtype) == "Int64"


@pytest.mark.parametrize(
    "args, fragment",
    [
        ([], "give a .sql file or --sql"),
        (["sql/validate_counts.sql", "--sql", "SELECT 1"], "one of them"),
        (["/nonexistent/q.sql"], "SQL file /nonexistent/q.sql does not exist"),
        (["--sql", "-- only a comment"], "no SQL statement"),
        (["--sql", "SELECT 1", "--s3-output", "/tmp/results"], "--s3-output must be an s3:// URI"),
    ],
)
def test_query_bad_arguments_exit_2_with_one_line(aws_env, capsys, args, fragment):
    one_line_error(capsys, main(["aws", "query", *args]), fragment)
    assert _athena_requests() == []


def test_query_without_credentials_exits_2_before_any_request(aws_env, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    one_line_error(capsys, main(["aws", "query", "--sql", "SELECT 1"]), "no AWS credentials")


@pytest.mark.parametrize("sql_file", ["validate_schema.sql", "summary_queries.sql"])
def test_query_sends_every_statement_of_the_sql_file_in_order_and_prints_each_result(
    aws_env, capsys, sql_file
):
    path = config.SQL_DIR / sql_file
    found = statements(path.read_text())
    for number, _ in enumerate(found):
        _canned_athena_result(
            aws_env, [("result", "varchar"), ("n", "bigint")], [[f"answer-{number}", str(number)]]
        )
    code = main(["aws", "query", str(path), "--s3-output", f"s3://{BUCKET}/athena-results/"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    sent = [request["Query"] for request in _athena_requests()]
    assert sent == found
    assert all(
        statement in path.read_text() for statement in sent
    )  # each the file's text, not rewritten
    for number, _ in enumerate(found):
        assert re.search(rf"answer-{number}\s+{number}", captured.out), captured.out
