"""Stand-ins for the two parts of AWS's awsglue library that need Glue's JVM: GlueContext and Job.

Everything else a generated job script uses is AWS's own (awsglue-dev from PyPI, the same
awsglue/utils.py as aws-glue-libs' glue-5.0 branch): getResolvedOptions parses the argv for
real. `install()` puts the stand-ins where the script imports them from (awsglue.context,
awsglue.job). They subclass awsglue's classes and override only what calls into the JVM, with
the same signatures (tests/aws/test_glue_harness.py compares them with inspect.signature):

- GlueContext(sparkContext, **options): awsglue's asks the JVM for a GlueContext and wraps its
  session; the stand-in wraps `GlueContext.session` when a test set one (the local engine, in
  this process), else a SparkSession on the SparkContext given (the Glue 5.0 harness).
- Job(glue_context), init, isInitialized, commit: awsglue's call
com.amazonaws.services.glue.util.Job;
  the stand-in records the calls in `Job.calls`.
"""

from __future__ import annotations

from typing import ClassVar

import awsglue.context
import awsglue.job


class GlueContext(awsglue.context.GlueContext):
    # a session every GlueContext wraps, set by an in-process test; None: SparkSession(sparkContext)
    session = None

    def __init__(self, sparkContext, **options):
        from pyspark.sql import SparkSession

        self.spark_context = sparkContext
        self.options = options
        self.spark_session = (
            GlueContext.session if GlueContext.session is not None else SparkSession(sparkContext)
        )


class Job(awsglue.job.Job):
    calls: ClassVar[
        list[tuple]
    ] = []  # ("init", name, arguments) and ("commit", name), in order, across jobs

    def __init__(self, glue_context):
        self._glue_context = glue_context
        self.name = None

    def init(self, job_name, args={}):  # noqa: B006 (awsglue's own signature)
        self.name = job_name
        Job.calls.append(("init", job_name, dict(args)))

    def isInitialized(self):
        return self.name is not None

    def commit(self):
        Job.calls.append(("commit", self.name))


STOOD_IN = {awsglue.context: GlueContext, awsglue.job: Job}


def install() -> None:
    """Make `from awsglue.context import GlueContext` and `from awsglue.job import Job` give the
    stand-ins."""
    for module, standin in STOOD_IN.items():
        setattr(module, standin.__name__, standin)


def uninstall() -> None:
    for module, standin in STOOD_IN.items():
        setattr(module, standin.__name__, standin.__mro__[1])
