"""Shared fixtures: one Spark session, and one clean build per policy, for the whole test run."""

from __future__ import annotations

import os

import pytest

# The shared fixtures, registered for every test module (tests/README.md): Sail and both
# engines side by side (engines.py), the moto server and the environment pointing at it
# (aws_fixtures.py), moto's missing Glue update calls (deploy_fixtures.py). A test asks for them
# by argument; it imports only the helpers it calls (`on`, `BUCKET`, `one_line_error` ...).
pytest_plugins = ["engines", "aws_fixtures", "deploy_fixtures"]

# The test session's Spark runs many small jobs: the quick JIT and a serial collector, as
# `stedi run` gives a kernel on small inputs (stedi.engine.java.java_options_for), cut
# test_quality.py from 109 s to 71 s here. Set before stedi.config reads it.
os.environ.setdefault("STEDI_SPARK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")


@pytest.fixture(autouse=True)
def _classic_columns_after_each_test():
    """A test that opens a Spark Connect (Sail) session in this process sets
    SPARK_CONNECT_MODE_ENABLED, which makes every later `pyspark.sql.functions` call build
    Connect columns; each test leaves the variable as it found it (tests/engines.py)."""
    before = os.environ.get("SPARK_CONNECT_MODE_ENABLED")
    yield
    if before is None:
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
    else:
        os.environ["SPARK_CONNECT_MODE_ENABLED"] = before


@pytest.fixture(scope="session")
def spark():
    from stedi.engine.session import local_spark

    session = local_spark("stedi-tests")
    yield session
    session.stop()


class CleanBuilds:
    """Uninterrupted `stedi run`s on data/raw, one per policy and engine, built once per test
    session.

    Tests read them and never write to them: a test that runs on a built lake runs on a copy
    (`lakes.copy_lake`). The engine defaults to the local default (config.DEFAULT_ENGINE). The
    default engine's builds run the whole pipeline; the other engine's, the zone steps alone:
    the analysis reads the tables and writes none, and its computations are compared across
    engines in tests/engine/test_engines.py."""

    def __init__(self, base):
        self.base = base
        self.builds: dict[tuple[str, str], tuple] = {}

    def __call__(self, policy: str, engine: str = ""):
        """(lake dir, run dir, manifest, stdout) of the clean build of `policy` on `engine`."""
        from stedi import config

        key = (policy, engine or config.DEFAULT_ENGINE)
        if key not in self.builds:
            from lakes import ZONE_STEPS_ONLY, stedi_run
            from stedi.run.folder import RunFolder

            lake, runs = self.base / "-".join(key) / "lake", self.base / "-".join(key) / "runs"
            steps = () if key[1] == config.DEFAULT_ENGINE else ZONE_STEPS_ONLY
            done = stedi_run(lake, runs, "--policy", policy, "--engine", key[1], *steps)
            folder = RunFolder.latest(runs)
            self.builds[key] = (lake, folder.path, folder.read_manifest(), done.stdout)
        return self.builds[key]


@pytest.fixture(scope="session")
def clean_builds(tmp_path_factory):
    return CleanBuilds(tmp_path_factory.mktemp("clean-builds"))


@pytest.fixture(scope="session")
def clean_fingerprints(clean_builds, sail):
    """(policy, engine) -> the content fingerprints (lakes.fingerprints) of that clean build, every
    table present, read by Sail."""
    from lakes import fingerprints
    from stedi import config
    from stedi.core.tables import TABLES

    found = {}

    def of(policy: str, engine: str = "") -> dict[str, tuple[int, int]]:
        key = (
            policy,
            engine or config.DEFAULT_ENGINE,
        )  # "" and the default: one build, one fingerprint
        if key not in found:
            found[key] = fingerprints(sail, clean_builds(*key)[0], policy)
            assert set(found[key]) == set(TABLES), key
        return found[key]

    return of


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test` runs two workers), every test that needs a whole build runs
    on one worker, so the session's clean builds are made once; the rest spread over both.

    First among the hooks: xdist's worker reads the group marks in its own
    pytest_collection_modifyitems, which would otherwise run before this one."""
    for item in items:
        if _needs_builds(item):
            item.add_marker(pytest.mark.xdist_group("builds"))


def _needs_builds(item) -> bool:
    if item.get_closest_marker("own_lake"):  # it builds its own lakes: the other worker may take it
        return False
    return bool(item.get_closest_marker("e2e") or item.get_closest_marker("notebook"))


def pytest_runtest_setup(item):
    """Fail loudly when --dist loadgroup did not take the group: every worker would then make
    its own clean builds, silently (pytest 9.2 with pytest-xdist 3.8 did that; see notes.md)."""
    if (
        getattr(item.config.option, "loadgroup", False)
        and _needs_builds(item)
        and not item.nodeid.endswith("@builds")
    ):
        pytest.fail(
            "--dist loadgroup did not group this whole-build test with the others: this pytest and "
            "pytest-xdist do not work together (pyproject.toml pins pytest)",
            pytrace=False,
        )
