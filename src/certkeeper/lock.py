"""The host-wide lock around check-renew-reload-notify.

flock(2) underneath, so the kernel drops it when a run dies: a crashed run
never blocks tomorrow's. The holder's pid sits in a sidecar file because
waiters open the lock file itself.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from certkeeper.errors import LockBusy


def _owner_file(lock_file: Path) -> Path:
    return lock_file.with_name(lock_file.name + ".pid")


@contextlib.contextmanager
def host_lock(lock_file: Path, timeout: float) -> Iterator[None]:
    from filelock import FileLock, Timeout

    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_file), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        try:
            owner = _owner_file(lock_file).read_text().strip() or "unknown"
        except OSError:
            owner = "unknown"
        raise LockBusy(
            f"another certkeeper run (pid {owner}) holds the lock {lock_file}; "
            f"gave up after waiting {timeout:g}s"
        ) from None
    try:
        with contextlib.suppress(OSError):
            _owner_file(lock_file).write_text(f"{os.getpid()}\n")
        yield
    finally:
        lock.release()
