"""papermill, as the runner uses it: execute one notebook into the run folder.

Tested with papermill 2.7.0 and nbclient 0.11.0. The one piece that goes past papermill's
public API is `SharedKernelEngine`: papermill's nbclient engine, registered under its own
name (papermill's engine registry is public), whose client executes on the run's already
connected kernel client instead of connecting a new one. Its body follows
`papermill.engines.NBClientEngine.execute_managed_notebook` of that version.
"""

from __future__ import annotations

from pathlib import Path

from stedi.run.shared_kernel import SharedKernel
from stedi.run.verdict import reply_error

SHARED_KERNEL_ENGINE = "stedi-shared-kernel"


def _shared_kernel_engine():
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class SharedKernelEngine(NBClientEngine):
        """NBClientEngine, with the client set to `shared_client` before executing."""

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


def execute(
    source: Path, executed: Path, parameters: dict, kernel_name: str, cwd: Path, kernel: SharedKernel | None
) -> tuple[str | None, list[str]]:
    """Execute `source` into `executed` with `parameters`, on `kernel` (None: a kernel of its own).

    Returns (what was raised as "ename: evalue", or None; what the kernel's error replies said).
    papermill writes `executed` as it goes, so it holds the outputs up to a failure.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    replies: list[str] = []  # in case no output says what went wrong
    extra: dict = {"on_cell_error": lambda execute_reply, **_: replies.append(reply_error(execute_reply))}
    if kernel is not None:
        from papermill.engines import papermill_engines

        papermill_engines.register(SHARED_KERNEL_ENGINE, _shared_kernel_engine())
        extra.update(km=kernel.km, engine_name=SHARED_KERNEL_ENGINE, shared_client=kernel.client)
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
