"""`stedi aws ...`: the command line's AWS commands (publish, query, deploy, undeploy, status).

`stedi.cli` adds them to its parser (`add_aws_commands`) and runs them (`run_aws_command`).
"""

from __future__ import annotations

import sys

from stedi import config
from stedi.errors import UsageError
from stedi.run.options import bucket_options, database_option, lake_dir_option, policy_option


def add_aws_commands(commands, parser_class) -> None:
    """The `aws` command and its subcommands, on the CLI's subparsers `commands` (each a
    `parser_class`)."""
    aws = commands.add_parser("aws", help="the lake on AWS: S3, the Glue Data Catalog, Athena")
    aws_commands = aws.add_subparsers(dest="aws_command", required=True, parser_class=parser_class)
    publish = aws_commands.add_parser(
        "publish",
        help="copy the local lake's current snapshots into an S3 lake (Glue catalog)",
        parents=[
            lake_dir_option("the local lake"),
            bucket_options(),
            database_option(),
            policy_option(recorded=True),
        ],
    )
    publish.add_argument(
        "--to", default="", metavar="S3_LAKE", help="the S3 lake: s3://BUCKET/PREFIX"
    )
    publish.add_argument(
        "--table", action="append", dest="tables", help="publish only this table (repeatable)"
    )
    query = aws_commands.add_parser(
        "query", help="run SQL on Athena and print the result", parents=[database_option()]
    )
    query.add_argument("file", nargs="?", default=None, help="a .sql file (or give --sql)")
    query.add_argument("--sql", default=None, help="SQL text")
    query.add_argument("--workgroup", default="primary", help="Athena workgroup (default: primary)")
    query.add_argument(
        "--s3-output",
        default=None,
        help="s3:// folder for the results (default: the workgroup's setting)",
    )
    deploy = aws_commands.add_parser(
        "deploy",
        help="deploy the zone steps as Glue jobs chained in a Glue workflow (generated from the "
        "notebooks)",
        parents=[database_option(), policy_option()],
    )
    deploy.add_argument(
        "--bucket", required=True, help="the S3 bucket of the lake and the jobs' scripts"
    )
    deploy.add_argument("--role-arn", required=True, help="the IAM role the Glue jobs run as")
    deploy.add_argument(
        "--prefix", default="", help="a key prefix inside the bucket (and the default --name)"
    )
    deploy.add_argument(
        "--name",
        default="",
        help="the deployment's name: workflow NAME, jobs NAME-<step> "
        f"(default: the prefix, else {config.DEFAULT_DEPLOYMENT})",
    )
    deploy.add_argument(
        "--schedule", default="", help="start the workflow on a schedule: 'cron(0 6 * * ? *)'"
    )
    deploy.add_argument(
        "--execution-class",
        default=config.DEFAULT_EXECUTION_CLASS,
        choices=config.EXECUTION_CLASSES,
        help="the jobs' ExecutionClass: STANDARD (default, starts at once) or FLEX (spare "
        "capacity: may start "
        "later, costs less)",
    )
    undeploy = aws_commands.add_parser(
        "undeploy", help="remove what `stedi aws deploy` created, and nothing else"
    )
    undeploy.add_argument("--bucket", required=True, help="the S3 bucket of the jobs' scripts")
    undeploy.add_argument("--prefix", default="", help="the key prefix given to deploy")
    undeploy.add_argument(
        "--name", default="", help="the deployment's name (default: the prefix, else stedi)"
    )
    aws_status = aws_commands.add_parser(
        "status", help="a run of the deployed workflow: steps, states, durations"
    )
    aws_status.add_argument(
        "--run-id", default="", help="a workflow run id (default: the latest run)"
    )
    aws_status.add_argument("--prefix", default="", help="the key prefix given to deploy")
    aws_status.add_argument(
        "--name", default="", help="the deployment's name (default: the prefix, else stedi)"
    )


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

    deploy(
        args.bucket,
        args.role_arn,
        prefix=args.prefix,
        name=args.name,
        database=args.database,
        policy=args.policy,
        schedule=args.schedule,
        execution_class=args.execution_class,
    )


def _aws_undeploy(args) -> None:
    from stedi.aws.undeploy import undeploy

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


def run_aws_command(args) -> int:
    """Runs `stedi aws <command>`: a failure of AWS is one line, exit 1."""
    from botocore.exceptions import NoCredentialsError, NoRegionError

    from stedi.aws.session import failure_types

    try:
        code = AWS_COMMANDS[args.aws_command](args)
    except (NoCredentialsError, NoRegionError) as exc:
        raise UsageError(str(exc)) from None
    except failure_types() as exc:
        print(
            f"stedi: aws {args.aws_command} failed: {' '.join(str(exc).split())}", file=sys.stderr
        )
        return 1
    return code or 0
