"""The command line: every command dispatched, bad arguments refused in one line with exit code
2."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess

import pytest

from lakes import iceberg_tables
from stedi import cli, config
from stedi.aws import commands as aws_cli
from stedi.cli import main
from stedi.core.tables import SOURCES, TABLES


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
    assert set(aws_commands.choices) == set(aws_cli.AWS_COMMANDS)


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["run", "--policy", "lenient"],
            "argument --policy: invalid choice: 'lenient' (choose from 'strict', 'udacity')",
        ),
        (
            ["run", "--target", "mars"],
            "argument --target: invalid choice: 'mars' (choose from 'local', 'glue')",
        ),
        (["quality", "--policy", "lenient"], "argument --policy: invalid choice: 'lenient'"),
        (
            ["sql", "select 1", "--policy", "lenient"],
            "argument --policy: invalid choice: 'lenient'",
        ),
        (
            ["aws", "publish", "--bucket", "b", "--policy", "lenient"],
            "argument --policy: invalid choice: 'lenient'",
        ),
        (["run", "--bogus"], "unrecognized arguments: --bogus"),
        (
            ["run", "--engine", "duckdb"],
            "argument --engine: invalid choice: 'duckdb' (choose from 'spark', 'sail')",
        ),
        (["sql", "select 1", "--engine", "duckdb"], "argument --engine: invalid choice: 'duckdb'"),
        (
            ["run", "--engine", "sail", "--target", "glue", "--bucket", "b"],
            "--target glue runs Spark on AWS Glue; --engine sail runs only on target local",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(
    tmp_path, capsys, monkeypatch, argv, message
):
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
    assert err.count("\n") == 1 and err.startswith(
        "stedi: error: no run folder with a manifest.json"
    )


def test_report_rewrites_the_index_of_the_run_it_is_given(tmp_path, capsys):
    runs = tmp_path / "runs"
    for run_id in ("r1", "r2"):
        (runs / run_id).mkdir(parents=True)
        (runs / run_id / "manifest.json").write_text(
            json.dumps({"run_id": run_id, "status": "failed", "steps": []})
        )
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
def test_aws_query_arguments_are_checked_before_any_request(
    tmp_path, capsys, monkeypatch, argv, message
):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("stedi: error: ") and message in err


def test_a_raw_dir_that_names_a_file_is_one_line_saying_so(tmp_path, capsys):
    export = tmp_path / "customer.json"
    export.write_text('{"email": "a@b.c"}\n')
    argv = [
        "run",
        "--raw-dir",
        str(export),
        "--lake-dir",
        str(tmp_path / "lake"),
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    assert _exit_code(argv) == 2
    assert (
        capsys.readouterr().err
        == f"stedi: error: raw directory {export} is a file, not a folder of exports\n"
    )
    assert list(tmp_path.iterdir()) == [export]


RUNNING_DOC = (
    config.PROJECT_ROOT / "docs" / "running.md"
)  # where the README's `stedi run` examples moved (issue 28)


def _doc_block(after: str) -> list[str]:
    """The lines of docs/running.md's first fenced block that follows the line starting with
    `after`."""
    lines = RUNNING_DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(after))
    opening = next(i for i in range(start, len(lines)) if lines[i].startswith("```"))
    closing = next(i for i in range(opening + 1, len(lines)) if lines[i].startswith("```"))
    return lines[opening + 1 : closing]


def test_the_docs_dry_run_example_is_what_dry_run_prints_without_a_machines_path(
    tmp_path, monkeypatch
):
    """The example is the output of its command in a clone at <clone> (issue 27, item 7)."""
    block = _doc_block("prints it for the run you asked for")
    command = block[0]
    assert command.startswith("$ .venv/bin/stedi run --dry-run ")
    assert not re.search(r"/(work|home|Users|tmp|root)/", "\n".join(block))
    clone = tmp_path / "clone"
    for name in ("RAW_DIR", "LAKE_DIR", "RUNS_DIR"):
        monkeypatch.setattr(
            config, name, clone / getattr(config, name).relative_to(config.PROJECT_ROOT)
        )
    for source in SOURCES:
        (config.RAW_DIR / source).mkdir(parents=True)
    iceberg_tables(config.LAKE_DIR, *TABLES)  # the tables a `make run` leaves
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(command.split("#")[0].split()[2:]) == 0
    printed = out.getvalue().replace(str(clone), "<clone>").splitlines()
    shown = [line for line in block[1:] if "…" not in line]
    assert [line for line in printed if line in shown] == shown, printed


def test_the_docs_papermill_help_command_runs_from_the_clone():
    [command] = re.findall(
        r"`([^`]*papermill --help-notebook [^`]*)`", RUNNING_DOC.read_text(encoding="utf-8")
    )
    assert command.startswith(".venv/bin/papermill ")
    done = subprocess.run(
        command.split(), cwd=config.PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Parameters inferred for notebook" in done.stdout and "policy: str" in done.stdout


@pytest.mark.skipif(
    os.access("/proc/sys", os.W_OK), reason="needs a folder this user cannot write to"
)
@pytest.mark.parametrize("which", ["--lake-dir", "--runs-dir"])
def test_an_unwritable_lake_or_runs_directory_is_one_line(tmp_path, capsys, which):
    """Already fine before issue 27 (item 8): kept so. /proc/sys is read-only, even for root."""
    argv = {"--lake-dir": str(tmp_path / "lake"), "--runs-dir": str(tmp_path / "runs")}
    argv[which] = "/proc/sys/stedi-test"
    assert _exit_code(["run", *(part for pair in argv.items() for part in pair)]) == 2
    what = "lake directory" if which == "--lake-dir" else "runs directory"
    assert capsys.readouterr().err == f"stedi: error: {what} /proc/sys/stedi-test is not writable\n"
    assert list(tmp_path.iterdir()) == [] and not os.path.exists("/proc/sys/stedi-test")
