"""The e-mail channel: one SMTP exchange, bounded as a whole, with the server's own replies kept.

`notify.smtp.timeout_seconds` is the deadline for the whole exchange of one notice, from
connect to QUIT (deadline.py says why a per-read timeout is not enough). The envelope comes
from the config, never from the notice: whoever could drop a file in the outbox must not be
able to relay mail through the team's SMTP account.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable

from certkeeper.config import Config, NotifySettings, SmtpSettings
from certkeeper.deadline import Deadline
from certkeeper.inputs import InputFileError, read_regular
from certkeeper.notify.channels import Outcome
from certkeeper.notify.notice import Notice
from certkeeper.tlsctx import verifying_context

# A password file is a line of text; anything bigger is not one.
MAX_PASSWORD_FILE_BYTES = 64 * 1024


def enabled(settings: NotifySettings) -> bool:
    return settings.to is not None


def target(cfg: Config) -> str:
    smtp = cfg.notify.smtp
    return f"e-mail to {cfg.notify.to} via {smtp.host}:{smtp.port} ({smtp.security})"


def deliver(cfg: Config, notice: Notice, on_accepted: Callable[[], None] | None = None) -> Outcome:
    """The notice as an e-mail to notify.to; an earlier release's bytes as they are."""
    from certkeeper.notify import sender
    from certkeeper.notify.compose import email_message

    to = cfg.notify.to
    if to is None:
        return Outcome(False, False, "notify.to is not set")
    data = notice.raw
    if data is None:
        try:
            data = email_message(notice, sender(cfg), to).as_bytes()
        except ValueError as exc:
            return Outcome(False, True, f"the e-mail cannot be written: {exc}")
    return send(cfg.notify.smtp, data, sender(cfg), [to], on_accepted)


def reach(cfg: Config) -> str | None:
    """None when the SMTP server answers EHLO, else what happened."""
    settings = cfg.notify.smtp
    deadline = Deadline(min(settings.timeout_seconds, 10.0))
    client: smtplib.SMTP | None = None
    try:
        context = verifying_context()
        client = _SMTPS(deadline, context) if settings.security == "tls" else _SMTP(deadline)
        code, greeting = client.connect(settings.host, settings.port)
        if code != 220:
            return f"the greeting was {code} {_text(greeting)[:200]}"
        code, reply = client.ehlo()
        return None if code == 250 else f"EHLO answered {code} {_text(reply)[:200]}"
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        return str(exc)[:200] or type(exc).__name__
    finally:
        hang_up(client)
        deadline.close()


class _Refused(Exception):
    def __init__(self, step: str, code: int, reply: bytes | str) -> None:
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
        self.code = code
        super().__init__(f"{step} refused: {code} {text}")


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


class _BadCredentials(Exception):
    pass


def read_password(settings: SmtpSettings) -> str | None:
    if settings.password_file is None:
        return None
    try:
        data = read_regular(settings.password_file, MAX_PASSWORD_FILE_BYTES)
    except InputFileError as exc:
        raise _BadCredentials(f"cannot read {settings.password_file}: {exc}") from None
    try:
        return data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise _BadCredentials(f"{settings.password_file} is not UTF-8 text") from None


class _SMTP(smtplib.SMTP):
    """smtplib.SMTP whose TCP socket the deadline watches."""

    _host: str  # smtplib sets it only when a host is given to __init__; STARTTLS's SNI

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        super().__init__(timeout=deadline.seconds)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        self._host = host
        sock = socket.create_connection((host, port), self.deadline.remaining())
        self.deadline.watch(sock)
        return sock


class _SMTPS(smtplib.SMTP_SSL):
    """smtplib.SMTP_SSL whose TCP socket the deadline watches before the TLS handshake."""

    _host: str

    def __init__(self, deadline: Deadline, context: ssl.SSLContext) -> None:
        self.deadline = deadline
        super().__init__(timeout=deadline.seconds, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        self._host = host
        sock = socket.create_connection((host, port), self.deadline.remaining())
        self.deadline.watch(sock)
        return self.context.wrap_socket(sock, server_hostname=self._host)


def _login(client: smtplib.SMTP, username: str, password: str) -> tuple[int, bytes]:
    """AUTH PLAIN with UTF-8 (RFC 4616): smtplib's login() can only send ASCII."""
    import base64

    if username.isascii() and password.isascii():
        return client.login(username, password)
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
    code, reply = client.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)
    return code, reply


