"""`stedi ...`: the command line.

Exit codes: 0 success; 1 a step failed; 2 bad arguments or input (one line, nothing written);
130 interrupted (Ctrl-C: one line; an interrupted run can be resumed).
"""

from __future__ import annotations

import argparse
import sys

from stedi import config
from stedi.errors import UsageError
from stedi.lake.history import history_parser

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line, exit 2
        self.exit(2, f"stedi: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stedi", description="STEDI balance lakehouse workbench")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="build the lakehouse: run the glue_sessions/ notebooks with papermill")
    run.add_argument("--raw-dir", default=str(config.RAW_DIR), help="exports as received (default: data/raw)")
    run.add_argument("--lake-dir", default=str(config.LAKE_DIR), help="a folder, or s3://BUCKET/PREFIX (default: data/lake)")
    run.add_argument("--runs-dir", default=str(config.RUNS_DIR), help="where run folders go (default: runs)")
    run.add_argument(
        "--policy", default=config.DEFAULT_POLICY, choices=config.POLICIES, help="strict (default) or udacity"
    )
    run.add_argument("--target", default=config.DEFAULT_TARGET, choices=config.TARGETS, help="local (default) or glue")
    run.add_argument(
        "--engine",
        default="",
        choices=config.ENGINES,
        help=f"the local engine: spark (PySpark local mode) or sail (Sail through Spark Connect); "
        f"default: {config.DEFAULT_ENGINE}. --target glue always runs Spark",
    )
    run.add_argument("--bucket", default="", help="the old form of --lake-dir s3://BUCKET/PREFIX/lake")
    run.add_argument("--prefix", default="", help="with --bucket: a key prefix inside the bucket")
    run.add_argument("--database", default=config.DEFAULT_DATABASE, help="an S3 lake's Glue database (default: stedi)")
    run.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        metavar="RUN_ID",
        help="continue a failed or killed run (default: the latest) from its first unfinished step, "
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
        "--notebooks-dir", default=str(config.GLUE_SESSIONS_DIR), help="the step notebooks (default: glue_sessions)"
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the steps in order with what each reads and writes; start nothing, write nothing",
    )
    part = run.add_mutually_exclusive_group()
    part.add_argument(
        "--from",
        dest="from_step",
        metavar="STEP",
        help="run from STEP on, on an existing lake (STEP: a name, its number like 02, or its name without the number)",
    )
    part.add_argument(
        "--only", metavar="STEP[,STEP]", help="run just these steps, in pipeline order, on an existing lake"
    )

    quality = commands.add_parser("quality", help="the declared data-quality rules of every table")
    quality.add_argument("--dqdl", action="store_true", help="print them as AWS Glue Data Quality (DQDL) rulesets")
    quality.add_argument(
        "--policy", default=config.DEFAULT_POLICY, choices=config.POLICIES, help="strict (default) or udacity"
    )

    rep = commands.add_parser(
        "report", help="re-export a run's notebooks (with and without code) and rewrite its index.html"
    )
    rep.add_argument("--runs-dir", default=str(config.RUNS_DIR), help="where run folders go (default: runs)")
    rep.add_argument("--run", default="", help="a run id (default: the latest run)")

    sql = commands.add_parser("sql", help="run Spark SQL on the local catalog of the lake's tables")
    sql.add_argument("query", help="SQL text, or a path to a .sql file")
    sql.add_argument("--lake-dir", default=str(config.LAKE_DIR))
    sql.add_argument("--policy", default=config.DEFAULT_POLICY, choices=config.POLICIES)
    sql.add_argument(
        "--engine", default=config.DEFAULT_ENGINE, choices=config.ENGINES, help=f"default: {config.DEFAULT_ENGINE}"
    )
    sql.add_argument("--limit", type=int, default=50, help="rows printed per statement at most (default: 50)")
    sql.add_argument("--as-of", default="", metavar="RUN_ID", help="every table as it stood after that run")
    history_parser(commands)  # stedi history TABLE

    generate = commands.add_parser(
        "generate", help="write synthetic STEDI exports (the raw layout) of N times the real data's size"
    )
    generate.add_argument(
        "--scale", type=float, required=True, metavar="N", help="size as a multiple of data/raw (0.05, 1, 100)"
    )
    generate.add_argument(
        "--out", required=True, metavar="DIR", help="where to write DIR/<table>/*.json (a new or empty folder)"
    )
    generate.add_argument("--seed", type=int, default=0, help="the same seed gives the same files (default: 0)")

    package = commands.add_parser("package", help="build dist/stedi.zip, the code for Glue's %%extra_py_files")
    package.add_argument("--output", default="", help="where to write the zip (default: dist/stedi.zip)")

    erase = commands.add_parser(
        "erase", help="request that customers be erased from the lake (the next stedi run applies it)"
    )
    erase.add_argument(
        "--email", action="append", required=True, dest="emails", metavar="ADDRESS", help="an email (repeatable)"
    )
    erase.add_argument("--lake-dir", default=str(config.LAKE_DIR), help="lake root, or s3:// (default: data/lake)")

    aws = commands.add_parser("aws", help="the lake on AWS: S3, the Glue Data Catalog, Athena")
    aws_commands = aws.add_subparsers(dest="aws_command", required=True, parser_class=_Parser)
    publish = aws_commands.add_parser("publish", help="copy the local lake's current snapshots into an S3 lake (Glue catalog)")
    publish.add_argument("--lake-dir", default=str(config.LAKE_DIR), help="the local lake (default: data/lake)")
    publish.add_argument("--to", default="", metavar="S3_LAKE", help="the S3 lake: s3://BUCKET/PREFIX")
    publish.add_argument("--bucket", default="", help="the old form of --to s3://BUCKET/PREFIX/lake")
    publish.add_argument("--prefix", default="", help="with --bucket: a key prefix inside the bucket")
    publish.add_argument("--database", default=config.DEFAULT_DATABASE, help="Glue database (default: stedi)")
    publish.add_argument("--policy", default=None, choices=config.POLICIES, help="strict or udacity (default: the lake's)")
    publish.add_argument("--table", action="append", dest="tables", help="publish only this table (repeatable)")
    query = aws_commands.add_parser("query", help="run SQL on Athena and print the result")
    query.add_argument("file", nargs="?", default=None, help="a .sql file (or give --sql)")
    query.add_argument("--sql", default=None, help="SQL text")
    query.add_argument("--database", default=config.DEFAULT_DATABASE, help="Glue database (default: stedi)")
    query.add_argument("--workgroup", default="primary", help="Athena workgroup (default: primary)")
    query.add_argument(
        "--s3-output", default=None, help="s3:// folder for the results (default: the workgroup's setting)"
    )
    deploy = aws_commands.add_parser(
        "deploy", help="deploy the zone steps as Glue jobs chained in a Glue workflow (generated from the notebooks)"
    )
    deploy.add_argument("--bucket", required=True, help="the S3 bucket of the lake and the jobs' scripts")
    deploy.add_argument("--role-arn", required=True, help="the IAM role the Glue jobs run as")
    deploy.add_argument("--prefix", default="", help="a key prefix inside the bucket (and the default --name)")
    deploy.add_argument("--name", default="", help="the deployment's name: workflow NAME, jobs NAME-<step> "
                        f"(default: the prefix, else {config.DEFAULT_DEPLOYMENT})")
    deploy.add_argument("--database", default=config.DEFAULT_DATABASE, help="Glue database (default: stedi)")
    deploy.add_argument(
        "--policy", default=config.DEFAULT_POLICY, choices=config.POLICIES, help="strict (default) or udacity"
    )
    deploy.add_argument("--schedule", default="", help="start the workflow on a schedule: 'cron(0 6 * * ? *)'")
    deploy.add_argument(
        "--execution-class", default=config.DEFAULT_EXECUTION_CLASS, choices=config.EXECUTION_CLASSES,
        help="the jobs' ExecutionClass: STANDARD (default, starts at once) or FLEX (spare capacity: may start "
        "later, costs less)",
    )
    undeploy = aws_commands.add_parser("undeploy", help="remove what `stedi aws deploy` created, and nothing else")
    undeploy.add_argument("--bucket", required=True, help="the S3 bucket of the jobs' scripts")
    undeploy.add_argument("--prefix", default="", help="the key prefix given to deploy")
    undeploy.add_argument("--name", default="", help="the deployment's name (default: the prefix, else stedi)")
    aws_status = aws_commands.add_parser("status", help="a run of the deployed workflow: steps, states, durations")
    aws_status.add_argument("--run-id", default="", help="a workflow run id (default: the latest run)")
    aws_status.add_argument("--prefix", default="", help="the key prefix given to deploy")
    aws_status.add_argument("--name", default="", help="the deployment's name (default: the prefix, else stedi)")
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
        raise UsageError("--resume continues a run with that run's steps; it does not take --from or --only")
    if args.dry_run:
        dry_run(options, resume=args.resume)
        return 0
    manifest = run(options, resume=args.resume)
    return {"succeeded": 0, "interrupted": EXIT_INTERRUPTED}.get(manifest["status"], 1)


