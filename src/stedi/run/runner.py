"""`stedi run`: the pipeline's notebooks executed in order with papermill, into a run folder.

Each run gets `runs/<run_id>/` (stedi.run.folder) holding every executed notebook, its
HTML export, the steps' completion records and `manifest.json`. A step counts as
succeeded only when papermill raised nothing, no cell output is an error, and the
notebook left a completion record that agrees with the step's declaration
(stedi.run.verdict). `--from` / `--only` run part of the pipeline (stedi.run.options);
`--dry-run` shows the steps without running them; `--resume` continues a failed or
interrupted run. Ctrl-C stops the run at once (stedi.run.interrupt): the manifest marks it
and the step it stopped "interrupted", and `--resume` continues it.

A step whose tables are up to date is skipped (stedi.run.freshness); its tables, intake
accounting and quality results are then those the lake recorded when the step last ran, with
the run that built them, so the manifest and report of any run show the lake as it is.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from stedi import config
from stedi.errors import UsageError
from stedi.lake import icelake as lake_storage
from stedi.lake.lock import LakeBusy, LakeLock
from stedi.run import faults, freshness, pipeline, report
from stedi.run.console import format_counts, outcome_lines, step_line, step_outcome
from stedi.run.folder import RunFolder, new_run_id
from stedi.run.interrupt import INTERRUPTED, RunInterrupt, stopped_by_interrupt
from stedi.run.manifest import latest_manifest, manifest_for, resume_state
from stedi.run.options import RunOptions, validate
from stedi.run.pipeline import ANALYSIS, PipelineStep
from stedi.run.shared_kernel import SharedKernel, kernel_for_run, reset_kernel
from stedi.run.verdict import describe_cell, notebook_failure, record_problem


def glue_session_copy(
    source: Path, run_dir: Path, package_uri: str, requirements_uri: str, lake: str
) -> Path:
    """A copy of a notebook whose %extra_py_files magic names this deployment's stedi.zip, and whose
    %%configure cell installs stedi's modules from `requirements_uri` and declares Glue's Iceberg
    for `lake` (stedi.engine.glue_iceberg)."""
    import nbformat

    from stedi.engine.glue_iceberg import configured_for

    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "%extra_py_files" in cell.source:
            cell.source = "\n".join(
                f"%extra_py_files {package_uri}" if line.startswith("%extra_py_files") else line
                for line in cell.source.splitlines()
            )
        if cell.cell_type == "code" and cell.source.lstrip().startswith("%%configure"):
            cell.source = configured_for(cell.source, requirements_uri, lake)
    copy = run_dir / ".glue" / source.name
    copy.parent.mkdir(exist_ok=True)
    nbformat.write(nb, copy)
    return copy


def _parameters(step: PipelineStep, options: RunOptions, folder: RunFolder) -> dict:
    if step.kind == ANALYSIS:
        return {
            "lake_dir": options.lake,
            "policy": options.policy,
            "engine": options.engine,
            "run_id": folder.run_id,
            "run_dir": str(folder.path),
        }
    parameters = {
        "raw_dir": options.raw,
        "lake_dir": options.lake,
        "policy": options.policy,
        "target": options.target,
        "engine": options.engine,
        "database": options.database,
        "run_dir": folder.records,
    }
    if step.sources:
        parameters["full"] = options.full
    return parameters


def run_step(
    step: PipelineStep,
    options: RunOptions,
    folder: RunFolder,
    kernel: SharedKernel | None = None,
    interrupt: RunInterrupt | None = None,
) -> dict:
    """Execute one notebook into the run folder; returns its step entry for the manifest
    (status "succeeded", "failed", or "interrupted" when the run was interrupted meanwhile)."""
    import nbformat

    from stedi.run.notebook_execution import execute

    executed = folder.notebook(step.name)
    source = options.notebook(step)
    if options.on_glue and step.kind != ANALYSIS:
        package_uri = config.s3_uri(options.bucket, options.prefix, config.GLUE_PACKAGE_KEY)
        requirements_uri = config.s3_uri(
            options.bucket, options.prefix, config.GLUE_REQUIREMENTS_KEY
        )
        source = glue_session_copy(source, folder.path, package_uri, requirements_uri, options.lake)
    started = time.monotonic()
    entry: dict = {"name": step.name, "notebook": executed.name, "status": "failed"}
    try:
        if (
            kernel is not None and not options.on_glue
        ):  # the Glue kernel runs code remotely: no IPython there
            reset_kernel(kernel)
        raised, replies = execute(
            source,
            executed,
            _parameters(step, options, folder),
            options.kernel_name,
            config.PROJECT_ROOT,
            kernel,
            interrupt,
        )
    except Exception as exc:  # the shared kernel could not be reset
        raised, replies = f"{type(exc).__name__}: {exc}", []
    notebook = nbformat.read(executed, as_version=4) if executed.exists() else None
    failed_cell, error = notebook_failure(notebook, raised, replies)
    if failed_cell is not None:
        entry["failed_cell"] = failed_cell
    record = None
    if error is None:
        record = folder.read_record(step.name)
        error = record_problem(step, record)
    entry["seconds"] = round(time.monotonic() - started, 2)
    if error is None:
        entry["status"] = "succeeded"
        entry["record"] = record
    elif (interrupt is not None and interrupt.requested) or stopped_by_interrupt(error):
        entry["status"] = "interrupted"
        entry["error"] = (
            INTERRUPTED
            if failed_cell is None
            else f"{INTERRUPTED} in {describe_cell(notebook, failed_cell)}"
        )
    else:
        entry["error"] = error
    return entry


def dry_run(
    options: RunOptions, out=None, *, resume: str | None = None
) -> tuple[PipelineStep, ...]:
    """Check the arguments and print the steps a run would execute; starts nothing, writes
    nothing."""
    out = out or sys.stdout
    done: list[dict] = []
    if resume:
        options, folder, done = resume_state(Path(config.resolve(options.runs_dir)), resume)
    steps = validate(options)
    print(
        f"stedi run --dry-run: policy {options.policy}, target {options.target}, engine "
        f"{options.engine}, "
        f"{len(steps)} steps",
        file=out,
    )
    print(f"  raw {options.raw} -> lake {options.lake}", file=out)
    if resume:
        print(
            f"  resuming run {folder.run_id}: the first {len(done)} steps are done and kept",
            file=out,
        )
    needed = pipeline.external_inputs(steps)
    if needed:
        print(f"  from the lake: {', '.join(needed)}", file=out)
    print(pipeline.describe(steps), file=out)
    return steps


def run(options: RunOptions, out=None, *, resume: str | None = None) -> dict:
    """Validate, then execute the selected steps; returns the manifest (status "succeeded",
    "failed", or "interrupted" by Ctrl-C).

    With `resume` ("latest" or a run id), continue that failed, interrupted or killed run from
    its first unfinished step, with its options, in its run folder.
    """
    with RunInterrupt() as interrupt:
        return _run(options, out or sys.stdout, resume, interrupt)


def _run(options: RunOptions, out, resume: str | None, interrupt: RunInterrupt) -> dict:
    runs_dir = Path(config.resolve(options.runs_dir))
    steps: list[dict] = []
    if resume:
        options, folder, steps = resume_state(runs_dir, resume)
    else:
        path = runs_dir / new_run_id(options.policy)
        folder = RunFolder(path, options.record_dir(path))
    selected = validate(options)
    # On Glue too: this process holds the S3 lake's lease while the sessions write.
    lock = LakeLock(options.lake, folder.run_id)
    try:
        lock.acquire()
    except LakeBusy as exc:
        raise UsageError(str(exc)) from None
    try:
        previous = latest_manifest(runs_dir)
        folder.path.mkdir(parents=True, exist_ok=bool(resume))
        folder.point_latest()
        # from the start, runs/latest is a run that `--resume` and `stedi report` find
        if not resume:
            folder.write_manifest(manifest_for(folder.run_id, options, [], "running", 0.0))
        verb = f"resuming at step {len(steps) + 1}" if resume else "starting"
        print(
            f"stedi run {folder.run_id} ({verb}): policy {options.policy}, target "
            f"{options.target}, "
            f"engine {options.engine}",
            file=out,
        )
        print(f"  raw {options.raw} -> lake {options.lake}", file=out)
        if lock.took_over:
            print(f"  {lock.took_over}", file=out)
        if not options.on_glue:
            for name in lake_storage.unfinished_pairs(options.lake, options.database):
                print(
                    f"  {name}: a killed run committed it but not its quarantine; landing it again",
                    file=out,
                )
        manifest = _execute(options, folder, selected, steps, out, interrupt, previous)
        held = []
        if manifest["status"] == "succeeded":  # on Glue too: the runner reaches the S3 lake
            ran = {entry["name"] for entry in manifest["steps"]}
            held = freshness.forget_erased_history(options, ran)
    finally:
        lock.release()
    if steps and all(entry.get("skipped") for entry in manifest["steps"]):
        print(
            "  nothing new: no raw file, erasure request, policy or code changed since the last "
            "run",
            file=out,
        )
    for line in (format_counts(manifest), *outcome_lines(manifest)):
        if line:
            print(line, file=out)
    if held:
        print(
            f"  the erased customers are still in the tables of {', '.join(held)} and in older "
            "snapshots, until a run of those steps",
            file=out,
        )
    print(
        f"run folder: {folder.path}  ({manifest['status']}, {manifest['seconds']:.1f} s)", file=out
    )
    return manifest


def _execute(
    options: RunOptions,
    folder: RunFolder,
    selected: tuple[PipelineStep, ...],
    steps: list[dict],
    out,
    interrupt: RunInterrupt | None = None,
    previous: dict | None = None,
) -> dict:
    """Run the steps of `selected` not in `steps` (the finished ones) and write the manifest and
    index.

    `previous`: the manifest of the run before this one, which a skipped analysis points to."""
    started = time.monotonic() - sum(step["seconds"] for step in steps)
    status = "succeeded"
    # Each step's HTML reports are exported on a thread while the next step runs in the
    # kernel (a separate process): the runner itself only waits for the kernel meanwhile.
    exporter = ThreadPoolExecutor(1, thread_name_prefix="stedi-report")
    exports: dict[str, Future] = {}
    if not options.on_glue:
        for source, gone in freshness.missing_files(options.lake, options.raw).items():
            print(
                f"  {source}: {len(gone)} file(s) landed before are no longer in the raw folder; "
                f"their rows stay until `stedi run --full`: {', '.join(gone)}",
                file=out,
            )
    with exporter, contextlib.ExitStack() as kernels:
        kernel, kernel_started = None, False
        for number, step in enumerate(selected, 1):
            if number <= len(steps):
                print(f"{step_line(number, len(selected), step.name)} done before, kept", file=out)
                continue
            skip = _skippable(step, options, steps)
            if (
                not skip and not kernel_started
            ):  # started for the first step to run: none when nothing is new
                kernel, kernel_started = kernels.enter_context(_kernel(options)), True
            if interrupt is not None and interrupt.requested:
                # Between two steps (or while the kernel started): the run stops before this one.
                steps.append(
                    {
                        "name": step.name,
                        "notebook": "",
                        "status": "interrupted",
                        "seconds": 0.0,
                        "error": f"{INTERRUPTED} before the step started",
                    }
                )
                print(f"{step_line(number, len(selected), step.name)} interrupted", file=out)
            elif skip:
                steps.append(
                    freshness.skipped_entry(step, options.lake, previous, options.database)
                )
                print(
                    f"{step_line(number, len(selected), step.name)} up to date, skipped", file=out
                )
                continue
            else:
                print(step_line(number, len(selected), step.name), end="", flush=True, file=out)
                faults.kill_point(f"step:{step.name}")  # tests only: this runner dies here
                entry = run_step(step, options, folder, kernel, interrupt)
                if (
                    entry["status"] != "interrupted"
                ):  # an interrupted run ends at once: `stedi report` exports it
                    exports[step.name] = exporter.submit(
                        report.export_reports, folder.path, [step.name]
                    )
                steps.append(entry)
                print(step_outcome(entry["status"], entry["seconds"]), file=out)
                folder.write_manifest(
                    manifest_for(
                        folder.run_id, options, steps, "running", time.monotonic() - started
                    )
                )
            entry = steps[-1]
            if entry["status"] == "interrupted":
                status = "interrupted"
                print(
                    f"stedi: run {folder.run_id} interrupted in step {step.name}; "
                    "`stedi run --resume` continues it",
                    file=sys.stderr,
                )
                break
            if entry["status"] != "succeeded":
                status = "failed"
                print(
                    f"stedi: step {step.name} failed in {entry['notebook']}, {entry['error']}",
                    file=sys.stderr,
                )
                break
        for entry in steps:
            if entry["name"] in exports:
                entry.update(exports[entry["name"]].result().get(entry["name"], {}))
    manifest = manifest_for(folder.run_id, options, steps, status, time.monotonic() - started)
    folder.write_manifest(manifest)
    report.write_index(folder.path, manifest)
    return manifest


def _skippable(step: PipelineStep, options: RunOptions, done: list[dict]) -> bool:
    """A zone step whose tables are up to date (stedi.run.freshness); the analysis when every zone
    step was skipped."""
    if options.full or options.on_glue:
        return False
    if step.kind == ANALYSIS:
        zone = [
            entry
            for entry in done
            if entry["name"] in pipeline.STEPS and pipeline.STEPS[entry["name"]].kind != ANALYSIS
        ]
        return bool(zone) and all(entry.get("skipped") for entry in zone)
    return freshness.up_to_date(step, options.lake, options.policy, options.raw, options.database)


def _kernel(options: RunOptions):
    """The run's shared kernel, or none with `fresh_kernels` (papermill then starts one per
    notebook)."""
    if options.fresh_kernels:
        return contextlib.nullcontext()
    env = {}
    if not options.on_glue:
        # The kernel's engine: what a session opened without one in this kernel uses.
        env[config.ENGINE_ENV] = options.engine
    if (
        not options.on_glue
        and options.engine == "spark"
        and config.SPARK_JAVA_OPTIONS_ENV not in os.environ
    ):
        from stedi.engine.java import java_options_for, raw_bytes

        env[config.SPARK_JAVA_OPTIONS_ENV] = java_options_for(raw_bytes(options.raw))
    return kernel_for_run(options.kernel_name, env)
