"""Atomic local writes: a file or a link is either its old or its new whole self, never
half-written.

Every write goes to a temporary name in the same folder, then one rename puts it in place.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]):
    """Yield a temporary path beside `path`; when the block succeeds it replaces `path`, else it is
    removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists() or tmp.is_symlink():
            tmp.unlink()


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, mode: int = 0o666) -> Path:
    """Write `data` (text as UTF-8) to `path` whole; `mode`: its permissions, less the umask (0o600:
    the owner's only, from the moment the file exists)."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    with (
        atomic_path(path) as tmp,
        open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as handle,
    ):
        handle.write(raw)
    return Path(path)


def point_link(link: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Make `link` a symbolic link to `target` (as given: relative or absolute) in one rename."""
    with atomic_path(link) as tmp:
        os.symlink(os.fspath(target), tmp)
