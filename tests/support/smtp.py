"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

from __future__ import annotations

import contextlib
import email
import socket
import ssl
import threading
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Catcher:
    def __init__(self, reject: tuple[str, ...] = ()) -> None:
        self.reject = set(reject)
        self.raw: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs) per message

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.reject:
            return f"550 5.1.1 <{address}>: Recipient address rejected: no such board"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.original_content or envelope.content)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 Ok: queued"

    @property
    def messages(self) -> list[EmailMessage]:
        parsed = [email.message_from_bytes(raw, policy=default) for raw in self.raw]
        return [m for m in parsed if isinstance(m, EmailMessage)]


class _TLSController(Controller):
    """Implicit TLS: aiosmtpd's readiness probe must speak TLS too."""

    def _trigger_server(self) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with (
            socket.create_connection((self.hostname, self.port), timeout=5) as raw,
            ctx.wrap_socket(raw) as tls,
        ):
            tls.recv(1024)


class SMTPServer:
    def __init__(
        self,
        catcher: Catcher,
        *,
        port: int | None = None,
        security: str = "none",
        server_ctx: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self.catcher = catcher
        self.port = port or free_port()
        kwargs: dict[str, Any] = {}
        if users is not None:

            def check(
                server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
            ) -> AuthResult:
                login = auth_data.login.decode() if auth_data.login else ""
                ok = users.get(login) == (auth_data.password or b"").decode()
                return AuthResult(success=ok, handled=False)

            kwargs.update(authenticator=check, auth_require_tls=security != "none")
        if security == "starttls":
            kwargs.update(tls_context=server_ctx, require_starttls=True)
            self.controller: Controller = Controller(
                catcher, hostname="127.0.0.1", port=self.port, **kwargs
            )
        elif security == "tls":
            self.controller = _TLSController(
                catcher, hostname="127.0.0.1", port=self.port, ssl_context=server_ctx, **kwargs
            )
        else:
            self.controller = Controller(catcher, hostname="127.0.0.1", port=self.port, **kwargs)

    def start(self) -> SMTPServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class Trickler:
    """An SMTP server on loopback that answers, but one byte at a time.

    `stage` says where it starts to trickle: the greeting, the EHLO reply, the reply to
    DATA, or, after a quick STARTTLS or on an implicit-TLS port, the TLS handshake (a
    record header announcing 16 KiB, then a byte every `interval`). Every read the client
    makes gets an answer well within any per-read timeout; only a total deadline ends it.
    """

    GREETING = b"220 slow.example.com ESMTP a very slow greeting that goes on and on\r\n"

    def __init__(self, stage: str, interval: float = 0.5) -> None:
        self.stage = stage
        self.interval = interval
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> Trickler:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        # shutdown() wakes the thread blocked in accept(); close() alone would not.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=5)

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if self.stopped.wait(self.interval):
                return
            conn.sendall(data[i : i + 1])

    def _line(self, conn: socket.socket) -> bytes:
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(1)
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def _talk(self, conn: socket.socket) -> None:
        endless = b"\x16\x03\x03\x40\x00" + b"\x00" * 16384
        try:
            with conn:
                if self.stage == "tls":
                    self._drip(conn, endless)
                    return
                if self.stage == "greeting":
                    self._drip(conn, self.GREETING)
                    return
                conn.sendall(self.GREETING)
                self._line(conn)  # EHLO
                ehlo = b"250-slow.example.com\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
                if self.stage == "ehlo":
                    self._drip(conn, ehlo * 20)
                    return
                conn.sendall(ehlo)
                if self.stage == "starttls":
                    self._line(conn)
                    conn.sendall(b"220 go ahead\r\n")
                    self._drip(conn, endless)
                    return
                if self.stage == "hostile-reply":
                    # Not a trickle: a reply written to drive the terminal of whoever reads it.
                    self._line(conn)  # MAIL FROM
                    conn.sendall(
                        b"550 5.7.1 \x1b[2J\x1b[Hno\x1b]0;pwned\x07\xe2\x80\xae thanks\r\n"
                    )
                    self._line(conn)
                    return
                while True:
                    line = self._line(conn).upper()
                    if line.startswith(b"DATA"):
                        conn.sendall(b"354 go on\r\n")
                        while self._line(conn) != b".\r\n":
                            pass
                        self._drip(conn, b"250 queued after a very long wait indeed\r\n")
                        return
                    conn.sendall(b"250 ok\r\n")
        except OSError:
            pass
