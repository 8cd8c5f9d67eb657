"""The random HTTP-01 token doctor writes into a webroot, and its removal.

The webroot belongs to the web server's user, who may put a symlink anywhere in it
(`.well-known/acme-challenge` -> /root/.ssh). doctor runs as root, so it walks every
component below the webroot from the webroot's own descriptor without following links,
makes what is missing there, sets modes on the open folder, and creates and removes the
token relative to its folder's descriptor: a symlinked component is refused, never used.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path

from certkeeper.actions.doctor.base import clean

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeWebroot(OSError):
    """A component below the webroot is not a plain folder (a symlink, a file)."""


def _refusal(parent_fd: int, name: str, shown: Path) -> UnsafeWebroot:
    try:
        target = os.readlink(name, dir_fd=parent_fd)
    except OSError:
        return UnsafeWebroot(errno.ENOTDIR, f"{shown} is not a folder")
    return UnsafeWebroot(
        errno.ELOOP,
        f"{shown} is a symlink to {clean(target, 200)}: doctor never writes through a link "
        "in the webroot",
    )


class TokenJar:
    """Every token file and folder doctor made, so they are removed whatever happens.

    Creation and the final clean-up hold one lock, and the clean-up closes the jar: a
    check still running after the deadline cannot write a token nobody will remove.
    Folders are shared by lineages with the same webroot, so only the final clean-up
    removes them; each check removes its own token as soon as it is done with it.
    """

    LOCK_WAIT_SECONDS = 5.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (folder descriptor, name, path shown): what was made, removed relative to its folder.
        self._files: dict[Path, tuple[int, str]] = {}
        self._dirs: list[tuple[int, str, Path]] = []
        self._fds: list[int] = []
        self._closed = False

    def _open(self) -> None:
        if self._closed:
            raise OSError("doctor's deadline passed before the token was written")

    def _keep(self, fd: int) -> int:
        self._fds.append(fd)
        return fd

    def _existing(self, parent_fd: int, name: str, shown: Path) -> int | None:
        """The folder `name` under `parent_fd` if it is there; a link or a file is refused."""
        try:
            return self._keep(os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=parent_fd))
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _refusal(parent_fd, name, shown) from None
            raise

    def _descend(self, parent_fd: int, name: str, shown: Path) -> int:
        """The folder `name` under `parent_fd`, made (0755) when missing, never a link."""
        fd = self._existing(parent_fd, name, shown)
        if fd is not None:
            return fd
        try:
            os.mkdir(name, 0o700, dir_fd=parent_fd)
        except FileExistsError:
            fd = self._existing(parent_fd, name, shown)  # made meanwhile: check it again
            if fd is None:
                raise
            return fd
        self._dirs.append((parent_fd, name, shown))
        fd = self._existing(parent_fd, name, shown)
        if fd is None:
            raise FileNotFoundError(errno.ENOENT, f"{shown} was removed as it was made")
        os.fchmod(fd, 0o755)  # nginx's workers must be able to read it, whatever the umask
        return fd

    def make_file(self, webroot: Path, below: tuple[str, ...], name: str, data: bytes) -> Path:
        """Write `data` to webroot/below.../name; returns the path for messages."""
        with self._lock:
            self._open()
            folder_fd = self._keep(os.open(webroot, _DIR_FLAGS))
            shown = webroot
            for part in below:
                shown = shown / part
                folder_fd = self._descend(folder_fd, part, shown)
            fd = os.open(name, _FILE_FLAGS, 0o644, dir_fd=folder_fd)
            path = shown / name
            self._files[path] = (folder_fd, name)
            try:
                os.write(fd, data)
                os.fchmod(fd, 0o644)
            finally:
                os.close(fd)
            return path

    def remove(self, path: Path) -> None:
        """A check is done with its token (the final clean-up retries on failure)."""
        with self._lock:
            where = self._files.get(path)
            if where is None:
                return
            try:
                os.unlink(where[1], dir_fd=where[0])
            except FileNotFoundError:
                pass
            except OSError:
                return
            del self._files[path]

    def clean_up(self) -> list[str]:
        """Remove everything and close the jar; returns what could not be removed."""
        if not self._lock.acquire(timeout=self.LOCK_WAIT_SECONDS):
            return [
                "a token write is still hanging: look for certkeeper-doctor-* files in "
                "the webroot's .well-known/acme-challenge/"
            ]
        try:
            self._closed = True
            # The tokens, then the folders doctor made, deepest first; a folder something
            # else was put in meanwhile is left, and said.
            steps: list[tuple[Callable[..., None], int, str, str]] = [
                (os.unlink, fd, name, str(path)) for path, (fd, name) in self._files.items()
            ]
            steps += [(os.rmdir, fd, name, str(shown)) for fd, name, shown in reversed(self._dirs)]
            left = [why for step in steps if (why := _removed(*step))]
            self._files.clear()
            self._dirs.clear()
            for fd in self._fds:
                os.close(fd)
            self._fds.clear()
            return left
        finally:
            self._lock.release()


def _removed(remove: Callable[..., None], folder_fd: int, name: str, shown: str) -> str | None:
    """Remove one entry relative to its folder's descriptor; why not, or None."""
    try:
        remove(name, dir_fd=folder_fd)
    except FileNotFoundError:
        pass
    except OSError as exc:
        return f"{shown}: {exc.strerror or exc}"
    return None
