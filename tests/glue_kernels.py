"""Stand-ins for the glue_pyspark kernel, registered under its name for a test.

Like a Glue kernel, the stand-in answers the session magics (printing "Setting ...") and
runs nothing: what it does with code is its `failure` mode, the ways a Glue kernel has
been seen to report a session that cannot start:

- "printed": prints "An error was encountered:" and the exception on stdout and completes
  the cell with status ok (sparkmagic style): papermill sees no error.
- "reply": replies status "error" with an ename and evalue but sends no error output,
  at the first cell that imports something (where a Glue session would start).
- "silent-reply": the same reply without ename or evalue.
"""

from __future__ import annotations

import json
import sys
import textwrap

from stedi import config

FAILURES = ("printed", "reply", "silent-reply")

KERNEL_PROGRAM = textwrap.dedent(
    """
    import os
    import uuid

    from ipykernel.kernelapp import IPKernelApp
    from ipykernel.kernelbase import Kernel

    FAILURE = os.environ["FAKE_GLUE_FAILURE"]


    class FakeGlueKernel(Kernel):
        implementation = "fake_glue_pyspark"
        implementation_version = "0.1"
        language = "python"
        language_version = "3.11"
        language_info = {"name": "python", "mimetype": "text/x-python", "file_extension": ".py"}
        banner = "Fake Glue PySpark"
        session_id = str(uuid.uuid4())

        def do_execute(
            self, code, silent, store_history=True, user_expressions=None, allow_stdin=False
        ):
            ok = {
                "status": "ok", "execution_count": self.execution_count,
                "payload": [], "user_expressions": {},
            }
            lines = [
                line for line in code.splitlines() if line.strip() and not line.startswith("#")
            ]
            if silent or not lines:
                return ok
            # the session's settings, as the Glue kernel acknowledges them
            if lines[0].startswith("%%configure"):
                text = (
                    "The following configurations have been updated: "
                    + " ".join(lines[1:]) + "\\n"
                )
                self.send_response(self.iopub_socket, "stream", {"name": "stdout", "text": text})
                return ok
            if all(line.startswith("%") for line in lines):
                text = "".join(
                    f"Setting {line.split()[0][1:]}: {' '.join(line.split()[1:])}\\n"
                    for line in lines
                )
                self.send_response(self.iopub_socket, "stream", {"name": "stdout", "text": text})
                return ok
            if FAILURE == "printed":
                text = (
                    "An error was encountered:\\n"
                    f"Session {self.session_id} failed to start: AccessDeniedException: "
                    "not authorized to perform iam:PassRole\\n"
                )
                self.send_response(self.iopub_socket, "stream", {"name": "stdout", "text": text})
                return ok
            if not any(line.startswith(("import ", "from ")) for line in lines):
                return ok  # assignments (the parameters): nothing to run remotely yet
            reply = {"status": "error", "execution_count": self.execution_count}
            if FAILURE == "reply":
                reply.update(
                    ename="SessionStartError",
                    evalue=f"session {self.session_id} did not start",
                    traceback=[],
                )
            return reply


    if __name__ == "__main__":
        IPKernelApp.launch_instance(kernel_class=FakeGlueKernel)
    """
)


def install_fake_glue_kernel(tmp_path, monkeypatch, failure: str) -> str:
    """Registers the stand-in as `glue_pyspark` in a temporary JUPYTER_PATH, ahead of any real
    one."""
    assert failure in FAILURES, failure
    program = tmp_path / "fake_glue_kernel.py"
    program.write_text(KERNEL_PROGRAM)
    spec_dir = tmp_path / "jupyter" / "kernels" / config.GLUE_KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [
            sys.executable,
            str(program),
            "-f",
            "{connection_file}",
            "--IPKernelApp.log_level=ERROR",
        ],
        "display_name": f"Glue PySpark (fake, failure: {failure})",
        "language": "python",
        "env": {"FAKE_GLUE_FAILURE": failure},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return config.GLUE_KERNEL
