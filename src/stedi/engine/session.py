"""The Spark session of a target and engine: Spark local mode or Sail here, a GlueContext on AWS
Glue.

Locally there are two engines behind the same PySpark API (stedi.context.Engine):
- `spark`: PySpark's own local mode (a JVM);
- `sail`: Sail (the `pysail` package), a Rust engine that speaks Spark Connect. Its server
  runs in this process, on a background thread listening on a free local port, and PySpark
  connects to it as a Spark Connect client. It starts once per process (a run's shared
  kernel starts it once for every notebook) and stops at interpreter exit, so no process is
  left behind.
On AWS Glue the engine is always Spark.

The engine when none is given: $STEDI_ENGINE (the kernel's engine), else config.DEFAULT_ENGINE.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading

from stedi import config
from stedi.context import Engine, Target

_SAIL_LOCK = threading.Lock()
# this process's Sail server and its Connect session: {"server": ..., "session": ...}
_sail: dict = {}


def engine_for(engine: str = "", target: Target = Target.LOCAL) -> Engine:
    """The engine a notebook's `engine` parameter (text) names, parsed once: `engine`, else
    $STEDI_ENGINE (the kernel's), else config.DEFAULT_ENGINE; on target glue always Spark (another
    one is refused). ValueError (one line) for an unknown engine."""
    if target == Target.GLUE:
        if engine not in ("", Engine.SPARK):
            raise ValueError(
                f"target glue runs Spark; engine {str(engine)!r} runs only on target local"
            )
        return Engine.SPARK
    return Engine.parse(engine or os.environ.get(config.ENGINE_ENV) or config.DEFAULT_ENGINE)


def local_spark(app_name: str = "stedi"):
    """A local SparkSession sized for a small machine, with Spark's logging quieted."""
    from stedi.engine.java import ensure_java_home

    ensure_java_home()
    # The Python workers must be this interpreter (the venv's), not whatever `python` is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    # spark-submit puts SPARK_CONF_DIR on the driver's classpath: our log4j2.properties
    # replaces Spark's default one (which prints "Setting default log level" and INFO lines).
    os.environ["SPARK_CONF_DIR"] = str(config.PACKAGE_DIR / "engine" / "spark_conf")
    builder = SparkSession.builder
    if config.SPARK_DRIVER_JAVA_OPTIONS:
        builder = builder.config("spark.driver.extraJavaOptions", config.SPARK_DRIVER_JAVA_OPTIONS)
    return (
        builder.master(config.SPARK_MASTER)
        .appName(app_name)
        .config("spark.sql.shuffle.partitions", str(config.SPARK_SHUFFLE_PARTITIONS))
        .config("spark.default.parallelism", str(config.SPARK_SHUFFLE_PARTITIONS))
        .config("spark.driver.memory", config.SPARK_DRIVER_MEMORY)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        # Adaptive execution re-plans every shuffle at run time: more, smaller Spark jobs. With 2
        # shuffle partitions it has nothing to coalesce, and the small tables are broadcast
        # from their file sizes anyway; off, the zone steps took 8 % less time at N=1 and N=10.
        .config("spark.sql.adaptive.enabled", config.SPARK_ADAPTIVE)
        .getOrCreate()
    )


def local_sail(app_name: str = "stedi"):
    """A Spark Connect session on this process's Sail server, started (on a free local port) at the
    first call."""
    with _SAIL_LOCK:
        session = _sail.get("session")
        if session is not None and not session.is_stopped:
            return session
        # Sail logs INFO lines from Rust on stderr; the user's RUST_LOG wins. Read when the server
        # starts.
        os.environ.setdefault("RUST_LOG", "error")
        for name, value in config.SAIL_SERVER_SETTINGS.items():  # read when the server starts
            os.environ.setdefault(name, value)
        if os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://"):
            # Sail's object store refuses a plain-HTTP S3 endpoint (a moto server) unless allowed.
            os.environ.setdefault("AWS_ALLOW_HTTP", "true")
        from pysail.spark import SparkConnectServer
        from pyspark.sql import SparkSession

        server = _sail.get("server")
        if server is None or not server.running:
            server = SparkConnectServer(ip=config.SAIL_HOST, port=0)  # port 0: a free one
            server.start(background=True)
            _sail["server"] = server
            if not _sail.get("atexit"):
                atexit.register(stop_sail)
                _sail["atexit"] = True
        host, port = server.listening_address
        # create(), not getOrCreate(): a Connect session to another server must not be taken for
        # ours.
        session = (
            SparkSession.builder.remote(f"sc://{host}:{port}")
            .appName(app_name)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
            .create()
        )
        _sail["session"] = session
        return session


def sail_address() -> str | None:
    """sc://host:port of this process's Sail server, or None when none runs."""
    server = _sail.get("server")
    if server is None or not server.running:
        return None
    host, port = server.listening_address
    return f"sc://{host}:{port}"


def stop_sail() -> None:
    """Stop this process's Sail session and server (registered at exit); a no-op when none runs."""
    with _SAIL_LOCK:
        session, server = _sail.pop("session", None), _sail.pop("server", None)
        if session is not None:
            with contextlib.suppress(
                Exception
            ):  # its connection may be gone already; the server stops next
                session.stop()
        if server is not None and server.running:
            server.stop()
        # PySpark marks the process as a Connect client when a Connect session starts (its
        # functions then build Connect columns); without a session, a classic one may start again.
        if session is not None:
            os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)


_glue_job: dict = {}  # the session a Glue job script registered (use_glue_session)


def use_glue_session(spark) -> None:
    """Make `spark` (a Glue job script's `glueContext.spark_session`) the session of target glue in
    this process."""
    _glue_job["session"] = spark


def glue_spark():
    """The SparkSession on AWS Glue (Glue 5.x, Spark 3.5): the job script's (use_glue_session), else
    an Interactive Session's GlueContext's."""
    spark = _glue_job.get("session")
    if spark is None:  # pragma: no cover - runs only inside an AWS Glue session
        from awsglue.context import GlueContext  # type: ignore[import-not-found]
        from pyspark.context import SparkContext

        spark = GlueContext(SparkContext.getOrCreate()).spark_session
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark


def local_session(engine: str = "", app_name: str = "stedi"):
    """The local session of `engine` (text, parsed by engine_for): Spark local mode, or Sail through
    Spark Connect."""
    if engine_for(engine) == Engine.SAIL:
        return local_sail(app_name)
    return local_spark(app_name)


def spark_for(target: Target, engine: Engine):
    """The session of `target` and `engine` (both parsed already: stedi.run.step.start): the local
    engine's, or the GlueContext's Spark on Glue."""
    if target == Target.GLUE:
        return glue_spark()
    return local_sail() if engine == Engine.SAIL else local_spark()
