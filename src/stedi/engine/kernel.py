"""Register the local notebook kernel: ipykernel with the Glue magics loaded.

`python -m stedi.engine.kernel` installs it into this environment (sys.prefix), where
papermill, nbval and JupyterLab started from the same environment find it. Its engine
(stedi.engine.session): a notebook's `engine` parameter when given, else $STEDI_ENGINE of
the process that starts the kernel (`STEDI_ENGINE=sail make lab`), else config.DEFAULT_ENGINE.
`python -m stedi.engine.kernel --engine sail` registers the kernel with that engine set in
its own environment instead (its name in JupyterLab says so); a run's notebooks still get
the run's `--engine` as their parameter.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from stedi import config
from stedi.context import Engine

DISPLAY_NAME = "Glue PySpark (local, stedi)"


def kernel_spec(engine: Engine | None = None) -> dict:
    """The kernel.json; with `engine`, the kernel's environment sets it (else the kernel follows
    $STEDI_ENGINE)."""
    spec = {
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
        "display_name": f"{DISPLAY_NAME[:-1]}, {engine})" if engine else DISPLAY_NAME,
        "language": "python",
        "metadata": {
            "debugger": True,
            "stedi": {"stands_in_for": config.GLUE_KERNEL, "engine": engine or None},
        },
    }
    if engine:
        spec["env"] = {config.ENGINE_ENV: engine}
    return spec


def install(engine: Engine | None = None) -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / config.LOCAL_KERNEL
        folder.mkdir()
        (folder / "kernel.json").write_text(json.dumps(kernel_spec(engine), indent=1))
        return KernelSpecManager().install_kernel_spec(
            str(folder), config.LOCAL_KERNEL, prefix=sys.prefix
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stedi.engine.kernel", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--engine",
        type=Engine.argument,
        default=None,
        choices=Engine.choices(),
        help="the kernel's engine, fixed in its environment (default: none fixed; $STEDI_ENGINE, "
        f"else {config.DEFAULT_ENGINE})",
    )
    args = parser.parse_args(argv)
    where = install(args.engine)
    engine = args.engine or f"${config.ENGINE_ENV}, else {config.DEFAULT_ENGINE}"
    print(
        f"stedi: kernel {config.LOCAL_KERNEL} ({DISPLAY_NAME}, engine: {engine}) installed in "
        f"{where}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
