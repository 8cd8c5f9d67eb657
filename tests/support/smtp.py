"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

from __future__ import annotations

import email
import socket
import ssl
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