def send(
    settings: SmtpSettings,
    data: bytes,
    sender: str,
    rcpts: list[str],
    on_accepted: Callable[[], None] | None = None,
) -> Outcome:
    """Deliver one serialised message (CRLF lines) to the envelope given, which comes from
    the config. Never raises: network, SMTP and credential trouble are outcomes.

    `on_accepted` runs the moment the server has accepted the message (250 to DATA),
    before QUIT: the outbox marks the notice sent there, so that a kill after that
    instant cannot make the next run send it again."""
    out = Outcome(ok=False)
    if settings.held:
        # The config says the password cannot be trusted: nothing is sent, nothing waiting
        # is given up (not permanent), and the password file is never opened.
        out.detail = f"not sent: {settings.held}"
        out.transcript.append("failed: " + out.detail)
        return out
    deadline = Deadline(settings.timeout_seconds)
    client: smtplib.SMTP | None = None
    try:
        context = verifying_context()
        client = _SMTPS(deadline, context) if settings.security == "tls" else _SMTP(deadline)
        _open(client, settings, context, out.transcript)
        out.detail = _transfer(client, data, sender, rcpts, on_accepted, out.transcript)
        out.ok = True
    except (_Refused, _BadCredentials, smtplib.SMTPException, OSError, ValueError) as exc:
        # OSError covers ssl.SSLError and TimeoutError; ValueError covers UnicodeError.
        out.permanent, out.detail = _failure(exc, settings, deadline)
    finally:
        hang_up(client)
        deadline.close()
    out.transcript.append(("delivered: " if out.ok else "failed: ") + out.detail)
    return out


def hang_up(client: smtplib.SMTP | None) -> None:
    """QUIT politely, or just close when the connection is already broken."""
    if client is None:
        return
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _open(
    client: smtplib.SMTP, settings: SmtpSettings, context: ssl.SSLContext, log: list[str]
) -> None:
    """Connect, EHLO, STARTTLS and AUTH as the settings ask; raises on a refusal."""
    code, greeting = client.connect(settings.host, settings.port)
    if code != 220:
        # What smtplib.SMTP(host) checks itself; connect() alone does not.
        raise _Refused("greeting", code, greeting)
    log.append(f"connected to {settings.host}:{settings.port} ({settings.security})")
    code, _ = client.ehlo()
    log.append(f"EHLO: {code}")
    if settings.security == "starttls":
        code, starttls_reply = client.starttls(context=context)
        log.append(f"STARTTLS: {code} {_text(starttls_reply)}")
        client.ehlo()
    password = read_password(settings)
    if settings.username and password is not None:
        code, login_reply = _login(client, settings.username, password)
        log.append(f"AUTH: {code} {_text(login_reply)}")


def _transfer(
    client: _SMTP | _SMTPS,
    data: bytes,
    sender: str,
    rcpts: list[str],
    on_accepted: Callable[[], None] | None,
    log: list[str],
) -> str:
    """MAIL, RCPT and DATA; the server's acceptance, or raises on a refusal."""
    code, reply = client.mail(sender)
    log.append(f"MAIL FROM:<{sender}>: {code} {_text(reply)}")
    if code != 250:
        raise _Refused("MAIL FROM", code, reply)
    for rcpt in rcpts:
        code, reply = client.rcpt(rcpt)
        log.append(f"RCPT TO:<{rcpt}>: {code} {_text(reply)}")
        if code not in (250, 251):
            raise _Refused(f"RCPT TO:<{rcpt}>", code, reply)
    code, reply = client.data(data)
    if client.deadline.fired:
        # smtplib takes a reply cut short by the shutdown ("250 " and EOF) for a
        # whole one; only a reply that came before the deadline counts as delivered.
        raise TimeoutError
    if code == 250 and on_accepted is not None:
        on_accepted()
    log.append(f"DATA: {code} {_text(reply)}")
    if code != 250:
        raise _Refused("DATA", code, reply)
    return f"{code} {_text(reply)}"


def _failure(exc: Exception, settings: SmtpSettings, deadline: Deadline) -> tuple[bool, str]:
    """(permanent, detail) for what went wrong: 5xx and bad credentials are permanent
    (retrying cannot help), network trouble and timeouts are not."""
    too_slow = (
        f"no answer from {settings.host}:{settings.port} within {deadline.seconds:g}s"
        " (notify.smtp.timeout_seconds bounds the whole exchange)"
    )
    if isinstance(exc, _Refused):
        return 500 <= exc.code < 600, str(exc)
    if isinstance(exc, _BadCredentials):
        return True, f"AUTH not attempted: {exc}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return True, f"AUTH refused: {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600, f"server said {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, TimeoutError):
        return False, too_slow
    if isinstance(exc, smtplib.SMTPException | OSError):
        # smtplib reports a read timeout as "Connection unexpectedly closed: timed out";
        # the watchdog's shutdown shows up as a closed connection.
        if deadline.fired or "timed out" in str(exc):
            return False, too_slow
        return False, f"cannot talk to {settings.host}:{settings.port}: {exc}"
    # Whatever a hostile server reply or address provokes in smtplib: an outcome too.
    return True, f"cannot deliver: {type(exc).__name__}: {exc}"[:300]
