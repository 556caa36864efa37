"""The runner's verdicts, with real papermill runs of deliberately broken notebooks."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest
from glue_kernels import install_fake_glue_kernel

from stedi import config
from stedi.cli import main
from stedi.run.runner import PIPELINE, RunOptions, error_outputs, failed_cells, reply_error, run


def _notebooks_with(tmp_path, step: str, position: int, source: str):
    """A copy of glue_sessions/ where `step` gets a code cell `source` inserted at `position`."""
    folder = tmp_path / "notebooks"
    shutil.copytree(config.GLUE_SESSIONS_DIR, folder)
    path = folder / f"{step}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = nbformat.v4.new_code_cell(source)
    cell["id"] = "injected-fault"
    nb.cells.insert(position, cell)
    nbformat.write(nb, path)
    return folder


def _run(tmp_path, notebooks, *extra):
    return main(
        [
            "run",
            "--lake-dir", str(tmp_path / "lake"),
            "--runs-dir", str(tmp_path / "runs"),
            "--notebooks-dir", str(notebooks),
            *extra,
        ]
    )


def _manifest(tmp_path):
    return json.loads((tmp_path / "runs" / "latest" / "manifest.json").read_text())


def test_a_raising_cell_fails_the_run_naming_notebook_and_cell(tmp_path, capsys):
    notebooks = _notebooks_with(tmp_path, PIPELINE[0], 4, 'raise RuntimeError("injected fault")')
    assert _run(tmp_path, notebooks) == 1
    err = capsys.readouterr().err
    assert f"step {PIPELINE[0]} failed in {PIPELINE[0]}.ipynb, cell [" in err
    assert '("raise RuntimeError(\"injected fault\")"): RuntimeError: injected fault' in err
    manifest = _manifest(tmp_path)
    assert manifest["status"] == "failed"
    assert [s["status"] for s in manifest["steps"]] == ["failed"]  # the run stopped at the failed step
    assert manifest["steps"][0]["failed_cell"] >= 4
    run_dir = tmp_path / "runs" / "latest"
    assert (run_dir / f"{PIPELINE[0]}.ipynb").exists() and (run_dir / f"{PIPELINE[0]}.html").exists()


def test_an_error_printed_without_raising_still_fails_the_step(tmp_path, capsys):
    # The Glue kernel reports some failures as printed text; papermill sees success.
    source = 'import sys\nprint("Exception: Unable to start session: AccessDenied", file=sys.stderr)'
    notebooks = _notebooks_with(tmp_path, PIPELINE[0], 4, source)
    assert _run(tmp_path, notebooks) == 1
    assert "Unable to start session" in capsys.readouterr().err
    assert _manifest(tmp_path)["steps"][0]["status"] == "failed"


def test_a_step_without_completion_record_is_failed(tmp_path, capsys):
    notebooks = _notebooks_with(tmp_path, PIPELINE[0], 3, "")
    nb_path = notebooks / f"{PIPELINE[0]}.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells = [c for c in nb.cells if "step.finish()" not in c.source]
    nbformat.write(nb, nb_path)
    assert _run(tmp_path, notebooks) == 1
    assert "without writing its completion record" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--policy", "lenient"], "unknown policy 'lenient'"),
        (["--raw-dir", "/nonexistent/raw"], "raw directory /nonexistent/raw does not exist"),
        (["--target", "mars"], "unknown target 'mars'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, args, message):
    code = main(["run", "--lake-dir", str(tmp_path / "lake"), "--runs-dir", str(tmp_path / "runs"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_raw_dir_missing_a_table_is_refused(tmp_path, capsys):
    raw = tmp_path / "raw"
    for source in ("customer", "accelerometer"):
        shutil.copytree(config.RAW_DIR / source, raw / source)
    code = main(["run", "--raw-dir", str(raw), "--lake-dir", str(tmp_path / "lake"), "--runs-dir", str(tmp_path / "runs")])
    assert code == 2
    assert "has no folder step_trainer/" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_lake_dir_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "lake").write_text("not a folder")
    code = main(["run", "--lake-dir", str(tmp_path / "lake"), "--runs-dir", str(tmp_path / "runs")])
    assert code == 2
    assert "is not a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]


def test_unknown_option_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--bogus"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().startswith("stedi: error: unrecognized arguments: --bogus")


def test_error_outputs_reads_raised_and_printed_errors():
    nb = nbformat.v4.new_notebook()
    ok = nbformat.v4.new_code_cell("1")
    ok.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Exception: in stdout is data\n")]
    printed = nbformat.v4.new_code_cell("2")
    printed.outputs = [nbformat.v4.new_output("stream", name="stderr", text="Exception: session failed\n")]
    raised = nbformat.v4.new_code_cell("3")
    raised.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])]
    nb.cells = [ok, printed, raised]
    assert error_outputs(nb) == [(1, "Exception: session failed"), (2, "ValueError: bad")]


def test_error_outputs_reads_the_glue_kernels_printed_failures():
    # aws-glue-sessions completes a cell whose session could not start, writing the failure to
    # stderr; sparkmagic-style Glue kernels print "An error was encountered:" and the exception
    # on the next line, on stdout. Data that merely mentions an exception is not an error.
    nb = nbformat.v4.new_notebook()
    data = nbformat.v4.new_code_cell("1")
    data.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="Exception: in stdout is data\nerror was encountered: 0\n")
    ]
    creating = nbformat.v4.new_code_cell("2")
    creating.outputs = [
        nbformat.v4.new_output(
            "stream", name="stderr", text="Exception encountered while creating session: AccessDeniedException \n"
        )
    ]
    sparkmagic = nbformat.v4.new_code_cell("3")
    sparkmagic.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="Starting session.\n"),
        nbformat.v4.new_output(
            "stream",
            name="stdout",
            text="\x1b[0;31mAn error was encountered:\n\nAnalysisException: [PATH_NOT_FOUND] Path does not exist\n",
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
    tmp_path, capsys, monkeypatch, failure, message
):
    # A Glue kernel may answer a cell with status "error" and send no error output: papermill
    # then marks the cell in its metadata only, and that is where the runner finds it.
    for name, value in {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x",
                        "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)  # nothing may reach AWS; if anything tried, it would fail here
    kernel = install_fake_glue_kernel(tmp_path, monkeypatch, failure)
    options = RunOptions(kernel=kernel, target="glue", bucket="stedi-test-lake", runs_dir=str(tmp_path / "runs"))
    manifest = run(options)
    err = capsys.readouterr().err
    assert manifest["status"] == "failed"
    [step] = manifest["steps"]
    assert step["name"] == PIPELINE[0] and step["status"] == "failed"
    executed = nbformat.read(tmp_path / "runs" / "latest" / f"{PIPELINE[0]}.ipynb", as_version=4)
    failed = executed.cells[step["failed_cell"]]
    assert failed.source.startswith("from stedi.core import intake") and failed.outputs == []
    assert failed_cells(executed) == [step["failed_cell"]]
    assert step["error"].startswith(f'cell [{failed.execution_count}] ("from stedi.core import intake"): ')
    assert message in step["error"] and "CellExecutionError" not in step["error"]
    assert f"step {PIPELINE[0]} failed in {PIPELINE[0]}.ipynb, cell [{failed.execution_count}] (" in err


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
