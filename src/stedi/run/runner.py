"""The pipeline: the glue_sessions/ notebooks executed in order with papermill.

Each run gets `runs/<run_id>/` holding every executed notebook, its HTML export,
the steps' completion records and `manifest.json`. A step counts as succeeded
only when papermill raised nothing, no cell output is an error, and the notebook
left its completion record (`steps/<step>.json`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import sys
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from stedi import config

from stedi.run import report
from stedi.lake.lock import LakeBusy, LakeLock
from stedi.core.tables import TABLES

# The zone steps, in dependency order, with what each must have written to count as done.
STEP_OUTPUTS = {
    "00_raw_to_landing": ("customer_landing", "accelerometer_landing", "step_trainer_landing"),
    "01_customer_landing_to_trusted": ("customer_trusted",),
    "02_accelerometer_landing_to_trusted": ("accelerometer_trusted",),
    "03_customer_trusted_to_curated": ("customer_curated",),
    "04_step_trainer_landing_to_trusted": ("step_trainer_trusted",),
    "05_machine_learning_curated": ("machine_learning_curated",),
}
PIPELINE = tuple(STEP_OUTPUTS)
# The exploratory analysis (notebooks/), run last on a local build; a failure fails the run.
ANALYSIS = "balance_analysis"


def steps_for(options: "RunOptions") -> tuple[str, ...]:
    return PIPELINE if options.on_glue else (*PIPELINE, ANALYSIS)


class UsageError(ValueError):
    """Bad arguments or input: reported in one line, exit code 2, nothing written."""


@dataclass
class RunOptions:
    raw_dir: str = str(config.RAW_DIR)
    lake_dir: str = str(config.LAKE_DIR)
    runs_dir: str = str(config.RUNS_DIR)
    policy: str = config.DEFAULT_POLICY
    target: str = config.DEFAULT_TARGET
    kernel: str = ""  # default: the local kernel, or glue_pyspark for target glue
    notebooks_dir: str = str(config.GLUE_SESSIONS_DIR)
    bucket: str = ""  # target glue: the S3 bucket of the lake
    prefix: str = ""  # target glue: a key prefix inside the bucket
    database: str = config.DEFAULT_DATABASE
    fresh_kernels: bool = False  # one kernel per notebook instead of one for the whole run

    @property
    def on_glue(self) -> bool:
        return self.target == "glue"

    @property
    def kernel_name(self) -> str:
        return self.kernel or (config.GLUE_KERNEL if self.on_glue else config.LOCAL_KERNEL)

    @property
    def lake(self) -> str:
        """The lake root the notebooks get: a local folder, or s3://bucket/prefix/lake on Glue."""
        if self.on_glue:
            return config.s3_uri(self.bucket, self.prefix, config.GLUE_LAKE_KEY)
        return config.resolve(self.lake_dir)

    @property
    def raw(self) -> str:
        if self.on_glue and not self.raw_dir.startswith("s3://"):
            return config.s3_uri(self.bucket, self.prefix, config.GLUE_RAW_KEY)
        return config.resolve(self.raw_dir)

    def record_dir(self, run_dir: Path) -> str:
        """Where the notebooks leave their completion records: the run folder, or S3 on Glue."""
        if self.on_glue:
            return config.s3_uri(self.bucket, self.prefix, config.GLUE_LAKE_KEY, "_runs", run_dir.name)
        return str(run_dir)


def new_run_id(policy: str) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{policy}-{uuid.uuid4().hex[:4]}"


