"""The source text of the package's modules, for the code fingerprints that tell a run what changed
(stedi.run.freshness: a step's code; stedi.core.intake.ledger: the intake's)."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources


def module_source(name: str) -> str:
    """The source of module `name` of this package (`stedi.core.tables`), read as a resource of the
    package, from its folder or from stedi.zip on Glue, without running the module or its
    package's `__init__`: the runner's process fingerprints modules that load PySpark without
    loading it (0.2 s of every `stedi run`)."""
    top, *parts = name.split(".")
    if top != __name__.split(".")[0] or not parts:
        raise ValueError(f"{name} is not a module of the package")
    folder = resources.files(top).joinpath(*parts[:-1])
    module = folder.joinpath(f"{parts[-1]}.py")
    if not module.is_file():
        module = folder.joinpath(parts[-1], "__init__.py")
    return module.read_text(encoding="utf-8")


def add_sources(digest, names: Iterable[str]) -> None:
    """Feed a hashlib `digest` the source of each module of `names`, in order (module_source)."""
    for name in names:
        digest.update(module_source(name).encode("utf-8"))
