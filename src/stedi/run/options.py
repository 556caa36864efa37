"""What a run is asked to do (`RunOptions`), the check of it before anything is written, and the
command line's options that several commands share (each declared once, as an argparse parent).

`validate` returns the steps the run executes: the pipeline (stedi.run.pipeline), or the
part of it `--from` / `--only` select, whose input tables must then be in the lake already.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from stedi import config
from stedi.context import Engine, Policy, Target
from stedi.errors import UsageError
from stedi.lake import layout
from stedi.run import pipeline
from stedi.run.folder import lake_records
from stedi.run.pipeline import ANALYSIS, PipelineStep


@dataclass
class RunOptions:
    raw_dir: str = str(config.RAW_DIR)
    lake_dir: str = str(config.LAKE_DIR)
    runs_dir: str = str(config.RUNS_DIR)
    policy: Policy = config.DEFAULT_POLICY
    target: Target = config.DEFAULT_TARGET
    engine: Engine | None = (
        None  # default: config.DEFAULT_ENGINE locally, Spark on target glue (always Spark)
    )
    kernel: str = ""  # default: the local kernel, or glue_pyspark for target glue
    notebooks_dir: str = str(config.GLUE_SESSIONS_DIR)
    bucket: str = (
        ""  # the old form of --lake-dir s3://BUCKET/PREFIX/lake; filled from an S3 lake_dir
    )
    prefix: str = ""  # (with bucket) a key prefix inside the bucket: the lake is PREFIX/lake
    database: str = config.DEFAULT_DATABASE
    fresh_kernels: bool = False  # one kernel per notebook instead of one for the whole run
    from_step: str = ""  # --from: run the pipeline from this step on
    only: str = ""  # --only: run just these comma-separated steps
    full: bool = False  # --full: parse every raw file again and run every step (else: what changed)

    def __post_init__(self):
        # Typed here once: from the command line they are already; a resumed run's manifest and a
        # direct caller give text (UsageError, one line, for an unknown one).
        try:
            self.policy, self.target = Policy.parse(self.policy), Target.parse(self.target)
            self.engine = (
                Engine.parse(self.engine)
                if self.engine
                else Engine.SPARK
                if self.on_glue
                else config.DEFAULT_ENGINE
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if self.bucket and not self.lake_dir.startswith("s3://"):
            # --bucket/--prefix, the old form of --lake-dir s3://BUCKET/PREFIX/lake
            self.lake_dir = layout.s3_root(self.bucket, self.prefix)
        elif self.lake_dir.startswith("s3://") and not self.bucket:
            # Beside the lake on S3 (--target glue): PREFIX/raw, PREFIX/artifacts/stedi.zip.
            self.bucket, self.prefix = layout.bucket_and_prefix(self.lake_dir)

    @property
    def on_s3(self) -> bool:
        """Whether the lake is on S3 (every S3 lake is an Iceberg lake in the Glue Data Catalog)."""
        return self.lake_dir.startswith("s3://")

    @property
    def on_glue(self) -> bool:
        return self.target == Target.GLUE

    @property
    def kernel_name(self) -> str:
        return self.kernel or (config.GLUE_KERNEL if self.on_glue else config.LOCAL_KERNEL)

    @property
    def lake(self) -> str:
        """The lake root the notebooks get: a local folder, or s3://bucket/prefix (--lake-dir)."""
        return config.resolve(self.lake_dir)

    @property
    def raw(self) -> str:
        if self.on_glue and not self.raw_dir.startswith("s3://"):
            return config.s3_uri(self.bucket, self.prefix, config.GLUE_RAW_KEY)
        return config.resolve(self.raw_dir)

    def record_dir(self, run_dir: Path) -> str:
        """Where the notebooks leave their completion records: the run folder, or S3 on Glue."""
        if self.on_glue:
            return lake_records(self.lake, run_dir.name)
        return str(run_dir)

    def notebook(self, step: PipelineStep) -> Path:
        """The source notebook of `step`: zone steps from `notebooks_dir`, the analysis from
        notebooks/."""
        return (
            step.notebook
            if step.kind == ANALYSIS
            else Path(self.notebooks_dir) / f"{step.name}.ipynb"
        )

    def selected_steps(self) -> tuple[PipelineStep, ...]:
        """The steps this run executes, in pipeline order; UsageError for an unknown step."""
        try:
            return pipeline.select(
                pipeline.steps_for(self.on_glue), start=self.from_step, only=self.only
            )
        except pipeline.UnknownStep as exc:
            raise UsageError(str(exc)) from None


