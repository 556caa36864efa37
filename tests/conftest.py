"""Shared fixtures: one Spark session for the whole test run."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from stedi.engine.session import local_spark

    session = local_spark("stedi-tests")
    yield session
    session.stop()


class CleanBuilds:
    """Uninterrupted `stedi run`s on data/raw, one per policy, built once per test session."""

    def __init__(self, base):
        self.base = base
        self.builds: dict[str, tuple] = {}

    def __call__(self, policy: str):
        """(lake dir, run dir, manifest, stdout) of the clean build of `policy`."""
        if policy not in self.builds:
            import json

            from lakes import stedi_run

            lake, runs = self.base / policy / "lake", self.base / policy / "runs"
            done = stedi_run(lake, runs, "--policy", policy)
            run_dir = (runs / "latest").resolve()
            self.builds[policy] = (lake, run_dir, json.loads((run_dir / "manifest.json").read_text()), done.stdout)
        return self.builds[policy]


@pytest.fixture(scope="session")
def clean_builds(tmp_path_factory):
    return CleanBuilds(tmp_path_factory.mktemp("clean-builds"))
