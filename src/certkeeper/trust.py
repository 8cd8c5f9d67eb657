"""Directories certkeeper trusts with its memory, its notices and its lock.

certkeeper runs as root and acts on what it finds in these directories: a forged
state.json can hold a renewal back, a dropped .eml is mailed through the team's SMTP
account, a planted symlink turns a write into an overwrite. So, like OpenSSH's
StrictModes for ~/.ssh, a directory others can write is refused rather than used.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from certkeeper.errors import ConfigError

if TYPE_CHECKING:
    from certkeeper.config import Config


def private_dir_problem(path: Path, what: str, *, sticky_ok: bool = False) -> str | None:
    """Why `path` may not be trusted, or None. A missing directory is fine: certkeeper
    creates it 0700 itself.

    `sticky_ok` admits a root-owned sticky directory (/run/lock, mode 1777), where only a
    file's owner can replace it; the lock file inside is then checked on its own.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"refusing {what} {path}: {exc.strerror or exc}"
    if not stat.S_ISDIR(st.st_mode):
        # Not a trust question: writing there fails, loudly, where it is attempted.
        return None
    mode = stat.S_IMODE(st.st_mode)
    if sticky_ok and st.st_uid == 0 and mode & stat.S_ISVTX:
        return None
    euid = os.geteuid()
    if st.st_uid != euid:
        return (
            f"refusing {what} {path}: owned by uid {st.st_uid}, not by the user running "
            f"certkeeper (uid {euid}); fix: chown {euid} {path}"
        )
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (
            f"refusing {what} {path}: writable by group or others (mode {mode:04o}); "
            f"fix: chmod go-w {path}"
        )
    return None


def require_private_dirs(state_dir: Path, outbox: Path, lock_file: Path) -> None:
    """Raise ConfigError (exit 2) naming every directory that others could write."""
    problems = [
        p
        for p in (
            private_dir_problem(state_dir, "state_dir"),
            private_dir_problem(outbox, "the outbox"),
            private_dir_problem(lock_file.parent, "the lock directory", sticky_ok=True),
        )
        if p
    ]
    if problems:
        raise ConfigError(problems)


def require_private_state(cfg: Config) -> None:
    """Refuse (exit 2) the config's state, outbox or lock directory when others could write it."""
    from certkeeper.notify.outbox import outbox_dir

    require_private_dirs(cfg.state_dir, outbox_dir(cfg.state_dir), cfg.lock_file)