def _writable_dir(path: Path, what: str) -> None:
    """`path` exists as a writable folder, or can be created under a writable one."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{what} {path}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path} is not writable")


def validate(options: RunOptions) -> None:
    """Every argument and input checked before anything is written."""
    from stedi.core.intake import RawInputError, check_raw_dir

    if options.policy not in config.POLICIES:
        raise UsageError(f"unknown policy {options.policy!r}; choose one of: {', '.join(config.POLICIES)}")
    if options.target not in config.TARGETS:
        raise UsageError(f"unknown target {options.target!r}; choose one of: {', '.join(config.TARGETS)}")
    if options.on_glue and not options.bucket:
        raise UsageError("--target glue needs --bucket (the S3 bucket of the lake)")
    if not options.raw.startswith("s3://"):
        try:
            check_raw_dir(options.raw)
        except RawInputError as exc:
            raise UsageError(str(exc)) from None
    if not options.on_glue:
        _writable_dir(Path(options.lake), "lake directory")
    _writable_dir(Path(options.runs_dir), "runs directory")
    for name in PIPELINE:
        if not (Path(options.notebooks_dir) / f"{name}.ipynb").is_file():
            raise UsageError(f"notebook {name}.ipynb is missing from {options.notebooks_dir}")
    if ANALYSIS in steps_for(options) and not (config.NOTEBOOKS_DIR / f"{ANALYSIS}.ipynb").is_file():
        raise UsageError(f"notebook {ANALYSIS}.ipynb is missing from {config.NOTEBOOKS_DIR}")


def error_outputs(notebook: dict) -> list[tuple[int, str]]:
    """(cell index, message) of every error a cell shows: raised, or printed the way the Glue kernel does.

    A kernel may print a failure and complete the cell: aws-glue-sessions writes "Exception
    encountered while creating session: …" (or "… running statement: …") and a traceback to
    stderr; sparkmagic-style kernels (Glue and EMR notebooks) print "An error was encountered:"
    with the exception on the next line, on stdout or stderr. Colour codes are ignored.
    """
    import re

    sparkmagic_error = "An error was encountered:"
    stderr_starts = ("Traceback", "Exception:", "Exception encountered", sparkmagic_error)
    ansi_escape = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

    def printed_error(stream: str, text: str) -> str | None:
        lines = [ansi_escape.sub("", line).strip() for line in text.splitlines()]
        for number, line in enumerate(lines):
            if line.startswith(sparkmagic_error):
                detail = line[len(sparkmagic_error) :].strip() or next((x for x in lines[number + 1 :] if x), "")
                return f"{sparkmagic_error} {detail}".strip()
            if stream == "stderr" and (line.startswith(stderr_starts) or "Error:" in line[:80]):
                return line
        return None

    found = []
    for index, cell in enumerate(notebook.get("cells", [])):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append((index, f"{output.get('ename')}: {output.get('evalue')}"))
            elif output.get("output_type") == "stream" and output.get("name") in ("stderr", "stdout"):
                message = printed_error(output["name"], "".join(output.get("text", "")))
                if message is not None:
                    found.append((index, message))
    return found


def failed_cells(notebook: dict) -> list[int]:
    """Indices of the cells papermill marked as failed in an executed notebook's metadata.

    papermill sets `metadata.papermill.exception` (and `status` "failed") on the cell whose
    execute reply had status "error", whether or not the kernel sent an error output: a
    Glue kernel may reply "error" with no output at all, and this is then the only trace.
    """
    found = []
    for index, cell in enumerate(notebook.get("cells", [])):
        marks = cell.get("metadata", {}).get("papermill", {})
        if marks.get("exception") is True or marks.get("status") == "failed":
            found.append(index)
    return found


def reply_error(reply: dict) -> str:
    """What an execute reply with status "error" says: `ename: evalue`, or that it says nothing."""
    content = reply.get("content", {})
    said = f"{content.get('ename') or ''}: {content.get('evalue') or ''}".strip(": ")
    return said or "the kernel replied with status error and sent no error output"


def glue_session_copy(source: Path, run_dir: Path, package_uri: str) -> Path:
    """A copy of a notebook whose %extra_py_files magic names this deployment's stedi.zip."""
    import nbformat

    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "%extra_py_files" in cell.source:
            cell.source = "\n".join(
                f"%extra_py_files {package_uri}" if line.startswith("%extra_py_files") else line
                for line in cell.source.splitlines()
            )
    copy = run_dir / ".glue" / source.name
    copy.parent.mkdir(exist_ok=True)
    nbformat.write(nb, copy)
    return copy


def read_record(where: str) -> dict | None:
    """A step's completion record, or None when the step did not write one."""
    if where.startswith("s3://"):
        import boto3
        from botocore.exceptions import ClientError

        bucket, _, key = where[len("s3://") :].partition("/")
        try:
            body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError:
            return None
        return json.loads(body)
    path = Path(where)
    return json.loads(path.read_text()) if path.exists() else None


