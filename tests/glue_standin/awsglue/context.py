"""awsglue.context stand-in: a GlueContext whose spark_session is the session the test sets."""

from __future__ import annotations


class GlueContext:
    session = None  # the Spark session every GlueContext wraps; set by the test

    def __init__(self, spark_context, **options):
        if GlueContext.session is None:
            raise RuntimeError("set GlueContext.session to the test's Spark session first")
        self.spark_context = spark_context
        self.spark_session = GlueContext.session
