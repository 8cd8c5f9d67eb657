"""One deadline for a whole network exchange, whatever the peer does: the one way every
client (SMTP, the webhook, ARI, doctor's HTTP-01 fetch) bounds its time.

A per-read timeout alone bounds nothing: a server that trickles its reply one byte a
second answers every read in time. A watchdog thread shuts the socket down at the
deadline, which ends whatever connect, TLS handshake or read is waiting on it; each
blocking call also gets the time that is left as its own timeout.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
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
            if self._guard is not None:
                self._guard.close()  # an exchange of several connections: watch the newest
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


class Connection(http.client.HTTPConnection):
    """An HTTP connection, or HTTPS with `context`, whose TCP socket the deadline watches
    from connect on: connect, TLS, status line, headers and body all end by it."""

    def __init__(
        self, host: str, port: int, deadline: Deadline, context: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(host, port, timeout=deadline.remaining())
        # The Host header names the port only when it is not the scheme's own, as
        # HTTPSConnection does: `Host: ca.example`, never `ca.example:443`.
        self.default_port = 443 if context is not None else 80
        self.deadline = deadline
        self.context = context

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.deadline.remaining())
        self.deadline.watch(sock)
        if self.context is not None:
            sock.settimeout(self.deadline.remaining())
            sock = self.context.wrap_socket(sock, server_hostname=self.host)
        self.sock = sock

    def left(self) -> None:
        """Each blocking step gets the time that is left as its own timeout."""
        if self.sock is not None:
            self.sock.settimeout(self.deadline.remaining())
