"""A Sail session for tests that compare the engines: `from engines import sail, on_sail` in a test module.

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

_CONNECT_MODE = "SPARK_CONNECT_MODE_ENABLED"


@contextlib.contextmanager
def on_sail():
    """PySpark builds Spark Connect columns inside the block (Sail), classic ones outside."""
    before = os.environ.get(_CONNECT_MODE)
    os.environ[_CONNECT_MODE] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_CONNECT_MODE, None)
        else:
            os.environ[_CONNECT_MODE] = before


@pytest.fixture(scope="session")
def sail():
    os.environ.setdefault("RUST_LOG", "error")
    from pysail.spark import SparkConnectServer
    from pyspark.sql import SparkSession

    server = SparkConnectServer(ip="127.0.0.1", port=0)
    server.start(background=True)
    _, port = server.listening_address
    with on_sail():
        session = SparkSession.builder.remote(f"sc://127.0.0.1:{port}").create()
    yield session
    with on_sail():
        session.stop()
    server.stop()