def _sql(args) -> int:
    from pathlib import Path

    from stedi.core.sqltext import statements
    from stedi.engine.session import local_session
    from stedi.lake.history import as_of_views
    from stedi.lake.information_schema import register_information_schema
    from stedi.lake.store import Lake

    if args.query.endswith(".sql") and not Path(args.query).is_file():
        raise UsageError(f"SQL file {args.query} does not exist")
    text = Path(args.query).read_text(encoding="utf-8") if args.query.endswith(".sql") else args.query
    found = statements(text)
    if not found:
        raise UsageError("no SQL statement to run")
    if args.limit < 1:
        raise UsageError(f"--limit must be at least 1, not {args.limit}")
    if args.lake_dir.startswith("s3://"):
        raise UsageError("stedi sql reads a local lake; for a lake in S3, use stedi aws query (Athena)")
    lake = Lake(local_session(args.engine, "stedi-sql"), args.lake_dir, policy=args.policy)
    register_information_schema(lake, as_of_views(lake, args.as_of) if args.as_of else lake.register_existing())
    for statement in found:
        frame = lake.sql(statement).limit(args.limit + 1).toPandas()
        print(frame.head(args.limit).to_string(index=False))
        if len(frame) > args.limit:
            print(f"(the first {args.limit} rows; --limit N shows more)")
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


