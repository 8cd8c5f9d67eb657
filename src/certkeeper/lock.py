"""The host-wide lock around check-renew-reload-notify.

flock(2) on a file certkeeper owns, so the kernel drops it when a run dies: a
crashed run never blocks tomorrow's. The holder writes its pid into the lock
file itself, so waiters can name it.

The lock file is opened with O_NOFOLLOW and must be a regular file owned by us:
the default directory, /run/lock, is writable by everyone (sticky), and a symlink
planted there must never turn our write into an overwrite of someone else's file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from certkeeper.errors import ConfigError, LockBusy

# Waiting for the lock is what lock_timeout_seconds asks for; this is how often we look.
_POLL_SECONDS = 0.05


def _open(lock_file: Path) -> int:
    lock_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(
            lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600
        )
    except OSError as exc:
        raise ConfigError(
            [f"refusing lock_file {lock_file}: {exc.strerror or exc} (a symlink is never followed)"]
        ) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        raise ConfigError(
            [
                f"refusing lock_file {lock_file}: not a regular file owned by uid "
                f"{os.geteuid()}; remove it and run again"
            ]
        )
    return fd


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return text
    return "unknown"


@contextlib.contextmanager
def host_lock(lock_file: Path, timeout: float) -> Iterator[None]:
    fd = _open(lock_file)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"another certkeeper run (pid {_holder(fd)}) holds the lock {lock_file}; "
                        f"gave up after waiting {timeout:g}s"
                    ) from None
                time.sleep(_POLL_SECONDS)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        # Closing the descriptor releases the flock.
        os.close(fd)
