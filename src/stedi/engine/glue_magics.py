"""The AWS Glue Interactive Sessions magics, for the local kernel.

On AWS the `glue_pyspark` kernel of aws-glue-sessions acts on these magics (it
starts a Glue session with that version, worker type, ...). The local kernel
that `make setup` registers loads this extension (`--ext=stedi.engine.glue_magics`), so
the same first cell runs unchanged: each magic is recorded in `SESSION_CONFIG`
and acknowledged the way the Glue kernel does, and the work runs on the local engine
(stedi.engine.session: Spark local mode, or Sail through Spark Connect). The magics use
only what both a classic and a Spark Connect session offer (no SparkContext).
"""

from __future__ import annotations

import ast
import shlex

# What the notebook asked of the Glue session, as the Glue kernel would receive it.
SESSION_CONFIG: dict[str, object] = {}

# magic -> (SESSION_CONFIG key, how the Glue kernel acknowledges it)
LINE_MAGICS = {
    "glue_version": ("glue_version", "Setting Glue version to: {}"),
    "worker_type": ("worker_type", "Setting worker type to: {}"),
    "number_of_workers": ("number_of_workers", "Setting new number of workers to: {}"),
    "idle_timeout": (
        "idle_timeout",
        "Current idle_timeout is None minutes.\nidle_timeout has been set to {} minutes.",
    ),
    "timeout": ("timeout", "Setting timeout to: {}"),
    "extra_py_files": ("extra_py_files", "Extra py files to be included:\n{}"),
    "additional_python_modules": (
        "additional_python_modules",
        "Additional python modules to be included:\n{}",
    ),
    "extra_jars": ("extra_jars", "Extra jars to be included:\n{}"),
    "iam_role": ("iam_role", "Current iam_role is None\niam_role has been set to {}."),
    "region": ("region", "Previous region: None\nSetting new region to: {}"),
    "session_id_prefix": ("session_id_prefix", "Setting session ID prefix to {}"),
    "connections": ("connections", "Connections to be included:\n{}"),
    "spark_conf": (
        "spark_conf",
        "Previous Spark configuration: None\nSetting new Spark configuration to: {}",
    ),
    "tags": ("tags", "Tags to be included:\n{}"),
    "security_config": ("security_config", "Setting security configuration to: {}"),
}


def _value(line: str) -> object:
    text = line.strip()
    parts = shlex.split(text) if text else []
    if len(parts) == 1:
        word = parts[0]
        return int(word) if word.isdigit() else word
    return text


def _line_magic(name: str, key: str, message: str):
    def magic(line: str) -> None:
        value = _value(line)
        SESSION_CONFIG[key] = value
        shown = "\n".join(str(value).split(",")) if "\n{}" in message else value
        print(message.format(shown))

    magic.__name__ = name
    magic.__doc__ = (
        f"Glue session magic %{name}: recorded locally (Glue kernel: {message.splitlines()[-1]})"
    )
    return magic


def configure(line: str, cell: str) -> None:
    """%%configure {dict}: session settings, read as the glue_pyspark kernel reads them
    (ast.literal_eval: a JSON object of strings and numbers reads the same), recorded."""
    settings = ast.literal_eval(cell) if (cell or "").strip() else {}
    if not isinstance(settings, dict):
        raise ValueError("%%configure takes a dict of session settings")
    SESSION_CONFIG.update(settings)
    print("The following configurations have been updated:", settings)


def sql(line: str, cell: str):
    """%%sql: run Spark SQL on the active session and show the result (as the Glue kernel does)."""
    spark = _active_session()
    if spark is None:
        raise RuntimeError("%%sql needs a Spark session: run the context cell first")
    return spark.sql(cell).limit(int(line.strip() or 20)).toPandas()


ENGINE_NAMES = {"spark": "PySpark local mode", "sail": "Sail through Spark Connect"}


def _active_session():
    """The session the notebook opened, or None (PySpark answers with its Connect session in Connect
    mode)."""
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def status(line: str = "") -> None:
    """%status: the local engine and session, and the recorded session settings."""
    from stedi.context import Engine
    from stedi.engine.session import engine_for, sail_address

    spark = _active_session()
    if spark is None:
        engine = engine_for()
        print(
            f"Local Glue session stand-in, engine {engine} ({ENGINE_NAMES[engine]}): no session yet"
        )
    else:
        engine = Engine.of(spark)
        where = f", {sail_address()}" if engine == "sail" and sail_address() else ""
        print(
            f"Local Glue session stand-in, engine {engine} ({ENGINE_NAMES[engine]}{where}), Spark "
            f"{spark.version}"
        )
    for key in sorted(SESSION_CONFIG):
        print(f"{key}: {SESSION_CONFIG[key]}")


def stop_session(line: str = "") -> None:
    """%stop_session: stop the local session (and this kernel's Sail server)."""
    from stedi.context import Engine
    from stedi.engine.session import stop_sail

    spark = _active_session()
    if spark is not None and Engine.of(spark) == Engine.SPARK:
        spark.stop()
    stop_sail()
    print("Stopped session.")


def load_ipython_extension(ipython) -> None:
    for name, (key, message) in LINE_MAGICS.items():
        ipython.register_magic_function(_line_magic(name, key, message), "line", name)
    ipython.register_magic_function(configure, "cell", "configure")
    ipython.register_magic_function(sql, "cell", "sql")
    ipython.register_magic_function(status, "line", "status")
    ipython.register_magic_function(stop_session, "line", "stop_session")
