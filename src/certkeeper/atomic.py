"""Writes that are never seen half-done: temp file in the same folder, fsync, rename.

A crash at any moment leaves either the old content or the new one, never a
truncated file or a missing symlink that nginx would trip over on reload.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(tmp: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)


def _swap_in(tmp: str | Path, path: Path) -> None:
    """Rename the finished temp file over `path`, then make the rename itself durable."""
    try:
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise
    _fsync_dir(path.parent)


def write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    import tempfile  # writers only: a healthy status writes nothing

    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        _discard(tmp)
        raise
    _swap_in(tmp, path)


def symlink(target: str | Path, path: Path) -> None:
    """Point `path` at `target`, replacing whatever is there in one rename."""
    folder = path.parent
    for attempt in range(100):
        tmp = folder / f".{path.name}.{os.getpid()}.{attempt}.tmp"
        try:
            os.symlink(target, tmp)
        except FileExistsError:
            continue
        break
    else:  # pragma: no cover - a hundred leftovers means something else is wrong
        raise FileExistsError(f"cannot create a temporary symlink beside {path}")
    _swap_in(tmp, path)
