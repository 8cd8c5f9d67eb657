"""One deadline for a whole network exchange, whatever the peer does.

A per-read timeout alone bounds nothing: a server that trickles its reply one byte a
second answers every read in time. A watchdog thread shuts the socket down at the
deadline, which ends whatever connect, TLS handshake or read is waiting on it; each
blocking call also gets the time that is left as its own timeout.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class Deadline:
    """Shuts the connection down when the whole exchange has taken `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.fired = False
        self._lock = threading.Lock()
        self._guard: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        # Never 0: socket timeouts of 0 mean non-blocking, which smtplib refuses.
        return max(0.01, self.end - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        """Watch the TCP socket, before any TLS wrapping: a dup of its descriptor stays
        valid whatever smtplib and ssl do with the original object, and shutdown() acts
        on the connection, not on one descriptor."""
        with self._lock:
            self._guard = sock.dup()
            if self.fired:
                self._shutdown()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._guard is not None:
            with contextlib.suppress(OSError):
                self._guard.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            if self._guard is not None:
                self._guard.close()
                self._guard = None
