"""`stedi ...`: the command line.

Exit codes: 0 success; 1 a step failed; 2 bad arguments or input (one line, nothing written);
130 interrupted (Ctrl-C: one line; an interrupted run can be resumed).
"""

from __future__ import annotations

import argparse
import sys

from stedi import config
from stedi.aws.commands import add_aws_commands, run_aws_command
from stedi.context import Target
from stedi.errors import UsageError
from stedi.run.notebook_execution import skip_iri_format_checker
from stedi.run.options import (
    bucket_options,
    database_option,
    engine_option,
    lake_dir_option,
    policy_option,
    runs_dir_option,
)

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line, exit 2
        self.exit(2, f"stedi: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stedi", description="STEDI balance lakehouse workbench")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser(
        "run",
        help="build the lakehouse: run the glue_sessions/ notebooks with papermill",
        parents=[
            lake_dir_option(),
            runs_dir_option(),
            policy_option(),
            engine_option(),
            bucket_options(),
            database_option(),
        ],
    )
    run.add_argument(
        "--raw-dir", default=str(config.RAW_DIR), help="exports as received (default: data/raw)"
    )
    run.add_argument(
        "--target",
        type=Target.argument,
        default=config.DEFAULT_TARGET,
        choices=Target.choices(),
        help="local (default) or glue",
    )
    run.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        metavar="RUN_ID",
        help="continue a failed or killed run (default: the latest) from its first unfinished "
        "step, "
        "with that run's options",
    )
    run.add_argument(
        "--full",
        action="store_true",
        help="rebuild everything from the raw exports (default: land only new and changed files, "
        "and run only the steps whose inputs, code or policy changed)",
    )
    run.add_argument(
        "--fresh-kernels",
        action="store_true",
        help="start a kernel (and Spark) per notebook instead of one for the whole run",
    )
    run.add_argument(
        "--notebooks-dir",
        default=str(config.GLUE_SESSIONS_DIR),
        help="the step notebooks (default: glue_sessions)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the steps in order with what each reads and writes; start nothing, write "
        "nothing",
    )
    part = run.add_mutually_exclusive_group()
    part.add_argument(
        "--from",
        dest="from_step",
        metavar="STEP",
        help="run from STEP on, on an existing lake (STEP: a name, its number like 02, or its name "
        "without the number)",
    )
    part.add_argument(
        "--only",
        metavar="STEP[,STEP]",
        help="run just these steps, in pipeline order, on an existing lake",
    )

    quality = commands.add_parser(
        "quality", help="the declared data-quality rules of every table", parents=[policy_option()]
    )
    quality.add_argument(
        "--dqdl", action="store_true", help="print them as AWS Glue Data Quality (DQDL) rulesets"
    )

    rep = commands.add_parser(
        "report",
        help="re-export a run's notebooks (with and without code) and rewrite its index.html",
        parents=[runs_dir_option()],
    )
    rep.add_argument("--run", default="", help="a run id (default: the latest run)")

    sql = commands.add_parser(
        "sql",
        help="run Spark SQL on the local catalog of the lake's tables",
        parents=[
            lake_dir_option("the local lake to query"),
            policy_option(recorded=True),
            engine_option(),
        ],
    )
    sql.add_argument("query", help="SQL text, or a path to a .sql file (statements separated by ;)")
    sql.add_argument(
        "--limit", type=int, default=50, help="rows printed per statement at most (default: 50)"
    )
    sql.add_argument(
        "--as-of", default="", metavar="RUN_ID", help="every table as it stood after that run"
    )
    history = commands.add_parser(
        "history",
        help="a table's snapshots: time, run, step, operation, rows",
        parents=[lake_dir_option(), database_option()],
    )
    history.add_argument("table", help="a table, or <table>_quarantine")

    generate = commands.add_parser(
        "generate",
        help="write synthetic STEDI exports (the raw layout) of N times the real data's size",
    )
    generate.add_argument(
        "--scale",
        type=float,
        required=True,
        metavar="N",
        help="size as a multiple of data/raw (0.05, 1, 100)",
    )
    generate.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="where to write DIR/<table>/*.json (a new or empty folder)",
    )
    generate.add_argument(
        "--seed", type=int, default=0, help="the same seed gives the same files (default: 0)"
    )

    package = commands.add_parser(
        "package", help="build dist/stedi.zip, the code for Glue's %%extra_py_files"
    )
    package.add_argument(
        "--output", default="", help="where to write the zip (default: dist/stedi.zip)"
    )

    erase = commands.add_parser(
        "erase",
        help="request that customers be erased from the lake (the next stedi run applies it)",
        parents=[lake_dir_option()],
    )
    erase.add_argument(
        "--email",
        action="append",
        required=True,
        dest="emails",
        metavar="ADDRESS",
        help="an email (repeatable)",
    )
    erase.add_argument(
        "--new-lake",
        action="store_true",
        help="record the request even though --lake-dir holds no lake yet (a request made before "
        "the first build)",
    )

    add_aws_commands(commands, _Parser)
    return parser


