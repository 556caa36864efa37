"""The Glue 5.0 harness: a second Python environment with Glue 5.0's libraries, where the
deployed job scripts are started as Glue starts them (tests/test_glue_harness.py).

- The environment is glue_env/ (its pyproject.toml and uv.lock: Python 3.11, pyspark 3.5.4,
  pandas 2.2.2, numpy 1.26.4, pyarrow 17.0.0, boto3/botocore 1.34.131, awsglue-dev), installed
  by the project's uv once per machine into the cache folder `glue_env_dir()` names, keyed on
  the hash of those two files: a changed lock gets a new environment, an unchanged one is
  reused. A build goes to a temporary folder renamed into place under a file lock, so parallel
  test workers build it once and never see half an environment.
- stedi is not installed there: a job imports it from the zip `stedi package` builds, on
  PYTHONPATH, as Glue does with --extra-py-files.
- `glue_argv` is the argv Glue gives a job's script; `start_job` runs a script with it in the
  environment (tests/glue_standin/run_job.py) and returns its report.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from stedi import config

GLUE_ENV_PROJECT = config.PROJECT_ROOT / "glue_env"
RUN_JOB = Path(__file__).parent / "glue_standin" / "run_job.py"
UV = Path(sys.executable).parent / "uv"
# Where built environments are kept: STEDI_GLUE_ENV_CACHE, else the user's cache folder.
CACHE_ENV = "STEDI_GLUE_ENV_CACHE"


def glue_env_key() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "uv.lock"):
        digest.update((GLUE_ENV_PROJECT / name).read_bytes())
    return digest.hexdigest()[:16]


def glue_env_dir() -> Path:
    root = os.environ.get(CACHE_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "stedi")
    return Path(root) / f"glue5-env-{glue_env_key()}"


def glue_python() -> Path:
    """The Glue 5.0 environment's python, built first if this machine has none for this lock."""
    target = glue_env_dir()
    python = target / "bin" / "python"
    if (target / ".complete").is_file():
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".complete").is_file():  # another worker built it meanwhile
            return python
        building = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}"
        # the project's own Python 3.11 (its base interpreter), never one uv would download
        env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(building), "UV_PYTHON_DOWNLOADS": "never"}
        env.pop("VIRTUAL_ENV", None)
        command = [str(UV), "sync", "-q", "--locked", "--compile-bytecode", "--project", str(GLUE_ENV_PROJECT),
                   "--python", str(Path(sys.executable).resolve())]
        try:
            # offline first: what uv's cache holds needs no network (setup.sh does the same)
            done = subprocess.run([*command, "--offline"], check=False, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                shutil.rmtree(building, ignore_errors=True)
                done = subprocess.run(command, check=False, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"building the Glue 5.0 environment failed:\n{done.stderr}")
            (building / ".complete").write_text("")
            shutil.rmtree(target, ignore_errors=True)
            building.rename(target)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return python


def glue_argv(job: dict, *, job_id: str, job_run_id: str, workflow: str, workflow_run_id: str, temp_dir: str,
              run_arguments: dict[str, str] | None = None) -> list[str]:
    """What Glue puts after the script's path in sys.argv for a run of `job` (a GetJob reply's Job)
    started by a workflow: its own arguments, the job's DefaultArguments, then the run's own."""
    argv = ["--JOB_NAME", job["Name"], "--JOB_ID", job_id, "--JOB_RUN_ID", job_run_id,
            "--WORKFLOW_NAME", workflow, "--WORKFLOW_RUN_ID", workflow_run_id,
            "--job-bookmark-option", job.get("DefaultArguments", {}).get("--job-bookmark-option", "job-bookmark-disable"),
            "--TempDir", temp_dir]
    for key, value in (job.get("DefaultArguments") or {}).items():
        if key != "--job-bookmark-option":
            argv += [key, value]
    for key, value in (run_arguments or {}).items():
        argv += [key, value]
    return argv


def _spark_submit_arguments(argv: list[str]) -> str:
    """PYSPARK_SUBMIT_ARGS for the job's local SparkContext: one local core, no UI, and the job's
    `--conf` value passed to spark-submit as Glue does (a value of `k=v --conf k2=v2` is several)."""
    confs = [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == "--conf"]
    return " ".join(["--master local[1] --conf spark.ui.enabled=false", *(f"--conf {c}" for c in confs), "pyspark-shell"])


def start_jobs(jobs: list[tuple[str, list[str]]], package: Path, folder: Path) -> tuple[subprocess.CompletedProcess, list]:
    """Start each (script text, argv) in the Glue 5.0 environment, in one process and one JVM, with
    stedi from `package`; returns the finished process and the scripts' reports ([] when it wrote none).
    The SparkContext gets the first job's `--conf` (the jobs of one deployment share it)."""
    from stedi.engine.java import find_java_home

    listed = []
    for number, (script, argv) in enumerate(jobs):
        path = folder / f"job{number}.py"
        path.write_text(script)
        listed.append({"script": str(path), "argv": argv})
    confs = {_spark_submit_arguments(argv) for _, argv in jobs}
    if len(confs) != 1:
        raise ValueError(f"the jobs ask for different Spark settings: {sorted(confs)}")
    (folder / "jobs.json").write_text(json.dumps(listed))
    report = folder / "report.json"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTHON", "VIRTUAL_ENV", "SPARK_"))}
    env |= {"PYTHONPATH": str(package), "PYSPARK_SUBMIT_ARGS": confs.pop(), "PYTHONDONTWRITEBYTECODE": "1"}
    home = find_java_home()
    if home:
        env["JAVA_HOME"] = str(home)
    done = subprocess.run([str(glue_python()), str(RUN_JOB), str(report), str(folder / "jobs.json")], check=False, env=env,
                          capture_output=True, text=True, cwd=folder, timeout=300)
    with contextlib.suppress(FileNotFoundError):
        return done, json.loads(report.read_text())
    return done, []
