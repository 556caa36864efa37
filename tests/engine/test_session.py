"""stedi.engine.session: the engine chosen for a session, and Sail's server started, reused and
stopped.

The Sail sessions run in child processes (a script, a kernel): once a process has a Spark
Connect session, PySpark builds Connect columns in it, and this test process keeps its
classic Spark session for the other tests.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from stedi import config
from stedi.context import Engine, Target
from stedi.engine import kernel
from stedi.engine.session import engine_for

SAIL_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from stedi.engine import glue_magics
    from stedi.context import Engine, Target
    from stedi.engine.session import local_session, sail_address, spark_for, stop_sail

    first = local_session()
    second = spark_for(Target.LOCAL, Engine.SAIL)  # the kernel's engine ($STEDI_ENGINE=sail)
    address = sail_address()
    rows = first.sql("select 40 + 2 as answer").collect()
    children = []
    for task in os.listdir("/proc/self/task"):
        try:  # a thread may end between the listing and the read
            children += open(f"/proc/self/task/{task}/children").read().split()
        except FileNotFoundError:
            pass
    shown = glue_magics.sql("5", "select id from range(7)")
    glue_magics.status()
    if "--stop" in sys.argv:
        stop_sail()
        again = local_session()
        stopped = {"stopped": address, "again": sail_address(), "same": again is first}
        print(json.dumps(stopped), flush=True)
    print(json.dumps({
        "engine": Engine.of(first), "same": first is second, "address": address,
        "answer": int(rows[0]["answer"]), "children": children, "sql_rows": len(shown),
    }), flush=True)
    """
)