def _aws_publish(args) -> None:
    from stedi.aws.publish import publish

    publish(
        lake_dir=args.lake_dir,
        to=args.to,
        database=args.database,
        policy=args.policy,
        tables=args.tables,
        bucket=args.bucket,
        prefix=args.prefix,
    )


def _aws_query(args) -> None:
    from pathlib import Path

    from stedi.aws.query import query

    if (args.file is None) == (args.sql is None):
        raise UsageError('give a .sql file or --sql "..." (one of them)')
    if args.file is not None and not Path(args.file).is_file():
        raise UsageError(f"SQL file {args.file} does not exist")
    text = Path(args.file).read_text(encoding="utf-8") if args.file is not None else args.sql
    query(text, database=args.database, workgroup=args.workgroup, s3_output=args.s3_output)


def _aws_deploy(args) -> None:
    from stedi.aws.deploy import deploy

    deploy(args.bucket, args.role_arn, prefix=args.prefix, name=args.name, database=args.database,
           policy=args.policy, schedule=args.schedule, execution_class=args.execution_class)


def _aws_undeploy(args) -> None:
    from stedi.aws.deploy import undeploy

    undeploy(args.bucket, prefix=args.prefix, name=args.name)


def _aws_status(args) -> int:
    from stedi.aws.status import failed, status

    return 1 if failed(status(name=args.name, prefix=args.prefix, run_id=args.run_id)) else 0


AWS_COMMANDS = {
    "publish": _aws_publish,
    "query": _aws_query,
    "deploy": _aws_deploy,
    "undeploy": _aws_undeploy,
    "status": _aws_status,
}


def _aws(args) -> int:
    from botocore.exceptions import NoCredentialsError, NoRegionError

    from stedi.aws.session import failure_types

    try:
        code = AWS_COMMANDS[args.aws_command](args)
    except (NoCredentialsError, NoRegionError) as exc:
        raise UsageError(str(exc)) from None
    except failure_types() as exc:
        print(f"stedi: aws {args.aws_command} failed: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    return code or 0


def _erase(args) -> int:
    from stedi.core.intake.erasure import Erasures

    try:
        requests = Erasures.request(args.lake_dir, args.emails)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for request in requests:  # the request id only: the address is not printed
        if request["done"] is None:
            print(f"erasure requested: id {request['id']} (applied by the next stedi run)")
        else:
            print(f"erasure requested: id {request['id']} (already applied by run {request['done']['run']})")
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
    "aws": _aws,
}


def main(argv: list[str] | None = None) -> int:
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
