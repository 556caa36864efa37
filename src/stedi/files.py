"""Atomic local writes: a file or a link is either its old or its new whole self, never half-written.

Every write goes to a temporary name in the same folder, then one rename puts it in place.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]):
    """Yield a temporary path beside `path`; when the block succeeds it replaces `path`, else it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists() or tmp.is_symlink():
            tmp.unlink()


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write `data` (text as UTF-8) to `path` whole."""
    with atomic_path(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
    return Path(path)


def point_link(link: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Make `link` a symbolic link to `target` (as given: relative or absolute) in one rename."""
    with atomic_path(link) as tmp:
        os.symlink(os.fspath(target), tmp)
