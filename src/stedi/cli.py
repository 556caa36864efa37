"""`stedi ...`: the command line.

Exit codes: 0 success; 1 a step failed; 2 bad arguments or input (one line, nothing written).
"""

from __future__ import annotations

import argparse
import sys

from stedi import config


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line, exit 2
        self.exit(2, f"stedi: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stedi", description="STEDI balance lakehouse workbench")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="build the lakehouse: run the glue_sessions/ notebooks with papermill")
    run.add_argument("--raw-dir", default=str(config.RAW_DIR), help="exports as received (default: data/raw)")
    run.add_argument("--lake-dir", default=str(config.LAKE_DIR), help="lake root (default: data/lake)")
    run.add_argument("--runs-dir", default=str(config.RUNS_DIR), help="where run folders go (default: runs)")
    run.add_argument("--policy", default=config.DEFAULT_POLICY, help="strict (default) or udacity")
    run.add_argument("--target", default=config.DEFAULT_TARGET, help="local (default) or glue")
    run.add_argument("--bucket", default="", help="target glue: the S3 bucket of the lake")
    run.add_argument("--prefix", default="", help="target glue: a key prefix inside the bucket")
    run.add_argument("--database", default=config.DEFAULT_DATABASE, help="catalog database (default: stedi)")
    run.add_argument(
        "--fresh-kernels",
        action="store_true",
        help="start a kernel (and Spark) per notebook instead of one for the whole run",
    )
    run.add_argument(
        "--notebooks-dir", default=str(config.GLUE_SESSIONS_DIR), help="the step notebooks (default: glue_sessions)"
    )

    quality = commands.add_parser("quality", help="the declared data-quality rules of every table")
    quality.add_argument("--dqdl", action="store_true", help="print them as AWS Glue Data Quality (DQDL) rulesets")
    quality.add_argument("--policy", default=config.DEFAULT_POLICY, help="strict (default) or udacity")

    sql = commands.add_parser("sql", help="run Spark SQL on the local catalog of the lake's tables")
    sql.add_argument("query", help="SQL text, or a path to a .sql file")
    sql.add_argument("--lake-dir", default=str(config.LAKE_DIR))
    sql.add_argument("--policy", default=config.DEFAULT_POLICY)
    sql.add_argument("--limit", type=int, default=50)
    return parser


def _run(args) -> int:
    from stedi.runner import RunOptions, UsageError, run

    options = RunOptions(
        raw_dir=args.raw_dir, lake_dir=args.lake_dir, runs_dir=args.runs_dir, policy=args.policy, target=args.target,
        notebooks_dir=args.notebooks_dir,
        bucket=args.bucket,
        prefix=args.prefix,
        database=args.database,
        fresh_kernels=args.fresh_kernels,
    )
    try:
        manifest = run(options)
    except UsageError as exc:
        print(f"stedi: error: {exc}", file=sys.stderr)
        return 2
    return 0 if manifest["status"] == "succeeded" else 1


def _sql(args) -> int:
    from pathlib import Path

    from stedi.lake import Lake
    from stedi.session import local_spark

    text = Path(args.query).read_text() if args.query.endswith(".sql") else args.query
    lake = Lake(local_spark("stedi-sql"), args.lake_dir, policy=args.policy)
    lake.register_existing()
    for statement in [s.strip() for s in text.split(";") if s.strip()]:
        print(lake.sql(statement).limit(args.limit).toPandas().to_string(index=False))
    return 0


def _quality(args) -> int:
    if args.policy not in config.POLICIES:
        print(f"stedi: error: unknown policy {args.policy!r}; choose one of: {', '.join(config.POLICIES)}", file=sys.stderr)
        return 2
    from stedi import quality
    from stedi.tables import TABLES

    if args.dqdl:
        print(quality.dqdl_rulesets(args.policy))
        return 0
    for name in TABLES:
        print(f"{name}:")
        for rule in quality.rules_for(name, args.policy):
            print(f"  [{rule.severity:<10}] {rule.name}: {rule.description}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "sql":
        return _sql(args)
    if args.command == "quality":
        return _quality(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
