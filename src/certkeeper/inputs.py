"""Reading a file someone else may have pointed somewhere odd, with a bound.

`--config /dev/zero` read forever, a FIFO blocked the open until a writer came, and a
live/<name>/cert.pem symlinked to /dev/urandom would fill memory. Every file certkeeper
reads as input (config, service files, the SMTP password, certificates) comes through
read_regular(): it must be a regular file, opened without blocking, read with a cap.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from certkeeper.errors import CertkeeperError


class InputFileError(CertkeeperError, ValueError):
    """The path is not a regular file of a sane size; the message says what it is instead.

    A ValueError too, so callers that already treat "not a certificate" as one bad row
    treat this the same way.
    """


def kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular(path: Path, *, follow: bool = True) -> os.stat_result:
    """stat() the path (following symlinks unless follow=False) and refuse anything but a
    regular file.

    Raises FileNotFoundError for a missing path, InputFileError for a dangling symlink
    or a path that is a directory, FIFO, device or socket (or, with follow=False, a
    symlink)."""
    if not follow:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            raise InputFileError("is a symlink: expected a regular file")
        if not stat.S_ISREG(st.st_mode):
            raise InputFileError(f"is {kind(st.st_mode)}: expected a regular file")
        return st
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputFileError(
                f"is a symlink to {os.readlink(path)!r}, which does not exist"
            ) from None
        raise
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(f"is {kind(st.st_mode)}: expected a regular file")
    return st


def read_regular(path: Path, limit: int, *, follow: bool = True) -> bytes:
    """The bytes of a regular file of at most `limit` bytes.

    follow=False is for certkeeper's own files (state, outbox): a symlink in their place
    was not put there by certkeeper, and is refused rather than followed.

    Raises FileNotFoundError, InputFileError, or OSError for other read errors. The mode
    is checked before the open (opening some devices has effects) and again on the open
    descriptor (the path may have been swapped in between); O_NONBLOCK keeps a FIFO from
    blocking the open itself.
    """
    check_regular(path, follow=follow)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    fd = os.open(path, flags if follow else flags | os.O_NOFOLLOW)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputFileError(f"is {kind(st.st_mode)}: expected a regular file")
        if st.st_size > limit:
            raise InputFileError(f"is {st.st_size} bytes: expected at most {limit} bytes")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(65536, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                # It grew while we read (a log, or a file being written): still bounded.
                raise InputFileError(f"is more than {limit} bytes: expected at most {limit}")
        return b"".join(chunks)
    finally:
        os.close(fd)
