"""The kernel of a run: one for every notebook, so the JVM (or the Glue session) starts once.

One client serves every notebook too: starting a client and waiting for the kernel to
answer it costs about 0.2 s (jupyter_client drains IOPub for 0.2 s), twice per notebook
otherwise. Each notebook is still tested alone, in its own kernel, by nbval.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from stedi import config

# Run before each notebook in a shared kernel: a clean namespace and In [1] numbering, as in a
# fresh kernel, while the modules (and so the Spark session and its JVM) stay loaded; and a
# KeyboardInterrupt shown at once (stedi.run.interrupt.show_interrupt), so Ctrl-C stops a step
# promptly. After the reset's garbage collection, what is left (the modules, the engine's session)
# is frozen out of later collections: `%reset` collects twice, and with pyspark and pyiceberg
# loaded each full collection took 0.2-0.4 s, 2.3 s of a six-notebook run's kernel time.
FRESH_NAMESPACE = (
    "get_ipython().run_line_magic('reset', '-f')\n"
    "get_ipython().execution_count = 1\n"
    "import gc\n"
    "gc.freeze()\n"
    "import stedi.run.interrupt\n"
    "get_ipython().set_custom_exc((KeyboardInterrupt,), stedi.run.interrupt.show_interrupt)\n"
    "del stedi, gc"
)


@dataclass
class SharedKernel:
    """The run's kernel and one client connected to it, used for every notebook of the run."""

    km: object  # jupyter_client KernelManager
    client: object  # its BlockingKernelClient, channels started


@contextlib.contextmanager
def kernel_for_run(kernel_name: str, env: dict[str, str] | None = None):
    """Start `kernel_name` (with `env` added to this process's environment) and yield a
    SharedKernel."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel(cwd=str(config.PROJECT_ROOT), env={**os.environ, **(env or {})})
    client = None
    try:
        client = km.client()
        client.start_channels()
        client.wait_for_ready(timeout=120)
        watch_for_death(client, km)
        yield SharedKernel(km, client)
    finally:
        if client is not None:
            client.stop_channels()
        km.shutdown_kernel(now=True)


KERNEL_DIED = "the kernel died (killed, or out of memory)"


def watch_for_death(client, km, every: float = 1.0) -> None:
    """Make the client's waits for messages notice a dead kernel. nbclient polls the kernel's
    life on the event loop, but a blocking client's wait without timeout holds that loop: a
    kernel killed mid-cell (SIGKILL, the OOM killer) hung the run forever. Each wait without
    timeout becomes waits of `every` seconds, checking between them that the kernel lives."""
    from queue import Empty

    from nbclient.exceptions import DeadKernelError

    for channel in (client.shell_channel, client.iopub_channel):

        def get_msg(timeout=None, _get=channel.get_msg, **kwargs):
            if timeout is not None:
                return _get(timeout=timeout, **kwargs)
            while True:
                try:
                    return _get(timeout=every, **kwargs)
                except Empty:
                    if not km.is_alive():
                        raise DeadKernelError(KERNEL_DIED) from None

        channel.get_msg = get_msg


def reset_kernel(kernel: SharedKernel) -> None:
    """A fresh namespace in the shared (IPython) kernel before the next notebook."""
    reply = kernel.client.execute_interactive(
        FRESH_NAMESPACE, silent=True, store_history=False, timeout=120
    )
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"could not reset the shared kernel: {reply['content'].get('evalue')}")
