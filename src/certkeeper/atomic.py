"""Writes that are never seen half-done: temp file in the same folder, fsync, rename.

A crash at any moment leaves either the old content or the new one, never a
truncated file or a missing symlink that nginx would trip over on reload.

The folder may be writable by another user (node_exporter's textfile folder often
is), who can swap any name in it for a symlink at any moment. So the file is made and
finished through descriptors: the folder is opened once, the temp file is created in
it exclusively without following links, its mode is set on the open file, and the
rename is relative to the same folder. Nothing is ever chmod-ed by path.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def open_dir(folder: Path) -> int:
    """A descriptor on `folder` itself; a symlink in its place is refused (ELOOP)."""
    return os.open(folder, _DIR_FLAGS)


def _discard(name: str, dir_fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)


def _swap_in(tmp: str, name: str, dir_fd: int) -> None:
    """Rename the finished temp file over `name`, then make the rename itself durable."""
    try:
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        _discard(tmp, dir_fd)
        raise
    os.fsync(dir_fd)


def _create_temp(dir_fd: int, name: str) -> tuple[int, str]:
    for _ in range(100):
        tmp = f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o600, dir_fd=dir_fd), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file beside {name}")  # pragma: no cover


def write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    dir_fd = open_dir(path.parent)
    try:
        fd, tmp = _create_temp(dir_fd, path.name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
        except BaseException:
            _discard(tmp, dir_fd)
            raise
        _swap_in(tmp, path.name, dir_fd)
    finally:
        os.close(dir_fd)


def symlink(target: str | Path, path: Path) -> None:
    """Point `path` at `target`, replacing whatever is there in one rename."""
    dir_fd = open_dir(path.parent)
    try:
        for _ in range(100):
            tmp = f".{path.name}.{secrets.token_hex(6)}.tmp"
            try:
                os.symlink(target, tmp, dir_fd=dir_fd)
            except FileExistsError:
                continue
            break
        else:  # pragma: no cover - a hundred leftovers means something else is wrong
            raise FileExistsError(f"cannot create a temporary symlink beside {path}")
        _swap_in(tmp, path.name, dir_fd)
    finally:
        os.close(dir_fd)