def describe_cell(notebook_path: Path, index: int) -> str:
    """`cell [N] ("first line")`: N is the execution count the executed notebook shows as In [N]."""
    import nbformat

    cell = nbformat.read(notebook_path, as_version=4).cells[index]
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    return f'cell [{cell.get("execution_count")}] ("{first[:60]}")'


# Run before each notebook in a shared kernel: a clean namespace and In [1] numbering, as in a
# fresh kernel, while the modules (and so the Spark session and its JVM) stay loaded.
FRESH_NAMESPACE = "get_ipython().run_line_magic('reset', '-f')\nget_ipython().execution_count = 1"


def raw_bytes(raw_dir: str) -> int:
    """Bytes of the files under a local raw directory (0 for S3 or a missing folder)."""
    if raw_dir.startswith("s3://"):
        return 0
    return sum(
        os.path.getsize(os.path.join(folder, name)) for folder, _, names in os.walk(raw_dir) for name in names
    )


@dataclass
class SharedKernel:
    """The run's kernel and one client connected to it, used for every notebook of the run."""

    km: object  # jupyter_client KernelManager
    client: object  # its BlockingKernelClient, channels started


@contextlib.contextmanager
def kernel_for_run(options: RunOptions):
    """One kernel for every step of a run, so the JVM (or the Glue session) starts once.

    Yields a SharedKernel, or None with `fresh_kernels` (papermill then starts a kernel per
    notebook). One client serves every notebook too: starting a client and waiting for the
    kernel to answer it costs about 0.2 s (jupyter_client drains IOPub for 0.2 s), twice per
    notebook otherwise. Each notebook is still tested alone, in its own kernel, by nbval.
    """
    if options.fresh_kernels:
        yield None
        return
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=options.kernel_name)
    env = dict(os.environ)
    if not options.on_glue and "STEDI_SPARK_JAVA_OPTIONS" not in env:
        env["STEDI_SPARK_JAVA_OPTIONS"] = config.java_options_for(raw_bytes(options.raw))
    km.start_kernel(cwd=str(config.PROJECT_ROOT), env=env)
    client = None
    try:
        client = km.client()
        client.start_channels()
        client.wait_for_ready(timeout=120)
        yield SharedKernel(km, client)
    finally:
        if client is not None:
            client.stop_channels()
        km.shutdown_kernel(now=True)


def reset_kernel(kernel: SharedKernel) -> None:
    """A fresh namespace in the shared kernel before the next notebook."""
    reply = kernel.client.execute_interactive(FRESH_NAMESPACE, silent=True, store_history=False, timeout=120)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"could not reset the shared kernel: {reply['content'].get('evalue')}")