def _port(address: str) -> int:
    assert address.startswith(f"sc://{config.SAIL_HOST}:"), address
    return int(address.rsplit(":", 1)[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((config.SAIL_HOST, port)) == 0


def _sail_script(tmp_path, *args, env=None):
    script = tmp_path / "sail_session.py"
    script.write_text(SAIL_SCRIPT)
    environment = {
        k: v for k, v in os.environ.items() if k not in ("RUST_LOG", "SPARK_CONNECT_MODE_ENABLED")
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script), *args],
        env={**environment, config.ENGINE_ENV: "sail", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done, time.monotonic() - started


# -- which engine ------------------------------------------------------------------
def test_the_engine_is_the_one_given_else_the_kernels_else_the_default(monkeypatch):
    monkeypatch.delenv(config.ENGINE_ENV, raising=False)
    assert engine_for() == config.DEFAULT_ENGINE
    monkeypatch.setenv(config.ENGINE_ENV, "sail")
    assert engine_for() == "sail"
    assert engine_for("spark") == "spark"


@pytest.mark.parametrize("given, env", [("duckdb", ""), ("", "duckdb")])
def test_an_unknown_engine_is_refused_naming_the_choices(monkeypatch, given, env):
    monkeypatch.setenv(config.ENGINE_ENV, env)
    with pytest.raises(ValueError, match=r"unknown engine 'duckdb'; choose one of: spark, sail"):
        engine_for(given)
    with pytest.raises(ValueError, match="unknown engine 'duckdb'"):
        engine_for(given, Target.LOCAL)


def test_glue_runs_spark_only_and_an_unknown_target_is_refused():
    with pytest.raises(
        ValueError, match="target glue runs Spark; engine 'sail' runs only on target local"
    ):
        engine_for("sail", Target.GLUE)
    assert engine_for("", Target.GLUE) == engine_for("spark", Target.GLUE) == Engine.SPARK
    with pytest.raises(ValueError, match="unknown target 'mars'"):
        Target.parse("mars")


def test_a_classic_session_is_on_the_spark_engine(spark):
    assert Engine.of(spark) == "spark"


# -- Sail ---------------------------------------------------------------------------
def test_a_sail_session_starts_in_process_answers_is_reused_and_its_port_closes_at_exit(tmp_path):
    done, seconds = _sail_script(tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["engine"] == "sail" and result["answer"] == 42
    assert result["same"], "the second call reuses the process's session"
    assert result["children"] == [], "the Sail server is a thread of the process, not a process"
    assert result["sql_rows"] == 5, "%%sql works on a Connect session"
    assert "engine sail (Sail through Spark Connect, sc://" in done.stdout, (
        "%status shows the engine"
    )
    assert " INFO " not in done.stderr and " WARN " not in done.stderr, (
        "RUST_LOG=error unless the user sets it"
    )
    assert seconds < 60
    assert not _listening(_port(result["address"])), "the server stopped when the process exited"


def test_the_users_rust_log_is_kept(tmp_path):
    done, _ = _sail_script(tmp_path, env={"RUST_LOG": "info"})
    assert done.returncode == 0, done.stderr
    assert "Starting the Spark Connect server" in done.stderr


def test_stopping_sail_closes_its_port_and_a_later_session_starts_a_new_server(tmp_path):
    done, _ = _sail_script(tmp_path, "--stop")
    assert done.returncode == 0, done.stderr
    stopped = json.loads(done.stdout.splitlines()[-2])
    assert (
        stopped["again"] is not None
        and stopped["again"] != stopped["stopped"]
        and not stopped["same"]
    )


_IDLE_SCRIPT = """
import json, os, sys, time
from stedi import config
from stedi.engine.session import local_sail
spark = local_sail()
spark.range(1).count()
time.sleep(float(sys.argv[1]))
try:
    print(json.dumps(
        {"after_idle": int(spark.range(3).count()), "timeout": os.environ[sys.argv[2]]}
    ))
except Exception as error:  # Sail dropped the idle session
    print(json.dumps(
        {"after_idle": str(error).splitlines()[0], "timeout": os.environ[sys.argv[2]]}
    ))
"""


@pytest.mark.slow  # two Sail servers and 8 s of idling: not in the fast tier
def test_an_idle_sail_session_lives_as_long_as_the_settings_say(tmp_path):
    """Sail drops a session idle longer than its session timeout (900 s by default: a notebook left
    open in JupyterLab then failed with "session ... is not running"). The setting stedi passes is
    the one Sail honours: set by the user to 2 s (the user's value wins), a session idle 4 s is
    gone; left to stedi, it is a week and the same idle session answers."""
    name = "SAIL_SPARK__SESSION_TIMEOUT_SECS"
    assert config.SAIL_SERVER_SETTINGS[name] == str(7 * 24 * 3600)
    script = tmp_path / "idle.py"
    script.write_text(_IDLE_SCRIPT)
    results = []
    for user in ("2", None):
        env = {k: v for k, v in os.environ.items() if k != name} | ({name: user} if user else {})
        done = subprocess.run(
            [sys.executable, str(script), "4", name],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        results.append(json.loads(done.stdout.splitlines()[-1]))
    dropped, kept = results
    assert dropped["timeout"] == "2" and "is not running" in str(dropped["after_idle"]), dropped
    assert kept == {"after_idle": 3, "timeout": str(7 * 24 * 3600)}, kept


# -- the local kernel ----------------------------------------------------------------
def test_the_kernel_spec_fixes_an_engine_only_when_given():
    assert "env" not in kernel.kernel_spec()
    spec = kernel.kernel_spec("sail")
    assert spec["env"] == {config.ENGINE_ENV: "sail"} and spec["display_name"].endswith(", sail)")
    assert "--ext=stedi.engine.glue_magics" in spec["argv"]
    with pytest.raises(SystemExit) as refused:  # the kernel's own command line parses the engine
        kernel.main(["--engine", "duckdb"])
    assert refused.value.code == 2


def test_a_kernel_registered_with_sail_opens_sail_sessions_and_leaves_nothing_behind(
    tmp_path, monkeypatch
):
    from jupyter_client.manager import KernelManager

    name = "stedi_engine_test"
    spec_dir = tmp_path / "jupyter" / "kernels" / name
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps(kernel.kernel_spec("sail")))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    code = (
        "from stedi.context import Engine\n"
        "from stedi.engine.session import local_session, sail_address\n"
        "spark = local_session()\n"
        "print(Engine.of(spark), sail_address(), spark.range(3).count())"
    )
    km = KernelManager(kernel_name=name)
    km.start_kernel(
        cwd=str(config.PROJECT_ROOT),
        env={k: v for k, v in os.environ.items() if k != config.ENGINE_ENV},
    )
    shown: list[str] = []
    try:
        client = km.client()
        client.start_channels()
        client.wait_for_ready(timeout=120)

        def output(msg):
            if msg["msg_type"] == "stream":
                shown.append(msg["content"]["text"])

        reply = client.execute_interactive(code, timeout=120, output_hook=output)
        assert reply["content"]["status"] == "ok", reply["content"]
        client.execute_interactive("%status", timeout=60, output_hook=output)
        client.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
    engine, address, rows = shown[0].split()
    assert (engine, rows) == ("sail", "3")
    assert "engine sail (Sail through Spark Connect" in shown[1]
    assert not km.is_alive()
    assert not _listening(_port(address))
