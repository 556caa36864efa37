"""The command line: every command dispatched, bad arguments refused in one line with exit code 2."""

from __future__ import annotations

import json

import pytest

from stedi import cli
from stedi.cli import main


def _exit_code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exit_info:  # argparse refuses before any command runs
        return exit_info.code


def test_every_command_has_a_handler():
    parser = cli._parser()
    [commands] = [a for a in parser._actions if a.dest == "command"]
    assert set(commands.choices) == set(cli.COMMANDS)
    aws = commands.choices["aws"]
    [aws_commands] = [a for a in aws._actions if a.dest == "aws_command"]
    assert set(aws_commands.choices) == set(cli.AWS_COMMANDS)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--policy", "lenient"], "argument --policy: invalid choice: 'lenient' (choose from 'strict', 'udacity')"),
        (["run", "--target", "mars"], "argument --target: invalid choice: 'mars' (choose from 'local', 'glue')"),
        (["quality", "--policy", "lenient"], "argument --policy: invalid choice: 'lenient'"),
        (["sql", "select 1", "--policy", "lenient"], "argument --policy: invalid choice: 'lenient'"),
        (["aws", "publish", "--bucket", "b", "--policy", "lenient"], "argument --policy: invalid choice: 'lenient'"),
        (["run", "--bogus"], "unrecognized arguments: --bogus"),
        (["run", "--engine", "duckdb"], "argument --engine: invalid choice: 'duckdb' (choose from 'spark', 'sail')"),
        (["sql", "select 1", "--engine", "duckdb"], "argument --engine: invalid choice: 'duckdb'"),
        (
            ["run", "--engine", "sail", "--target", "glue", "--bucket", "b"],
            "--target glue runs Spark on AWS Glue; --engine sail runs only on target local",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("stedi: error: ") and message in err
    assert list(tmp_path.iterdir()) == []


def test_quality_prints_each_tables_rules_for_the_policy(capsys):
    assert main(["quality", "--policy", "udacity"]) == 0
    out = capsys.readouterr().out
    assert "customer_landing:" in out and "machine_learning_curated:" in out


def test_report_without_a_run_is_one_line_exit_2(tmp_path, capsys):
    assert main(["report", "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("stedi: error: no run folder with a manifest.json")


def test_report_rewrites_the_index_of_the_run_it_is_given(tmp_path, capsys):
    runs = tmp_path / "runs"
    for run_id in ("r1", "r2"):
        (runs / run_id).mkdir(parents=True)
        (runs / run_id / "manifest.json").write_text(json.dumps({"run_id": run_id, "status": "failed", "steps": []}))
    assert main(["report", "--runs-dir", str(runs), "--run", "r1"]) == 0
    assert capsys.readouterr().out.strip() == str(runs / "r1" / "index.html")
    assert "STEDI run r1 · failed" in (runs / "r1" / "index.html").read_text()
    assert not (runs / "r2" / "index.html").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["aws", "query"], 'give a .sql file or --sql "..." (one of them)'),
        (["aws", "query", "q.sql", "--sql", "select 1"], "give a .sql file or --sql"),
        (["aws", "query", "no-such-file.sql"], "SQL file no-such-file.sql does not exist"),
    ],
)
def test_aws_query_arguments_are_checked_before_any_request(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("stedi: error: ") and message in err
