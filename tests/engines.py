"""A Sail session for tests that compare the engines: the `sail` and `sessions` fixtures
(registered by conftest.py's `pytest_plugins`), and `from engines import on, on_sail`.

The Sail server runs in this process (a background thread) on a free local port and
stops when the test session ends. The Spark session is conftest's `spark` fixture.

PySpark decides per call whether `functions.col(...)` & co. build classic or Spark Connect
columns, from the variable SPARK_CONNECT_MODE_ENABLED that a Connect session sets for the
whole process. So the fixture removes it once its session exists (classic Spark tests keep
working in the same process), and code that runs on Sail runs inside `with on_sail():`.
"""

from __future__ import annotations

import contextlib
import os

import pytest

from stedi import config

_CONNECT_MODE = "SPARK_CONNECT_MODE_ENABLED"


@contextlib.contextmanager
def on(engine: str):
    """PySpark builds columns for `engine`'s session inside the block: Connect ones for Sail,
    classic for Spark."""
    before = os.environ.get(_CONNECT_MODE)
    if engine == "sail":
        os.environ[_CONNECT_MODE] = "1"
    else:
        os.environ.pop(_CONNECT_MODE, None)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_CONNECT_MODE, None)
        else:
            os.environ[_CONNECT_MODE] = before


def on_sail():
    return on("sail")


@pytest.fixture(scope="session")
def sail():
    os.environ.setdefault("RUST_LOG", "error")
    for name, value in config.SAIL_SERVER_SETTINGS.items():  # the product's server settings
        os.environ.setdefault(name, value)
    from pysail.spark import SparkConnectServer

    # The Connect builder itself: pyspark.sql's builder refuses a remote session while a
    # classic one (conftest's `spark`) runs in the same process.
    from pyspark.sql.connect.session import SparkSession

    server = SparkConnectServer(ip="127.0.0.1", port=0)
    server.start(background=True)
    _, port = server.listening_address
    with on("sail"):
        session = SparkSession.builder.remote(f"sc://127.0.0.1:{port}").create()
    yield session
    with on("sail"):
        session.stop()
    server.stop()


@pytest.fixture(scope="module")
def sessions(request):
    """Both engines side by side: {"spark": conftest's classic session, "sail": the Connect one}."""
    connect = request.getfixturevalue("sail")
    with on("spark"):
        classic = request.getfixturevalue("spark")
    return {"spark": classic, "sail": connect}
