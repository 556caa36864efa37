"""The verdict on an executed notebook: did its step fail, and where?

Pure functions of an executed notebook (a dict or nbformat node), of the kernel's replies
and of the step's completion record. A step fails when a cell shows an error (raised, or
printed the way the Glue kernel does), when papermill marked a cell failed, or when its
completion record is missing or disagrees with the step's declaration (stedi.run.pipeline).
"""

from __future__ import annotations

import re

from stedi.run.pipeline import ZONE, PipelineStep

SPARKMAGIC_ERROR = "An error was encountered:"
STDERR_STARTS = ("Traceback", "Exception:", "Exception encountered", SPARKMAGIC_ERROR)
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _printed_error(stream: str, text: str) -> str | None:
    lines = [_ANSI_ESCAPE.sub("", line).strip() for line in text.splitlines()]
    for number, line in enumerate(lines):
        if line.startswith(SPARKMAGIC_ERROR):
            detail = line[len(SPARKMAGIC_ERROR) :].strip() or next(
                (x for x in lines[number + 1 :] if x), ""
            )
            return f"{SPARKMAGIC_ERROR} {detail}".strip()
        if stream == "stderr" and (line.startswith(STDERR_STARTS) or "Error:" in line[:80]):
            return line
    return None


def error_outputs(notebook: dict) -> list[tuple[int, str]]:
    """(cell index, message) of every error a cell shows: raised, or printed the way the Glue kernel
    does.

    A kernel may print a failure and complete the cell: aws-glue-sessions writes "Exception
    encountered while creating session: …" (or "… running statement: …") and a traceback to
    stderr; sparkmagic-style kernels (Glue and EMR notebooks) print "An error was encountered:"
    with the exception on the next line, on stdout or stderr. Colour codes are ignored.
    """
    found = []
    for index, cell in enumerate(notebook.get("cells", [])):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append((index, f"{output.get('ename')}: {output.get('evalue')}"))
            elif output.get("output_type") == "stream" and output.get("name") in (
                "stderr",
                "stdout",
            ):
                message = _printed_error(output["name"], "".join(output.get("text", "")))
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


def describe_cell(notebook: dict, index: int) -> str:
    """`cell [N] ("first line")`: N is the execution count the executed notebook shows as In [N]."""
    cell = notebook["cells"][index]
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    first = next((line for line in source.splitlines() if line.strip()), "")
    return f'cell [{cell.get("execution_count")}] ("{first[:60]}")'


def notebook_failure(
    notebook: dict | None, raised: str | None, replies: list[str]
) -> tuple[int | None, str | None]:
    """(failed cell index or None, error or None) of an executed notebook.

    `raised` is what papermill raised ("ename: evalue"), `replies` what the kernel's error
    replies said; `notebook` is None when papermill wrote no executed notebook.
    """
    if notebook is None:
        return None, raised
    problems = error_outputs(notebook)
    if problems:
        index, message = problems[0]
        return index, f"{describe_cell(notebook, index)}: {raised or message}"
    marked = failed_cells(notebook)
    if raised is not None and marked:
        # An error reply without an error output: papermill's metadata names the cell, and its
        # exception says only "CellExecutionError"; the reply may say more.
        if raised.rstrip(": ") == "CellExecutionError":
            raised = replies[0] if replies else reply_error({})
        return marked[0], f"{describe_cell(notebook, marked[0])}: {raised}"
    return None, raised


def record_problem(step: PipelineStep, record: dict | None) -> str | None:
    """What is wrong with a step's completion record against its declaration, or None.

    The record must exist and name every table the step writes; a zone step's record that
    lists the tables it read (`reads`) must list exactly the declared ones.
    """
    if record is None:
        return (
            f"the notebook finished without writing its completion record (steps/{step.name}.json)"
        )
    missing = [t for t in step.writes if t not in record.get("tables", {})]
    if missing:
        return f"the step wrote no table {', '.join(missing)}"
    if step.kind == ZONE and "reads" in record and set(record["reads"]) != set(step.reads):
        read = ", ".join(sorted(record["reads"])) or "nothing"
        return f"the step read {read}; the pipeline declares {', '.join(step.reads) or 'nothing'}"
    return None
