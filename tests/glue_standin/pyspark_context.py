"""A stand-in for pyspark.context.SparkContext in generated job scripts: the test's GlueContext
wraps a session it was given, so the script's SparkContext.getOrCreate() must start nothing."""

from __future__ import annotations


class SparkContext:
    @classmethod
    def getOrCreate(cls):
        return cls()
