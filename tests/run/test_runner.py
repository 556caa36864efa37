"""The runner: verdicts on executed notebooks, --dry-run, --from / --only, resume.

Runs use stand-in notebooks (the steps' parameters, then a cell that makes the step's
table folders and writes its completion record): papermill and the kernel are real,
Spark is never started.
"""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest

from aws_fixtures import BUCKET
from glue_kernels import install_fake_glue_kernel
from lakes import iceberg_tables
from stedi import config
from stedi.cli import main
from stedi.core.tables import table
from stedi.run import console, pipeline, runner
from stedi.run.manifest import resume_state
from stedi.run.options import RunOptions
from stedi.run.pipeline import PIPELINE, STEPS, ZONE_STEPS
from stedi.run.verdict import error_outputs, failed_cells, reply_error

FIRST = ZONE_STEPS[0].name
PARAMETERS = """raw_dir: str = "data/raw"
lake_dir: str = "data/lake"
policy: str = "strict"
target: str = "local"
engine: str = ""
database: str = "stedi"
run_dir: str = \"\""""
FINISH = """import json, pathlib
tables = {{}}
for name, zone in {writes!r}:
    path = pathlib.Path(lake_dir, zone, name)
    path.mkdir(parents=True, exist_ok=True)
    tables[name] = {{"zone": zone, "rows": {rows!r}, "path": str(path)}}
record = pathlib.Path(run_dir, "steps", "{name}.json")
record.parent.mkdir(parents=True, exist_ok=True)
record.write_text(json.dumps(
    {{"step": "{name}", "tables": tables, "reads": {reads!r}, **{extra!r}}}
))"""


def stand_in(
    step,
    *,
    reads=None,
    fault: str = "",
    finish: bool = True,
    rows: int | None = 1,
    record: dict | None = None,
):
    """A notebook shaped like a zone step's: markdown, magics, parameters, markdown, (fault),
    finish. Its completion record gives each table `rows` rows, and holds `record`'s keys
    besides."""
    cells = [
        nbformat.v4.new_markdown_cell(f"# stand-in for {step.name}"),
        nbformat.v4.new_code_cell("%glue_version 5.0"),
        nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("## Context"),
    ]
    if fault:
        cells.append(nbformat.v4.new_code_cell(fault))
    if finish:
        writes = [(name, table(name).zone) for name in step.writes]
        declared = list(step.reads) if reads is None else reads
        finish_cell = FINISH.format(
            writes=writes, name=step.name, reads=declared, rows=rows, extra=record or {}
        )
        cells.append(nbformat.v4.new_code_cell(finish_cell))
    return nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {
                "name": config.LOCAL_KERNEL,
                "display_name": "stand-in",
                "language": "python",
            }
        },
    )


def stand_ins(tmp_path, **changed) -> str:
    """A notebooks folder of stand-ins for every zone step; `changed` maps a step name to its
    stand-in's arguments."""
    folder = tmp_path / "notebooks"
    folder.mkdir(parents=True)
    for step in ZONE_STEPS:
        nbformat.write(stand_in(step, **changed.get(step.name, {})), folder / f"{step.name}.ipynb")
    return str(folder)


def lake_with(tmp_path, *tables):
    return iceberg_tables(tmp_path / "lake", *tables)


def _run(tmp_path, notebooks, *extra):
    return main(
        [
            "run",
            "--lake-dir",
            str(tmp_path / "lake"),
            "--runs-dir",
            str(tmp_path / "runs"),
            "--notebooks-dir",
            notebooks,
            *extra,
        ]
    )


def _manifest(tmp_path):
    return json.loads((tmp_path / "runs" / "latest" / "manifest.json").read_text())