def _run(args) -> int:
    from stedi.run.options import RunOptions
    from stedi.run.runner import dry_run, run

    options = RunOptions(
        raw_dir=args.raw_dir,
        lake_dir=args.lake_dir,
        runs_dir=args.runs_dir,
        policy=args.policy,
        target=args.target,
        engine=args.engine,
        notebooks_dir=args.notebooks_dir,
        bucket=args.bucket,
        prefix=args.prefix,
        database=args.database,
        fresh_kernels=args.fresh_kernels,
        full=args.full,
        from_step=args.from_step or "",
        only=args.only or "",
    )
    if args.resume and (options.from_step or options.only):
        raise UsageError(
            "--resume continues a run with that run's steps; it does not take --from or --only"
        )
    if args.dry_run:
        dry_run(options, resume=args.resume)
        return 0
    manifest = run(options, resume=args.resume)
    return {"succeeded": 0, "interrupted": EXIT_INTERRUPTED}.get(manifest["status"], 1)


def _sql(args) -> int:
    from pathlib import Path

    from stedi.core.sqltext import statements
    from stedi.lake.query import run_statements

    if args.query.endswith(".sql") and not Path(args.query).is_file():
        raise UsageError(f"SQL file {args.query} does not exist")
    try:
        text = (
            Path(args.query).read_text(encoding="utf-8")
            if args.query.endswith(".sql")
            else args.query
        )
    except UnicodeDecodeError:
        raise UsageError(f"SQL file {args.query} is not UTF-8 text") from None
    found = statements(text)
    if not found:
        raise UsageError("no SQL statement to run")
    if args.limit < 1:
        raise UsageError(f"--limit must be at least 1, not {args.limit}")
    if args.lake_dir.startswith("s3://"):
        raise UsageError(
            "stedi sql reads a local lake; for a lake in S3, use stedi aws query (Athena)"
        )
    run_statements(
        args.lake_dir,
        found,
        policy=args.policy,
        engine=args.engine,
        limit=args.limit,
        as_of=args.as_of,
    )
    return 0


def _quality(args) -> int:
    from stedi.core import quality
    from stedi.core.tables import TABLES

    if args.dqdl:
        print(quality.dqdl_rulesets(args.policy))
        return 0
    for name in TABLES:
        print(f"{name}:")
        for rule in quality.rules_for(name, args.policy):
            print(f"  [{rule.severity:<10}] {rule.name}: {rule.description}")
    return 0


def _generate(args) -> int:
    from stedi.dev.generate import GenerateError, generate

    try:
        result = generate(args.out, args.scale, seed=args.seed)
    except GenerateError as exc:
        raise UsageError(str(exc)) from None
    print(f"stedi: wrote {result.summary()} to {result.out} ({result.seconds:.1f} s)")
    return 0


def _package(args) -> int:
    from stedi.dev.package import PACKAGE_ZIP, build

    path = build(args.output or PACKAGE_ZIP)
    print(f"stedi: wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


def _erase(args) -> int:
    from stedi.core.intake.erasure import Erasures, check_addresses
    from stedi.lake.recorded import holds_lake

    lake = config.resolve(args.lake_dir)
    try:
        check_addresses(args.emails)  # a bad address is named before a bad lake
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not args.new_lake and not holds_lake(lake):
        raise UsageError(
            f"{lake} holds no lake; check --lake-dir, or add --new-lake to record the request "
            "there "
            "before the first build"
        )
    try:
        requests = Erasures.request(lake, args.emails)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:  # a file where the lake should be, a folder not writable
        raise UsageError(
            f"cannot write the erasure registry in {lake}: {exc.strerror or exc}"
        ) from None
    for request in requests:  # the request id only: the address is not printed
        if request["done"] is None:
            print(f"erasure requested: id {request['id']} (applied by the next stedi run)")
        else:
            print(
                f"erasure requested: id {request['id']} (already applied by run "
                f"{request['done']['run']})"
            )
    return 0


def _history(args) -> int:
    from stedi.lake.history import history_lines

    return print("\n".join(history_lines(args.table, args.lake_dir, args.database))) or 0


def _report(args) -> int:
    from stedi.run import report
    from stedi.run.folder import RunFolder

    try:
        print(report.refresh(RunFolder.find(args.runs_dir, args.run)))
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    return 0


COMMANDS = {
    "run": _run,
    "sql": _sql,
    "quality": _quality,
    "report": _report,
    "generate": _generate,
    "package": _package,
    "erase": _erase,
    "history": _history,
    "aws": run_aws_command,
}


def main(argv: list[str] | None = None) -> int:
    skip_iri_format_checker()
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"stedi: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C outside a run's own handling (stedi.run.interrupt)
        print(f"stedi {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
