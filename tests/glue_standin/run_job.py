"""Start generated Glue job scripts as Glue would, in the Glue 5.0 environment
(tests/glue_harness.py).

    python run_job.py REPORT.json JOBS.json [--to-the-end]     (JOBS: [{"script": path, "argv":
    [...]}, ...])

Runs each script in a fresh global scope with sys.argv = [script, *argv] under AWS's awsglue
(awsglue-dev), with only GlueContext and Job stood in (jvm.py), on a real SparkContext of this
environment's pyspark (the first script's SparkContext.getOrCreate() starts it, the next ones
get it: one JVM for all, as the test's time allows), and stops each when its boilerplate is done
(Job.init: past argument parsing, the Spark context and session made). Then it imports every
module the script's cells import, as the rest of the script would, and adds to REPORT (a list,
one entry per script): the resolved arguments, the run folder the script chose, the Spark
context's version and SQL settings, the library versions, where `stedi` came from, and which
modules that a job must not load on Glue (pyiceberg, Sail, DuckDB) were loaded.
stedi is importable only from the zip on PYTHONPATH (Glue's --extra-py-files).
Exit 0 when every script reached Job.init; else the failing script's traceback and exit 1.

With --to-the-end (in the environment with stedi's Glue modules: glue_env/glue-requirements.txt)
each script runs whole, in order, as the workflow's jobs would: its zone step, then job.commit().
Its report entry: the resolved arguments, the stand-in Job's calls, the seconds it took, the
library versions (pyarrow and pyiceberg as installed over Glue's) and the Spark version.
"""

from __future__ import annotations

import ast
import importlib
import json
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
NOT_ON_GLUE = (
    "pyiceberg",
    "pysail",
    "duckdb",
)  # local-only libraries: a job importing them fails on Glue 5.0
LIBRARIES = ("pyspark", "pandas", "numpy", "pyarrow", "boto3", "botocore")


class Reached(Exception):
    """Job.init was called: the boilerplate is done."""


def imported_modules(tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(module, names) of every import statement of the script, in order."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def start(script: str, argv: list[str]) -> dict:
    """Run `script` with `argv` up to Job.init, import what its cells import; its report entry."""
    source = Path(script).read_text()
    tree = ast.parse(source)
    sys.argv = [script, *argv]
    scope = {"__name__": "__main__", "__file__": script}
    try:
        exec(compile(tree, script, "exec"), scope)
    except Reached:
        pass
    else:
        raise RuntimeError(f"{script} ran to its end without calling Job.init")
    imported = []
    for module, names in imported_modules(tree):
        loaded = importlib.import_module(module)
        for name in names:  # as `from module import name` does: an attribute, else a submodule
            if not hasattr(loaded, name):
                importlib.import_module(f"{module}.{name}")
        imported.append(module)
    sc = scope["sc"]
    import stedi
    from stedi.core import shared_files

    return {
        "args": scope["args"],
        "run_dir": scope.get("run_dir"),
        "job_init": scope["job"].__class__.calls[-1][1],
        "session": type(scope["spark"]).__module__ + "." + type(scope["spark"]).__name__,
        "spark": {
            "version": sc.version,
            "master": sc.master,
            "conf": {k: v for k, v in sc.getConf().getAll() if k.startswith("spark.sql.")},
        },
        "python": ".".join(map(str, sys.version_info[:3])),
        "versions": {name: importlib.import_module(name).__version__ for name in LIBRARIES},
        "stedi": stedi.__file__,
        "conditional_writes": shared_files.conditional_writes(),  # S3 If-Match with this botocore
        "imported": imported,
        "not_on_glue_loaded": sorted(m for m in sys.modules if m.split(".")[0] in NOT_ON_GLUE),
    }


def run_whole(script: str, argv: list[str]) -> dict:
    """Run `script` with `argv` to its end (job.commit()); its report entry."""
    import time

    sys.argv = [script, *argv]
    scope = {"__name__": "__main__", "__file__": script}
    started = time.monotonic()
    exec(compile(Path(script).read_text(), script, "exec"), scope)
    job = scope["job"]
    return {
        "args": scope["args"],
        "calls": [list(call[:2]) for call in job.__class__.calls if call[1] == job.name],
        "seconds": round(time.monotonic() - started, 1),
        "spark": scope["sc"].version,
        "python": ".".join(map(str, sys.version_info[:3])),
        "versions": {
            name: importlib.import_module(name).__version__ for name in (*LIBRARIES, "pyiceberg")
        },
    }


def main(report_path: str, jobs_path: str, *options: str) -> int:
    import jvm  # this folder is sys.path[0]; the scripts must not see it

    sys.path[:] = [p for p in sys.path if p != HERE]
    jvm.install()
    if "--to-the-end" in options:
        reports = [
            run_whole(job["script"], job["argv"]) for job in json.loads(Path(jobs_path).read_text())
        ]
        from pyspark import SparkContext

        SparkContext.getOrCreate().stop()
        Path(report_path).write_text(json.dumps(reports, indent=1, default=str))
        return 0

    def init(self, job_name, args={}):  # noqa: B006
        jvm.Job.calls.append(("init", job_name, dict(args)))
        raise Reached

    jvm.Job.init = init
    reports = [start(job["script"], job["argv"]) for job in json.loads(Path(jobs_path).read_text())]
    from pyspark import SparkContext

    SparkContext.getOrCreate().stop()
    Path(report_path).write_text(json.dumps(reports, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
