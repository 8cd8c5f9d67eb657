"""A real HTTP receiver on loopback for the webhook channel: it keeps what it accepted and
can be told to fail the way real receivers do.

Modes (set `receiver.mode` between runs):
    ok     200, and the POST counts as received
    error  500 with a short reply; not received
    reject 403; not received
    slow   reads the POST, then waits `delay` seconds before its 200; not received
    drip   reads nothing, and drips a 200 status line and endless headers one byte at a
           time, each byte in time for any per-read timeout; not received
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, port: int, delay: float = 8.0) -> None:
        self.port = port
        self.delay = delay
        self.mode = "ok"
        # (path, headers, parsed JSON) of every POST it accepted with a 2xx.
        self.received: list[tuple[str, dict[str, str], Any]] = []
        self.attempts = 0
        self._server: ThreadingHTTPServer | None = None
        self._stop = threading.Event()

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one_request(self) -> None:
                if receiver.mode == "drip":
                    receiver.attempts += 1
                    receiver.drip(self.connection)
                    self.close_connection = True
                    return
                super().handle_one_request()

            def do_POST(self) -> None:
                receiver.attempts += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.answer(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        if self.mode == "slow":
            self._stop.wait(self.delay)
        status, reply = {"error": (500, b"upstream broke"), "reject": (403, b"bad token")}.get(
            self.mode, (200, b"ok")
        )
        if status == 200 and self.mode == "ok":
            self.received.append((handler.path, dict(handler.headers), json.loads(body)))
        try:
            handler.send_response(status)
            handler.send_header("Content-Length", str(len(reply)))
            handler.end_headers()
            handler.wfile.write(reply)
        except OSError:
            pass  # the client gave up first: that is the point of `slow`

    def drip(self, conn: socket.socket) -> None:
        data = b"HTTP/1.1 200 OK\r\n" + b"X-Drip: " + b"a" * 10_000
        try:
            for byte in data:
                if self._stop.wait(0.2):
                    return
                conn.sendall(bytes([byte]))
        except OSError:
            return

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._stop = threading.Event()


def wait_closed(port: int, seconds: float = 5.0) -> None:
    """Until nothing listens on the port any more."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.05)