def _shared_kernel_engine():
    """papermill's nbclient engine, executing on the run's connected client instead of a new one."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class SharedKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man,
            kernel_name,
            log_output=False,
            stdout_file=None,
            stderr_file=None,
            start_timeout=60,
            execution_timeout=None,
            shared_client=None,
            **kwargs,
        ):
            # As NBClientEngine.execute_managed_notebook, with the client set before executing.
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client = PapermillNotebookClient(nb_man, **final_kwargs)
            client.kc = shared_client  # nbclient keeps a client it did not create (km given)
            return client.execute()

    return SharedKernelEngine


SHARED_KERNEL_ENGINE = "stedi-shared-kernel"


def run_step(name: str, options: RunOptions, run_dir: Path, kernel: SharedKernel | None = None) -> dict:
    """Execute one notebook into the run folder; returns its step entry for the manifest."""
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    executed = run_dir / f"{name}.ipynb"
    if name == ANALYSIS:
        source = config.NOTEBOOKS_DIR / f"{name}.ipynb"
        parameters = {"lake_dir": options.lake, "policy": options.policy, "run_id": run_dir.name, "run_dir": str(run_dir)}
    else:
        source = Path(options.notebooks_dir) / f"{name}.ipynb"
        if options.on_glue:
            package = config.s3_uri(options.bucket, options.prefix, config.GLUE_PACKAGE_KEY)
            source = glue_session_copy(source, run_dir, package)
        parameters = {
            "raw_dir": options.raw,
            "lake_dir": options.lake,
            "policy": options.policy,
            "target": options.target,
            "database": options.database,
            "run_dir": options.record_dir(run_dir),
        }
    started = time.monotonic()
    entry: dict = {"name": name, "notebook": executed.name, "status": "failed"}
    error = None
    shared = {}
    if kernel is not None:
        from papermill.engines import papermill_engines

        papermill_engines.register(SHARED_KERNEL_ENGINE, _shared_kernel_engine())
        shared = {"km": kernel.km, "engine_name": SHARED_KERNEL_ENGINE, "shared_client": kernel.client}
    replies: list[str] = []  # what the kernel's error replies said, in case no output says it
    shared["on_cell_error"] = lambda execute_reply, **_: replies.append(reply_error(execute_reply))
    try:
        if kernel is not None and not options.on_glue:  # the Glue kernel runs code remotely: no IPython there
            reset_kernel(kernel)
        pm.execute_notebook(
            str(source),
            str(executed),
            parameters=parameters,
            kernel_name=options.kernel_name,
            language="python",
            cwd=str(config.PROJECT_ROOT),
            progress_bar=False,
            log_output=False,
            **shared,
        )
    except PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}".strip()
    except Exception as exc:  # the kernel died, could not start, timed out ...
        error = f"{type(exc).__name__}: {exc}"
    if executed.exists():
        notebook = nbformat.read(executed, as_version=4)
        problems = error_outputs(notebook)
        if problems:
            entry["failed_cell"] = problems[0][0]
            error = error or problems[0][1]
        elif error is not None and failed_cells(notebook):
            # An error reply without an error output: papermill's metadata names the cell, and
            # its exception says only "CellExecutionError"; the reply may say more.
            entry["failed_cell"] = failed_cells(notebook)[0]
            if error.rstrip(": ") == "CellExecutionError":
                error = replies[0] if replies else reply_error({})
    record = None
    if error is None:
        record = read_record(f"{options.record_dir(run_dir)}/steps/{name}.json")
        if record is None:
            error = f"the notebook finished without writing its completion record (steps/{name}.json)"
        else:
            missing = [t for t in STEP_OUTPUTS.get(name, ()) if t not in record.get("tables", {})]
            if missing:
                error = f"the step wrote no table {', '.join(missing)}"
    entry["seconds"] = round(time.monotonic() - started, 2)
    if error is not None and "failed_cell" in entry and executed.exists():
        error = f"{describe_cell(executed, entry['failed_cell'])}: {error}"
    if error is None:
        entry["status"] = "succeeded"
        entry["record"] = record
    else:
        entry["error"] = error
    return entry


def write_manifest(run_dir: Path, manifest: dict) -> None:
    tmp = run_dir / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False))
    tmp.replace(run_dir / "manifest.json")


def manifest_for(run_id: str, options: RunOptions, steps: list[dict], status: str, seconds: float) -> dict:
    tables: dict[str, dict] = {}
    intake: dict[str, dict] = {}
    quality: dict[str, list] = {}
    for step in steps:
        record = step.get("record") or {}
        for name, written in record.get("tables", {}).items():
            tables[name] = {k: written[k] for k in ("zone", "rows", "path")}
        intake.update(record.get("intake", {}))
        quality.update(record.get("quality", {}))
    ordered = {name: tables[name] for name in TABLES if name in tables}
    return {
        "run_id": run_id,
        "status": status,
        "policy": options.policy,
        "target": options.target,
        "raw_dir": options.raw,
        "lake_dir": options.lake,
        "seconds": round(seconds, 2),
        "tables": ordered,
        "intake": intake,
        "quality": quality,
        "steps": [{k: v for k, v in step.items() if k != "record"} for step in steps],
        "options": dataclasses.asdict(options),
    }


def point_latest(runs_dir: Path, run_dir: Path) -> None:
    latest = runs_dir / "latest"
    tmp = runs_dir / f".latest-{uuid.uuid4().hex[:6]}"
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    tmp.replace(latest)


def _resume_state(runs_dir: Path, resume: str) -> tuple[RunOptions, str, list[dict]]:
    """The options, run id and finished steps of the run to resume ("latest" or a run id)."""
    run_dir = (runs_dir / resume).resolve() if resume != "latest" else (runs_dir / "latest").resolve()
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        raise UsageError(f"no run {resume} to resume in {runs_dir}")
    manifest = json.loads(manifest_path.read_text())
    if manifest["status"] == "succeeded":
        raise UsageError(f"run {manifest['run_id']} succeeded; there is nothing to resume")
    options = RunOptions(**{**manifest["options"], "runs_dir": str(runs_dir)})
    finished: list[dict] = []
    for name, step in zip(steps_for(options), manifest["steps"]):
        record = read_record(f"{options.record_dir(run_dir)}/steps/{name}.json")
        if step["name"] != name or step["status"] != "succeeded" or record is None:
            break
        finished.append({**step, "record": record, "reused": True})
    return options, manifest["run_id"], finished


def run(options: RunOptions, out=None, *, resume: str | None = None) -> dict:
    """Validate, then execute the pipeline; returns the manifest (status "succeeded" or "failed").

    With `resume` ("latest" or a run id), continue that failed or killed run from its
    first unfinished step, with its options, in its run folder.
    """
    out = out or sys.stdout
    runs_dir = Path(config.resolve(options.runs_dir))
    steps: list[dict] = []
    if resume:
        options, run_id, steps = _resume_state(runs_dir, resume)
    else:
        run_id = new_run_id(options.policy)
    validate(options)
    run_dir = runs_dir / run_id
    lock = None if options.on_glue else LakeLock(options.lake, run_id)
    try:
        if lock is not None:
            lock.acquire()
    except LakeBusy as exc:
        raise UsageError(str(exc)) from None
    try:
        run_dir.mkdir(parents=True, exist_ok=bool(resume))
        point_latest(runs_dir, run_dir)
        verb = f"resuming at step {len(steps) + 1}" if resume else "starting"
        print(f"stedi run {run_id} ({verb}): policy {options.policy}, target {options.target}", file=out)
        print(f"  raw {options.raw} -> lake {options.lake}", file=out)
        if lock is not None and lock.took_over:
            print(f"  {lock.took_over}", file=out)
        started = time.monotonic() - sum(step["seconds"] for step in steps)
        status = "succeeded"
        # Each step's HTML reports are exported on a thread while the next step runs in the
        # kernel (a separate process): the runner itself only waits for the kernel meanwhile.
        exporter = ThreadPoolExecutor(1, thread_name_prefix="stedi-report")
        exports: dict[str, Future] = {}
        with exporter, kernel_for_run(options) as kernel:
            names = steps_for(options)
            for number, name in enumerate(names, 1):
                if number <= len(steps):
                    print(f"  [{number}/{len(names)}] {name} ... done before, kept", file=out)
                    continue
                print(f"  [{number}/{len(names)}] {name} ...", end="", flush=True, file=out)
                entry = run_step(name, options, run_dir, kernel)
                exports[name] = exporter.submit(report.export_reports, run_dir, [name])
                steps.append(entry)
                print(f" {entry['status']} ({entry['seconds']:.1f} s)", file=out)
                write_manifest(run_dir, manifest_for(run_id, options, steps, "running", time.monotonic() - started))
                if entry["status"] != "succeeded":
                    status = "failed"
                    print(f"stedi: step {name} failed in {name}.ipynb, {entry['error']}", file=sys.stderr)
                    break
            for entry in steps:
                if entry["name"] in exports:
                    entry.update(exports[entry["name"]].result().get(entry["name"], {}))
        manifest = manifest_for(run_id, options, steps, status, time.monotonic() - started)
        write_manifest(run_dir, manifest)
        report.write_index(run_dir, manifest)
    finally:
        if lock is not None:
            lock.release()
    print(format_counts(manifest), file=out)
    print(f"run folder: {run_dir}  ({status}, {manifest['seconds']:.1f} s)", file=out)
    return manifest


def format_counts(manifest: dict) -> str:
    lines = [f"  {'table':<26}{'zone':<10}{'rows':>10}"]
    for name, t in manifest["tables"].items():
        lines.append(f"  {name:<26}{t['zone']:<10}{t['rows']:>10,}")
    return "\n".join(lines)
