"""papermill, as the runner uses it: execute one notebook into the run folder.

Tested with papermill 2.7.0 and nbclient 0.11.0. The one piece that goes past papermill's
public API is `RunEngine`: papermill's nbclient engine, registered under its own name
(papermill's engine registry is public), whose client executes on the run's already
connected kernel client (when the run shares one kernel) instead of connecting a new one,
and which, before each cell, tells the run's `RunInterrupt` (stedi.run.interrupt) which
kernel is executing, and stops once the run is interrupted. Its body follows
`papermill.engines.NBClientEngine.execute_managed_notebook` of that version.
"""

from __future__ import annotations

import sys
from pathlib import Path

from stedi.run.interrupt import RunInterrupt
from stedi.run.shared_kernel import SharedKernel
from stedi.run.verdict import reply_error

RUN_ENGINE = "stedi-run"


def skip_iri_format_checker() -> None:
    """Keep jsonschema from importing rfc3987_syntax, which it does (when installed) for its IRI
    format checker, in every process that imports nbformat (papermill, nbconvert, nbclient).

    rfc3987_syntax is in the environment for JupyterLab (jupyter-events wants jsonschema's
    format-nongpl extra) and builds a Lark grammar at import: 1.1 s of every `stedi run` and
    `stedi report` on this machine. The notebook schema has no IRI field. Call it before
    anything imports nbformat; a process that already imported rfc3987_syntax keeps it."""
    sys.modules.setdefault("rfc3987_syntax", None)  # None: `import rfc3987_syntax` fails at once


def _run_engine():
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class RunEngine(NBClientEngine):
        """NBClientEngine, with the client set to `shared_client` (when given) before executing, and
        `interrupt` (when given) told of the kernel before each cell."""

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
            interrupt=None,
            **kwargs,
        ):
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
            if shared_client is not None:
                client.kc = shared_client  # nbclient keeps a client it did not create (km given)
            if interrupt is not None:
                # Before each cell (the kernel is started by then): raises RunInterrupted once
                # interrupted.
                client.on_cell_start = lambda **_: interrupt.kernel_running(client.km)
            try:
                return client.execute()
            finally:
                if interrupt is not None:
                    interrupt.kernel_done()

    return RunEngine


def execute(
    source: Path,
    executed: Path,
    parameters: dict,
    kernel_name: str,
    cwd: Path,
    kernel: SharedKernel | None,
    interrupt: RunInterrupt | None = None,
) -> tuple[str | None, list[str]]:
    """Execute `source` into `executed` with `parameters`, on `kernel` (None: a kernel of its own);
    `interrupt`, the run's RunInterrupt, can stop it.

    Returns (what was raised as "ename: evalue", or None; what the kernel's error replies said).
    papermill writes `executed` as it goes, so it holds the outputs up to a failure.
    """
    import papermill as pm
    from papermill.engines import papermill_engines
    from papermill.exceptions import PapermillExecutionError

    replies: list[str] = []  # in case no output says what went wrong
    papermill_engines.register(RUN_ENGINE, _run_engine())
    extra: dict = {
        "on_cell_error": lambda execute_reply, **_: replies.append(reply_error(execute_reply)),
        "engine_name": RUN_ENGINE,
        "interrupt": interrupt,
    }
    if kernel is not None:
        extra.update(km=kernel.km, shared_client=kernel.client)
    try:
        pm.execute_notebook(
            str(source),
            str(executed),
            parameters=parameters,
            kernel_name=kernel_name,
            language="python",  # Glue kernels do not declare a language papermill knows
            cwd=str(cwd),
            progress_bar=False,
            log_output=False,
            **extra,
        )
    except PapermillExecutionError as exc:
        return f"{exc.ename}: {exc.evalue}".strip(), replies
    except Exception as exc:  # the kernel died, could not start, timed out ...
        return f"{type(exc).__name__}: {exc}", replies
    return None, replies
