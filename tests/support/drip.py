"""An HTTPS (or, with tls=False, plain HTTP) server on loopback that answers one byte a
second: the status line and the headers never finish within any sane deadline. A
slow-loris peer for every client."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from pathlib import Path

import trustme

ANSWER = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Drip-%d: %d\r\n" % (i, i) for i in range(200))


class DripServer:
    def __init__(self, folder: Path, seconds_per_byte: float = 1.0, tls: bool = True) -> None:
        self.tls = tls
        self.ca = trustme.CA()
        self.ca_file = folder / "drip-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1").configure_cert(self.ctx)
        self.pace = seconds_per_byte
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def start(self) -> DripServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        # shutdown() wakes the thread blocked in accept(); close() alone would not.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(timeout=5)

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(raw,), daemon=True).start()

    def _drip(self, raw: socket.socket) -> None:
        with contextlib.suppress(OSError), raw:
            raw.settimeout(10)
            conn = self.ctx.wrap_socket(raw, server_side=True) if self.tls else raw
            conn.recv(65536)  # the request
            for byte in ANSWER:
                if self.stopping.is_set():
                    return
                conn.sendall(bytes([byte]))
                time.sleep(self.pace)
