"""The random HTTP-01 token doctor writes into a webroot, and its removal."""

from __future__ import annotations

import os
import threading
from pathlib import Path


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
        self._files: list[Path] = []
        self._dirs: list[Path] = []
        self._closed = False

    def _open(self) -> None:
        if self._closed:
            raise OSError("doctor's deadline passed before the token was written")

    def make_dir(self, path: Path) -> None:
        with self._lock:
            self._open()
            try:
                path.mkdir(mode=0o755)
            except FileExistsError:
                return  # another lineage's check made it; that one's is removed at the end
            self._dirs.append(path)
            path.chmod(0o755)  # nginx's workers must be able to read it, whatever the umask

    def make_file(self, path: Path, data: bytes) -> None:
        with self._lock:
            self._open()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            self._files.append(path)
            try:
                os.write(fd, data)
                os.fchmod(fd, 0o644)
            finally:
                os.close(fd)

    def remove(self, path: Path) -> None:
        """A check is done with its token (the final clean-up retries on failure)."""
        with self._lock:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                return
            if path in self._files:
                self._files.remove(path)

    def clean_up(self) -> list[str]:
        """Remove everything and close the jar; returns what could not be removed."""
        if not self._lock.acquire(timeout=self.LOCK_WAIT_SECONDS):
            return [
                "a token write is still hanging: look for certkeeper-doctor-* files in "
                "the webroot's .well-known/acme-challenge/"
            ]
        try:
            self._closed = True
            left = []
            for path in self._files:
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    left.append(f"{path}: {exc.strerror or exc}")
            for folder in reversed(self._dirs):
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    # Something else was put there meanwhile: leave it, say so.
                    left.append(f"{folder}: {exc.strerror or exc}")
            self._files.clear()
            self._dirs.clear()
            return left
        finally:
            self._lock.release()