def _writable_dir(path: Path, what: str) -> None:
    """`path` exists as a writable folder, or can be created under a writable one."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{what} {path}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path} is not writable")


def _missing_inputs(options: RunOptions, steps: tuple[PipelineStep, ...]) -> list[str]:
    """The lake tables the selected steps need from earlier steps that the lake does not hold."""
    from stedi.lake.icelake import IcebergTables

    lake = IcebergTables(
        None, options.lake, policy=options.policy, database=options.database
    )  # no Spark session
    return [name for name in pipeline.external_inputs(steps) if not lake.exists(name)]


def validate(options: RunOptions) -> tuple[PipelineStep, ...]:
    """Every argument and input checked before anything is written; returns the steps to run."""
    from stedi.core.raw_files import RawInputError, check_raw_dir

    if options.on_glue and options.engine != Engine.SPARK:
        raise UsageError(
            f"--target glue runs Spark on AWS Glue; --engine {options.engine} runs only on target "
            "local"
        )
    if options.on_glue and not options.on_s3:
        raise UsageError("--target glue needs a lake on S3: --lake-dir s3://BUCKET/PREFIX")
    if options.on_s3 and layout.bucket_and_prefix(options.lake) != (
        options.bucket,
        options.prefix.strip("/"),
    ):
        raise UsageError(
            f"--bucket {options.bucket} --prefix {options.prefix!r} and --lake-dir {options.lake} "
            "name "
            "two lakes; give --lake-dir alone"
        )
    if options.on_s3 and not options.on_glue and options.engine != Engine.SAIL:
        raise UsageError(
            f"--engine {options.engine} cannot reach the lake {options.lake}: local Spark has no "
            "S3 "
            "connector; use --engine sail (the default) for a lake on S3"
        )
    steps = options.selected_steps()
    if any(step.sources for step in steps) and not options.raw.startswith("s3://"):
        try:
            check_raw_dir(options.raw)
        except RawInputError as exc:
            raise UsageError(str(exc)) from None
    if not options.on_s3:
        _writable_dir(Path(options.lake), "lake directory")
        from stedi.lake.catalogs import refuse_previous_version

        refuse_previous_version(
            config.resolve(options.lake)
        )  # version folders, row markers: one line
        from stedi.lake.icelake import IcebergTables

        IcebergTables(
            None, options.lake, policy=options.policy, database=options.database
        ).refuse_other_policy()  # a lake holds one policy's tables
    _writable_dir(Path(options.runs_dir), "runs directory")
    for step in steps:
        source = options.notebook(step)
        if not source.is_file():
            raise UsageError(f"notebook {source.name} is missing from {source.parent}")
    missing = _missing_inputs(options, steps)
    if missing:
        producers = list(dict.fromkeys(pipeline.producer(name).name for name in missing))
        raise UsageError(
            f"the lake {options.lake} has no table {', '.join(missing)}, which the selected steps "
            "read; "
            f"run {', '.join(producers)} first, or add {'it' if len(producers) == 1 else 'them'} "
            "to the selection"
        )
    return steps


# -- the command line's shared options (stedi.cli, stedi.aws.commands)
# -------------------------------- Each a parent parser (`add_parser(..., parents=[...])`), made
# fresh per command: argparse shares a parent's actions with its children, so one command's default
# must not be set on another's. Policy and engine are parsed here, once: the commands get the enums
# (stedi.context).


def _parent() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(add_help=False)


def policy_option(*, recorded: bool = False) -> argparse.ArgumentParser:
    """--policy; `recorded`: for a command on a built lake, default None (the policy the lake
    recorded)."""
    parent = _parent()
    parent.add_argument(
        "--policy",
        type=Policy.argument,
        choices=Policy.choices(),
        default=None if recorded else config.DEFAULT_POLICY,
        help="the policy the lake was built with (default: the one it recorded); another one is "
        "refused"
        if recorded
        else "strict (default) or udacity",
    )
    return parent


def engine_option() -> argparse.ArgumentParser:
    """--engine, default None: the run's (stedi run: Spark on target glue), else $STEDI_ENGINE, else
    the default."""
    parent = _parent()
    parent.add_argument(
        "--engine",
        type=Engine.argument,
        choices=Engine.choices(),
        default=None,
        help=f"the local engine: spark (PySpark local mode) or sail (Sail through Spark Connect); "
        f"default: {config.DEFAULT_ENGINE}. --target glue always runs Spark",
    )
    return parent


def lake_dir_option(
    what: str = "the lake: a folder, or s3://BUCKET/PREFIX",
) -> argparse.ArgumentParser:
    parent = _parent()
    parent.add_argument(
        "--lake-dir", default=str(config.LAKE_DIR), help=f"{what} (default: data/lake)"
    )
    return parent


def database_option() -> argparse.ArgumentParser:
    parent = _parent()
    parent.add_argument(
        "--database",
        default=config.DEFAULT_DATABASE,
        help="the Glue database of a lake on S3 (default: stedi)",
    )
    return parent


def runs_dir_option() -> argparse.ArgumentParser:
    parent = _parent()
    parent.add_argument(
        "--runs-dir", default=str(config.RUNS_DIR), help="where run folders go (default: runs)"
    )
    return parent


def bucket_options() -> argparse.ArgumentParser:
    """--bucket/--prefix, the old form of an S3 lake (s3://BUCKET/PREFIX/lake)."""
    parent = _parent()
    parent.add_argument("--bucket", default="", help="the old form of s3://BUCKET/PREFIX/lake")
    parent.add_argument(
        "--prefix", default="", help="with --bucket: a key prefix inside the bucket"
    )
    return parent
