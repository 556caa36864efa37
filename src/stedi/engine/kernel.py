"""Register the local notebook kernel: ipykernel with the Glue magics loaded.

`python -m stedi.engine.kernel` installs it into this environment (sys.prefix), where
papermill, nbval and JupyterLab started from the same environment find it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from stedi import config

DISPLAY_NAME = "Glue PySpark (local, stedi)"


def kernel_spec() -> dict:
    return {
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--ext=stedi.engine.glue_magics",
            # ipykernel warns on stderr about TCP transport at every start; errors still show.
            "--IPKernelApp.log_level=ERROR",
        ],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True, "stedi": {"stands_in_for": config.GLUE_KERNEL}},
    }


def install() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / config.LOCAL_KERNEL
        folder.mkdir()
        (folder / "kernel.json").write_text(json.dumps(kernel_spec(), indent=1))
        return KernelSpecManager().install_kernel_spec(
            str(folder), config.LOCAL_KERNEL, prefix=sys.prefix
        )


def main() -> int:
    where = install()
    print(f"stedi: kernel {config.LOCAL_KERNEL} ({DISPLAY_NAME}) installed in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
