"""Shared fixtures: one Spark session for the whole test run."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from stedi.session import local_spark

    session = local_spark("stedi-tests")
    yield session
    session.stop()
