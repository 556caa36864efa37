"""Shared fixtures: one Spark session, and one clean build per policy, for the whole test run."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from stedi.engine.session import local_spark

    session = local_spark("stedi-tests")
    yield session
    session.stop()


class CleanBuilds:
    """Uninterrupted `stedi run`s on data/raw, one per policy, built once per test session.

    Tests read them and never write to them: a test that runs on a built lake runs on a copy
    (`lakes.copy_lake`)."""

    def __init__(self, base):
        self.base = base
        self.builds: dict[str, tuple] = {}

    def __call__(self, policy: str):
        """(lake dir, run dir, manifest, stdout) of the clean build of `policy`."""
        if policy not in self.builds:
            from lakes import stedi_run

            from stedi.run.folder import RunFolder

            lake, runs = self.base / policy / "lake", self.base / policy / "runs"
            done = stedi_run(lake, runs, "--policy", policy)
            folder = RunFolder.latest(runs)
            self.builds[policy] = (lake, folder.path, folder.read_manifest(), done.stdout)
        return self.builds[policy]


@pytest.fixture(scope="session")
def clean_builds(tmp_path_factory):
    return CleanBuilds(tmp_path_factory.mktemp("clean-builds"))


@pytest.fixture(scope="session")
def clean_fingerprints(clean_builds, spark):
    """policy -> the content fingerprints (lakes.fingerprints) of its clean build, every table present."""
    from lakes import fingerprints

    from stedi.core.tables import TABLES

    found = {}

    def of(policy: str) -> dict[str, tuple[int, int]]:
        if policy not in found:
            found[policy] = fingerprints(spark, clean_builds(policy)[0], policy)
            assert set(found[policy]) == set(TABLES), policy
        return found[policy]

    return of
