"""The host-wide lock around check-renew-reload-notify.

flock(2) on a file certkeeper owns, so the kernel drops it when a run dies: a
crashed run never blocks tomorrow's. The holder writes its pid, its command and
when it took the lock into the lock file itself, so a waiter can say whom it waits
for ("waiting for the lock held by pid 812 (check since 03:02 UTC)") and a dry run
can say that a run is acting now.

The lock file is opened with O_NOFOLLOW and must be a regular file owned by us:
the default directory, /run/lock, is writable by everyone (sticky), and a symlink
planted there must never turn our write into an overwrite of someone else's file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from certkeeper.errors import ConfigError, LockBusy
from certkeeper.value import Value

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


_RECORD = re.compile(r"^(\d{1,10})(?: ([a-z-]{1,20}) (\d{1,12}))?$")


class Holder(Value):
    """Who holds the lock, as it wrote itself into the lock file."""

    pid: str
    command: str = ""
    since: datetime | None = None

    def describe(self) -> str:
        if not self.command or self.since is None:
            return f"pid {self.pid}"
        return f"pid {self.pid} ({self.command} since {self.since:%H:%M} UTC)"


def _holder(fd: int) -> Holder:
    """The record `pid command epoch` the holder wrote; a bare pid from an older
    certkeeper; "unknown" for anything else (the file is ours, but read it warily)."""
    with contextlib.suppress(OSError, ValueError, OverflowError):
        text = os.pread(fd, 64, 0).decode("ascii").strip()
        found = _RECORD.match(text)
        if found:
            pid, command, epoch = found.groups()
            since = datetime.fromtimestamp(int(epoch), UTC) if epoch else None
            return Holder(pid, command or "", since)
    return Holder("unknown")


def held_by(lock_file: Path) -> Holder | None:
    """Who holds the lock now, None when nobody does (or there is no lock file).
    Opens read-only and creates nothing: a dry run changes nothing."""
    try:
        fd = os.open(lock_file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(fd)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def host_lock(
    lock_file: Path,
    timeout: float,
    command: str = "check",
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """The host lock, waiting up to `timeout` seconds; `on_wait` hears once whom it
    waits for, before the first wait (a silent wait of minutes looks hung)."""
    fd = _open(lock_file)
    try:
        _acquire(fd, lock_file, timeout, on_wait)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            record = f"{os.getpid()} {command} {int(time.time())}\n"
            os.pwrite(fd, record.encode(), 0)
        yield
    finally:
        # Closing the descriptor releases the flock.
        os.close(fd)


def _acquire(
    fd: int, lock_file: Path, timeout: float, on_wait: Callable[[str], None] | None
) -> None:
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockBusy(
                    f"another certkeeper run holds the lock {lock_file}: "
                    f"{_holder(fd).describe()}; gave up after waiting {timeout:g}s"
                ) from None
            if not told and on_wait is not None:
                on_wait(f"waiting for the lock held by {_holder(fd).describe()}")
            told = True
            time.sleep(_POLL_SECONDS)
