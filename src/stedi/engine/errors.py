"""An engine's error as one line: what `stedi sql` prints instead of a traceback.

Both engines raise PySpark's exceptions for what they refuse before running (a syntax
error, an unknown column or table: `PySparkException`, classic or Spark Connect). A classic
session raises `Py4JJavaError` for a failure while running (a task that threw): its root
cause, the JVM exception, is the message. Each is reduced to its first line, which names
the error and says where it is (the plan and the JVM stack that follow are dropped).
"""

from __future__ import annotations


def engine_error_types() -> tuple[type[BaseException], ...]:
    """The exception types an engine raises for a query it cannot run."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    return PySparkException, Py4JJavaError


def engine_message(exc: BaseException) -> str:
    """The error's message in one line: its first non-blank line, whitespace runs made one space."""
    java = getattr(exc, "java_exception", None)
    if java is not None:  # Py4JJavaError: the deepest cause is what went wrong
        while java.getCause() is not None:
            java = java.getCause()
        text = str(java.toString())
    else:
        text = str(exc)
    first = next((line for line in text.splitlines() if line.strip()), type(exc).__name__)
    return " ".join(first.split())


def quiet_task_errors(spark) -> None:
    """Stop a classic session's JVM logging a failed task's stack (engine_message reports it in
    one line); a Spark Connect session logs nothing in this process."""
    from stedi.context import Engine

    if Engine.of(spark) == Engine.SPARK:
        log4j = spark._jvm.org.apache.logging.log4j
        log4j.core.config.Configurator.setAllLevels("", log4j.Level.OFF)