@pytest.fixture
def no_kernel(monkeypatch):
    """Any attempt to start a kernel or execute a notebook fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(runner, "kernel_for_run", refuse)
    monkeypatch.setattr(runner, "run_step", refuse)


# -- verdicts ---------------------------------------------------------------------
def test_a_raising_cell_fails_the_run_naming_notebook_and_cell(tmp_path, capsys):
    notebooks = stand_ins(tmp_path, **{FIRST: {"fault": 'raise RuntimeError("injected fault")'}})
    assert _run(tmp_path, notebooks) == 1
    err = capsys.readouterr().err
    assert f"step {FIRST} failed in {FIRST}.ipynb, cell [" in err
    assert '("raise RuntimeError("injected fault")"): RuntimeError: injected fault' in err
    manifest = _manifest(tmp_path)
    assert manifest["status"] == "failed"
    assert [s["status"] for s in manifest["steps"]] == [
        "failed"
    ]  # the run stopped at the failed step
    run_dir = tmp_path / "runs" / "latest"
    executed = nbformat.read(run_dir / f"{FIRST}.ipynb", as_version=4)
    assert (
        executed.cells[manifest["steps"][0]["failed_cell"]].source
        == 'raise RuntimeError("injected fault")'
    )
    assert (run_dir / f"{FIRST}.ipynb").exists() and (run_dir / f"{FIRST}.html").exists()
    assert (run_dir / "index.html").exists()


def test_an_error_printed_without_raising_still_fails_the_step(tmp_path, capsys):
    # The Glue kernel reports some failures as printed text; papermill sees success.
    source = (
        'import sys\nprint("Exception: Unable to start session: AccessDenied", file=sys.stderr)'
    )
    assert _run(tmp_path, stand_ins(tmp_path, **{FIRST: {"fault": source}})) == 1
    assert "Unable to start session" in capsys.readouterr().err
    assert _manifest(tmp_path)["steps"][0]["status"] == "failed"


def test_a_step_without_completion_record_is_failed(tmp_path, capsys):
    assert _run(tmp_path, stand_ins(tmp_path, **{FIRST: {"finish": False}})) == 1
    assert "without writing its completion record" in capsys.readouterr().err


def test_a_record_that_read_other_tables_than_declared_fails_the_step(tmp_path, capsys):
    lake_with(tmp_path, "customer_landing")
    step = "01_customer_landing_to_trusted"
    notebooks = stand_ins(
        tmp_path, **{step: {"reads": ["customer_landing", "accelerometer_landing"]}}
    )
    assert _run(tmp_path, notebooks, "--only", "01") == 1
    err = capsys.readouterr().err
    assert (
        "the step read accelerometer_landing, customer_landing; the pipeline declares "
        "customer_landing" in err
    )
    assert _manifest(tmp_path)["steps"][0]["status"] == "failed"


def test_a_failed_run_without_tables_prints_no_counts_header(tmp_path, capsys):
    assert (
        _run(tmp_path, stand_ins(tmp_path, **{FIRST: {"fault": "raise ValueError('bad export')"}}))
        == 1
    )
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "ValueError: bad export" in captured.err
    assert "table" not in captured.out and "rows" not in captured.out
    assert captured.out.splitlines()[-1].startswith("run folder: ") and "(failed, " in captured.out


def test_a_failed_run_with_a_table_of_unknown_rows_prints_one_line_and_its_counts(tmp_path, capsys):
    # A step whose table could not be counted (rows None: a skipped step whose table's count is
    # unreadable), then a failing step: one line, exit 1, the counts printed without crashing
    # (the counts crashed with "unsupported format string passed to NoneType.__format__").
    lake_with(tmp_path, "customer_landing", "accelerometer_landing")
    notebooks = stand_ins(
        tmp_path,
        **{
            "01_customer_landing_to_trusted": {"rows": None},
            "02_accelerometer_landing_to_trusted": {
                "fault": "raise FileNotFoundError('customer_trusted')"
            },
        },
    )
    assert _run(tmp_path, notebooks, "--only", "01,02") == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("stedi: step 02_accelerometer_landing_to_trusted failed in ")
    assert "FileNotFoundError: customer_trusted" in captured.err
    lines = captured.out.splitlines()
    assert lines[lines.index(f"  {'table':<26}{'zone':<10}{'rows':>10}") + 1].split() == [
        "customer_trusted",
        "trusted",
        "unknown",
    ]
    assert _manifest(tmp_path)["tables"]["customer_trusted"]["rows"] is None
    assert "unknown" in console.format_counts({"tables": {"t": {"zone": "landing", "rows": None}}})


def test_the_end_of_a_run_names_the_quarantined_records_and_the_erasures_applied(tmp_path, capsys):
    accounting = {
        "read": 12,
        "landed": 7,
        "quarantined": 4,
        "duplicates_dropped": 1,
        "quarantine_reasons": {"not_json": 3, "truncated": 1},
        "balanced": True,
    }
    intake = {
        "customer_landing": {**accounting, "quarantined": 0, "quarantine_reasons": {}},
        "accelerometer_landing": accounting,
    }
    erasures = [
        {"id": "a1b2c3d4e5f6", "rows": {"customer_landing": 2, "accelerometer_landing": 30}}
    ]
    notebooks = stand_ins(tmp_path, **{FIRST: {"record": {"intake": intake, "erasures": erasures}}})
    assert _run(tmp_path, notebooks, "--only", "00") == 0
    out = capsys.readouterr().out
    assert (
        "  quarantine: 4 records held out of the landing tables (accelerometer_landing 4: not_json "
        "3, truncated 1)\n" in out
    )
    # the run of the landing alone: the later steps' tables still hold the customers
    assert (
        "  erasures applied: 1 request (a1b2c3d4e5f6); 32 rows removed from the landing tables "
        "(customer_landing 2, accelerometer_landing 30)\n"
    ) in out
    whole = {"erasures": erasures, "steps": [{"name": step.name} for step in ZONE_STEPS]}
    assert console.outcome_lines(whole)[-1].endswith(
        "(customer_landing 2, accelerometer_landing 30), and their trusted and curated rows"
    )
    assert console.outcome_lines({"intake": {"customer_landing": {"quarantined": 0}}}) == [
        "  quarantine: no record held out of the landing tables"
    ]
    assert console.outcome_lines({"tables": {}}) == []


SIGINT_ENV = "STEDI_TEST_SIGINT_PID"
# A step that sends SIGINT to the runner (this test process, whose pid the variable holds), as a
# terminal's Ctrl-C would, then works on for a minute unless something stops it.
SIGINT_FAULT = f"""import os, signal, time
if os.environ.get("{SIGINT_ENV}"):
    os.kill(int(os.environ["{SIGINT_ENV}"]), signal.SIGINT)
    time.sleep(60)"""


def test_sigint_to_the_runner_interrupts_the_step_and_resume_continues_the_run(
    tmp_path, capsys, monkeypatch
):
    import os
    import signal
    import threading
    import time

    if threading.current_thread() is not threading.main_thread():
        pytest.skip(
            "the run handles SIGINT from the main thread only; here the signal would stop the tests"
        )
    lake_with(tmp_path, "customer_landing", "accelerometer_trusted")
    notebooks = stand_ins(tmp_path, **{"01_customer_landing_to_trusted": {"fault": SIGINT_FAULT}})
    monkeypatch.setenv(SIGINT_ENV, str(os.getpid()))  # the kernel's environment is this process's
    before = signal.getsignal(signal.SIGINT)
    started = time.monotonic()
    assert _run(tmp_path, notebooks, "--only", "01,03") == 130
    assert time.monotonic() - started < 30  # not the minute the cell sleeps
    assert signal.getsignal(signal.SIGINT) is before  # the run's handler is gone with the run
    captured = capsys.readouterr()
    run_id = (tmp_path / "runs" / "latest").resolve().name
    assert captured.err == (
        f"stedi: run {run_id} interrupted in step 01_customer_landing_to_trusted; "
        "`stedi run --resume` continues it\n"
    )
    manifest = _manifest(tmp_path)
    assert manifest["status"] == "interrupted"
    [entry] = manifest["steps"]
    assert entry["status"] == "interrupted" and entry["error"].startswith(
        "interrupted (SIGINT) in cell ["
    )
    assert "customer_trusted" not in manifest["tables"]  # the step never finished
    monkeypatch.delenv(SIGINT_ENV)
    assert main(["run", "--runs-dir", str(tmp_path / "runs"), "--resume"]) == 0
    assert f"stedi run {run_id} (resuming at step 1)" in capsys.readouterr().out
    manifest = _manifest(tmp_path)
    assert manifest["status"] == "succeeded" and list(manifest["tables"]) == [
        "customer_trusted",
        "customer_curated",
    ]


def test_a_step_its_kernel_stopped_with_keyboard_interrupt_interrupts_the_run(tmp_path, capsys):
    # The kernel got the SIGINT (its process group was signalled), the runner did not.
    lake_with(tmp_path, "customer_landing")
    notebooks = stand_ins(
        tmp_path, **{"01_customer_landing_to_trusted": {"fault": "raise KeyboardInterrupt"}}
    )
    assert _run(tmp_path, notebooks, "--only", "01") == 130
    assert "interrupted in step 01_customer_landing_to_trusted" in capsys.readouterr().err
    assert _manifest(tmp_path)["steps"][0]["status"] == "interrupted"


def test_a_run_has_a_manifest_from_its_start(tmp_path, capsys):
    # A run killed in its first step can be resumed and reported: runs/latest has a manifest.
    seen = (
        "import json, pathlib\npathlib.Path(run_dir, "
        '"seen.json").write_text(pathlib.Path(run_dir, "manifest.json").read_text())'
    )
    lake_with(tmp_path, "customer_landing")
    assert (
        _run(
            tmp_path,
            stand_ins(tmp_path, **{"01_customer_landing_to_trusted": {"fault": seen}}),
            "--only",
            "01",
        )
        == 0
    )
    early = json.loads((tmp_path / "runs" / "latest" / "seen.json").read_text())
    assert (
        early["status"] == "running" and early["steps"] == [] and early["options"]["only"] == "01"
    )


# -- partial runs -----------------------------------------------------------------
def test_only_one_step_on_a_lake_holding_its_input_runs_that_step_alone(tmp_path, capsys):
    lake_with(tmp_path, "customer_landing")
    assert _run(tmp_path, stand_ins(tmp_path), "--only", "01") == 0
    manifest = _manifest(tmp_path)
    assert [s["name"] for s in manifest["steps"]] == ["01_customer_landing_to_trusted"]
    assert manifest["status"] == "succeeded" and list(manifest["tables"]) == ["customer_trusted"]
    assert list(manifest) == [
        "run_id",
        "status",
        "policy",
        "engine",
        "target",
        "raw_dir",
        "lake_dir",
        "seconds",
        "tables",
        "intake",
        "quality",
        "consent_changes",
        "erasures",
        "steps",
        "options",
    ]
    assert manifest["options"]["only"] == "01"
    assert manifest["engine"] == manifest["options"]["engine"] == config.DEFAULT_ENGINE
    assert "[1/1] 01_customer_landing_to_trusted ... succeeded" in capsys.readouterr().out


def test_a_failed_partial_run_resumes_with_its_own_selection(tmp_path, capsys):
    lake_with(tmp_path, "customer_trusted", "accelerometer_trusted", "step_trainer_trusted")
    notebooks = stand_ins(
        tmp_path, **{"05_machine_learning_curated": {"fault": "raise ValueError('not yet')"}}
    )
    assert _run(tmp_path, notebooks, "--only", "03,05") == 1
    assert [s["status"] for s in _manifest(tmp_path)["steps"]] == ["succeeded", "failed"]
    stand_ins(tmp_path / "fixed")
    shutil.copy(tmp_path / "fixed" / "notebooks" / "05_machine_learning_curated.ipynb", notebooks)
    capsys.readouterr()
    assert main(["run", "--runs-dir", str(tmp_path / "runs"), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "[1/2] 03_customer_trusted_to_curated ... done before, kept" in out
    manifest = _manifest(tmp_path)
    assert [s["name"] for s in manifest["steps"]] == [
        "03_customer_trusted_to_curated",
        "05_machine_learning_curated",
    ]
    assert list(manifest["tables"]) == ["customer_curated", "machine_learning_curated"]


def test_resume_without_a_run_to_resume_is_one_line_exit_2(tmp_path, capsys, no_kernel):
    assert main(["run", "--runs-dir", str(tmp_path / "runs"), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err == f"stedi: error: no run latest to resume in {tmp_path / 'runs'}\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "selection, missing",
    [
        (["--only", "02"], "customer_trusted"),
        (["--only", "01,02"], "customer_landing"),
        # the analysis, last on a local run, reads every table
        (
            ["--from", "03_customer_trusted_to_curated"],
            "customer_trusted, accelerometer_trusted, step_trainer_landing, customer_landing",
        ),
    ],
)
def test_a_selection_whose_input_table_is_missing_is_refused(
    tmp_path, capsys, no_kernel, selection, missing
):
    lake_with(tmp_path, "accelerometer_landing")
    notebooks = stand_ins(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert _run(tmp_path, notebooks, *selection) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("stedi: error: ")
    assert f"has no table {missing}, which the selected steps read" in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    "selection, message",
    [
        (["--only", "07"], "unknown step '07'"),
        (["--from", "customer_landing"], "unknown step 'customer_landing'"),
        (["--from", "01", "--only", "02"], "argument --only: not allowed with argument --from"),
        (
            ["--resume", "--only", "02"],
            "--resume continues a run with that run's steps; it does not take --from or --only",
        ),
    ],
)
def test_an_unknown_step_or_both_flags_exit_2_with_one_line(
    tmp_path, capsys, no_kernel, selection, message
):
    try:
        code = main(
            [
                "run",
                "--lake-dir",
                str(tmp_path / "lake"),
                "--runs-dir",
                str(tmp_path / "runs"),
                *selection,
            ]
        )
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err
    assert (
        code == 2 and err.count("\n") == 1 and err.startswith("stedi: error: ") and message in err
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name", ["02", "accelerometer_landing_to_trusted", "02_accelerometer_landing_to_trusted"]
)
def test_a_step_is_selected_by_its_number_its_name_or_its_name_without_number(name):
    assert [s.name for s in RunOptions(only=name).selected_steps()] == [
        "02_accelerometer_landing_to_trusted"
    ]


def test_from_selects_the_rest_of_the_pipeline_of_the_target():
    rest = ["04_step_trainer_landing_to_trusted", "05_machine_learning_curated"]
    assert [s.name for s in RunOptions(from_step="04").selected_steps()] == [
        *rest,
        "balance_analysis",
    ]
    assert [
        s.name for s in RunOptions(from_step="04", target="glue", bucket="b").selected_steps()
    ] == rest
    only = RunOptions(only="05, 01").selected_steps()  # pipeline order, whatever order given
    assert [s.name for s in only] == [
        "01_customer_landing_to_trusted",
        "05_machine_learning_curated",
    ]


# -- engines ----------------------------------------------------------------------
def test_the_run_passes_its_engine_to_every_notebook_and_to_the_kernel(tmp_path, capsys):
    lake_with(tmp_path, "customer_landing")
    step = "01_customer_landing_to_trusted"
    seen = (
        'import os, pathlib\npathlib.Path(run_dir, "engine.txt").write_text(f"{engine} '
        "{os.environ['STEDI_ENGINE']}\")"
    )
    notebooks = stand_ins(tmp_path, **{step: {"fault": seen}})
    assert _run(tmp_path, notebooks, "--only", "01", "--engine", "sail") == 0
    run_dir = tmp_path / "runs" / "latest"
    assert (run_dir / "engine.txt").read_text() == "sail sail"
    manifest = _manifest(tmp_path)
    assert manifest["engine"] == manifest["options"]["engine"] == "sail"
    assert ", engine sail" in capsys.readouterr().out


@pytest.mark.parametrize("engine", ["spark", "sail"])
def test_every_step_and_the_analysis_get_the_engine_parameter(tmp_path, engine):
    from stedi.run.folder import RunFolder

    folder = RunFolder(tmp_path / "run", str(tmp_path / "run"))
    for step in PIPELINE:
        assert runner._parameters(step, RunOptions(engine=engine), folder)["engine"] == engine, (
            step.name
        )


def test_the_jvm_flags_are_chosen_for_the_spark_engine_only(monkeypatch):
    monkeypatch.delenv(config.SPARK_JAVA_OPTIONS_ENV, raising=False)
    monkeypatch.setattr(runner, "kernel_for_run", lambda name, env: env)
    on_spark = runner._kernel(RunOptions(engine="spark"))
    assert on_spark[config.ENGINE_ENV] == "spark" and on_spark[config.SPARK_JAVA_OPTIONS_ENV]
    assert runner._kernel(RunOptions(engine="sail")) == {config.ENGINE_ENV: "sail"}
    assert runner._kernel(RunOptions(target="glue", bucket="b")) == {}


def test_the_engine_defaults_to_the_local_default_and_to_spark_on_glue():
    assert RunOptions().engine == config.DEFAULT_ENGINE
    assert RunOptions(target="glue", bucket="b").engine == "spark"


def test_resuming_a_run_from_before_engines_resumes_it_on_spark(tmp_path):
    lake_with(tmp_path, "customer_landing")
    notebooks = stand_ins(
        tmp_path, **{"01_customer_landing_to_trusted": {"fault": "raise ValueError('not yet')"}}
    )
    assert _run(tmp_path, notebooks, "--only", "01", "--engine", "sail") == 1
    manifest_path = tmp_path / "runs" / "latest" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["options"]["engine"] == "sail"
    assert resume_state(tmp_path / "runs", "latest")[0].engine == "sail"
    del manifest["options"]["engine"]
    manifest_path.write_text(json.dumps(manifest))
    assert resume_state(tmp_path / "runs", "latest")[0].engine == "spark"


# -- dry run ----------------------------------------------------------------------
def test_dry_run_prints_the_seven_steps_with_inputs_and_outputs_and_writes_nothing(
    tmp_path, capsys, no_kernel
):
    assert (
        main(
            [
                "run",
                "--dry-run",
                "--lake-dir",
                str(tmp_path / "lake"),
                "--runs-dir",
                str(tmp_path / "runs"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert len(PIPELINE) == 7 and pipeline.describe(PIPELINE) in out
    for position, step in enumerate(PIPELINE, 1):
        assert f"[{position}/7] {step.name}" in out
    lines = out.splitlines()
    at = lines.index("  [3/7] 02_accelerometer_landing_to_trusted (zone)")
    assert lines[at + 1].split() == ["reads", "accelerometer_landing,", "customer_trusted"]
    assert lines[at + 2].split() == ["writes", "accelerometer_trusted"]
    first = lines.index("  [1/7] 00_raw_to_landing (zone)")
    assert lines[first + 1].split() == [
        "reads",
        "raw/customer,",
        "raw/accelerometer,",
        "raw/step_trainer",
    ]
    assert list(tmp_path.iterdir()) == []


def test_dry_run_on_glue_names_the_s3_lake_and_the_raw_exports_beside_it(
    tmp_path, capsys, no_kernel, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # a relative `s3:` folder would appear here
    argv = [
        "run",
        "--dry-run",
        "--target",
        "glue",
        "--lake-dir",
        "s3://b/team/lake",
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    assert main(argv) == 0
    assert "  raw s3://b/team/raw -> lake s3://b/team/lake" in capsys.readouterr().out.splitlines()
    old = [
        "run",
        "--dry-run",
        "--target",
        "glue",
        "--bucket",
        "b",
        "--prefix",
        "team",
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    assert main(old) == 0
    assert "  raw s3://b/team/raw -> lake s3://b/team/lake" in capsys.readouterr().out.splitlines()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("engine", ["spark", "sail"])
def test_dry_run_shows_the_engine(tmp_path, capsys, no_kernel, engine):
    argv = [
        "run",
        "--dry-run",
        "--engine",
        engine,
        "--lake-dir",
        str(tmp_path / "lake"),
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    assert main(argv) == 0
    assert f"target local, engine {engine}, 7 steps" in capsys.readouterr().out.splitlines()[0]
    assert list(tmp_path.iterdir()) == []


def test_dry_run_of_a_selection_lists_its_steps_and_what_it_takes_from_the_lake(
    tmp_path, capsys, no_kernel
):
    lake_with(
        tmp_path,
        "customer_landing",
        "accelerometer_landing",
        "step_trainer_landing",
        "customer_trusted",
        "accelerometer_trusted",
    )
    lake = str(tmp_path / "lake")
    assert (
        main(
            [
                "run",
                "--dry-run",
                "--from",
                "03",
                "--lake-dir",
                lake,
                "--runs-dir",
                str(tmp_path / "runs"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "from the lake: customer_trusted, accelerometer_trusted, step_trainer_landing, "
        "customer_landing, accelerometer_landing" in out
    )
    assert "[1/4] 03_customer_trusted_to_curated" in out and "[4/4] balance_analysis" in out
    assert STEPS["02_accelerometer_landing_to_trusted"].name not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]


# -- arguments --------------------------------------------------------------------
def test_raw_dir_missing_is_refused(tmp_path, capsys):
    code = main(
        [
            "run",
            "--raw-dir",
            "/nonexistent/raw",
            "--lake-dir",
            str(tmp_path / "lake"),
            "--runs-dir",
            str(tmp_path / "runs"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "raw directory /nonexistent/raw does not exist" in err
    assert list(tmp_path.iterdir()) == []


def test_raw_dir_missing_a_table_is_refused(tmp_path, capsys):
    raw = tmp_path / "raw"
    for source in ("customer", "accelerometer"):
        shutil.copytree(config.RAW_DIR / source, raw / source)
    code = main(
        [
            "run",
            "--raw-dir",
            str(raw),
            "--lake-dir",
            str(tmp_path / "lake"),
            "--runs-dir",
            str(tmp_path / "runs"),
        ]
    )
    assert code == 2
    assert "has no folder step_trainer/" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_lake_dir_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "lake").write_text("not a folder")
    code = main(["run", "--lake-dir", str(tmp_path / "lake"), "--runs-dir", str(tmp_path / "runs")])
    assert code == 2
    assert "is not a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]


def test_the_lake_is_named_by_lake_dir_and_bucket_prefix_are_its_old_form():
    new = RunOptions(lake_dir="s3://b/team/lake", target="glue")
    old = RunOptions(bucket="b", prefix="team", target="glue")
    assert new.lake == old.lake == "s3://b/team/lake" and new.on_s3 and old.on_s3
    assert (new.bucket, new.prefix) == (
        "b",
        "team",
    )  # beside the lake: team/raw, team/artifacts/stedi.zip
    assert new.raw == old.raw == "s3://b/team/raw"
    assert RunOptions(lake_dir="s3://b/lake/").lake == "s3://b/lake"
    assert not RunOptions(lake_dir="data/lake").on_s3


def test_run_options_are_checked_when_the_runner_is_called_directly(tmp_path):
    from stedi.errors import UsageError

    # Text (a resumed run's manifest, a direct caller) is parsed when the options are made.
    for text, message in (
        ({"policy": "lenient"}, "unknown policy 'lenient'; choose one of: strict, udacity"),
        ({"target": "mars"}, "unknown target 'mars'; choose one of: local, glue"),
        ({"engine": "duckdb"}, "unknown engine 'duckdb'; choose one of: spark, sail"),
    ):
        with pytest.raises(UsageError, match=message):
            runner.run(RunOptions(**text))
    for options, message in (
        (
            RunOptions(target="glue"),
            "--target glue needs a lake on S3: --lake-dir s3://BUCKET/PREFIX",
        ),
        (
            RunOptions(lake_dir="s3://b/team/lake", engine="spark"),
            "--engine spark cannot reach the lake s3://b/team/lake: local Spark has no S3 "
            "connector",
        ),
        (
            RunOptions(lake_dir="s3://b/team/lake", bucket="other"),
            "name two lakes; give --lake-dir alone",
        ),
        (
            RunOptions(target="glue", bucket="b", engine="sail"),
            "--target glue runs Spark on AWS Glue",
        ),
    ):
        with pytest.raises(UsageError, match=message):
            runner.run(options)


# -- what a kernel shows ----------------------------------------------------------
def test_error_outputs_reads_raised_and_printed_errors():
    nb = nbformat.v4.new_notebook()
    ok = nbformat.v4.new_code_cell("1")
    ok.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="Exception: in stdout is data\n")
    ]
    printed = nbformat.v4.new_code_cell("2")
    printed.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="Exception: session failed\n")
    ]
    raised = nbformat.v4.new_code_cell("3")
    raised.outputs = [
        nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])
    ]
    nb.cells = [ok, printed, raised]
    assert error_outputs(nb) == [(1, "Exception: session failed"), (2, "ValueError: bad")]


def test_error_outputs_reads_the_glue_kernels_printed_failures():
    # aws-glue-sessions completes a cell whose session could not start, writing the failure to
    # stderr; sparkmagic-style Glue kernels print "An error was encountered:" and the exception
    # on the next line, on stdout. Data that merely mentions an exception is not an error.
    nb = nbformat.v4.new_notebook()
    data = nbformat.v4.new_code_cell("1")
    data.outputs = [
        nbformat.v4.new_output(
            "stream", name="stdout", text="Exception: in stdout is data\nerror was encountered: 0\n"
        )
    ]
    creating = nbformat.v4.new_code_cell("2")
    creating.outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stderr",
            text="Exception encountered while creating session: AccessDeniedException \n",
        )
    ]
    sparkmagic = nbformat.v4.new_code_cell("3")
    sparkmagic.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="Starting session.\n"),
        nbformat.v4.new_output(
            "stream",
            name="stdout",
            text="\x1b[0;31mAn error was encountered:\n\nAnalysisException: [PATH_NOT_FOUND] Path "
            "does not exist\n",
        ),
    ]
    nb.cells = [data, creating, sparkmagic]
    assert error_outputs(nb) == [
        (1, "Exception encountered while creating session: AccessDeniedException"),
        (2, "An error was encountered: AnalysisException: [PATH_NOT_FOUND] Path does not exist"),
    ]


@pytest.mark.parametrize(
    "failure, message",
    [
        ("reply", "SessionStartError: session "),
        ("silent-reply", "the kernel replied with status error and sent no error output"),
    ],
)
def test_an_error_reply_without_error_output_fails_the_run_naming_the_cell(
    aws_env, tmp_path, capsys, monkeypatch, failure, message
):
    # A Glue kernel may answer a cell with status "error" and send no error output: papermill
    # then marks the cell in its metadata only, and that is where the runner finds it. (The lake
    # is on a moto server: the runner holds its lock from this machine.)
    kernel = install_fake_glue_kernel(tmp_path, monkeypatch, failure)
    options = RunOptions(
        kernel=kernel, target="glue", bucket=BUCKET, runs_dir=str(tmp_path / "runs")
    )
    manifest = runner.run(options)
    err = capsys.readouterr().err
    assert manifest["status"] == "failed"
    [step] = manifest["steps"]
    assert step["name"] == FIRST and step["status"] == "failed"
    executed = nbformat.read(tmp_path / "runs" / "latest" / f"{FIRST}.ipynb", as_version=4)
    failed = executed.cells[step["failed_cell"]]
    assert failed.source.startswith("from stedi.core import intake") and failed.outputs == []
    assert failed_cells(executed) == [step["failed_cell"]]
    assert step["error"].startswith(
        f'cell [{failed.execution_count}] ("from stedi.core import intake"): '
    )
    assert message in step["error"] and "CellExecutionError" not in step["error"]
    assert f"step {FIRST} failed in {FIRST}.ipynb, cell [{failed.execution_count}] (" in err


def test_failed_cells_reads_papermills_cell_metadata():
    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_code_cell(str(i)) for i in range(4)]
    cells[0].metadata["papermill"] = {"status": "completed", "exception": False}
    cells[2].metadata["papermill"] = {"status": "failed", "exception": True}
    cells[3].metadata["papermill"] = {"status": "pending", "exception": None}
    nb.cells = cells
    assert failed_cells(nb) == [2]
    assert reply_error({"content": {"status": "error", "ename": "E", "evalue": "v"}}) == "E: v"
    assert reply_error({"content": {"status": "error", "ename": "E"}}) == "E"
