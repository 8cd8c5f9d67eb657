"""One SMTP exchange, bounded at every step, with the server's own replies kept."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field

from certkeeper.config import SmtpSettings


@dataclass
class SendOutcome:
    ok: bool
    permanent: bool = False
    detail: str = ""
    transcript: list[str] = field(default_factory=list)


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
        raw = settings.password_file.read_bytes()[:4096]
    except OSError as exc:
        raise _BadCredentials(f"cannot read {settings.password_file}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise _BadCredentials(f"{settings.password_file} is not UTF-8 text") from None


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


def send(settings: SmtpSettings, data: bytes, sender: str, rcpts: list[str]) -> SendOutcome:
    """Deliver one serialised message (CRLF lines) to the envelope given, which comes from
    the config. Never raises: network, SMTP and credential trouble are outcomes."""
    out = SendOutcome(ok=False)
    log = out.transcript
    timeout = settings.timeout_seconds
    client: smtplib.SMTP | None = None
    try:
        context = ssl.create_default_context()
        if settings.security == "tls":
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        log.append(f"connected to {settings.host}:{settings.port} ({settings.security})")
        code, reply = client.ehlo()
        log.append(f"EHLO: {code}")
        if settings.security == "starttls":
            code, starttls_reply = client.starttls(context=context)
            log.append(f"STARTTLS: {code} {_text(starttls_reply)}")
            client.ehlo()
        password = read_password(settings)
        if settings.username and password is not None:
            code, login_reply = _login(client, settings.username, password)
            log.append(f"AUTH: {code} {_text(login_reply)}")
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
        log.append(f"DATA: {code} {_text(reply)}")
        if code != 250:
            raise _Refused("DATA", code, reply)
        out.ok = True
        out.detail = f"{code} {_text(reply)}"
    except _Refused as exc:
        out.permanent = 500 <= exc.code < 600
        out.detail = str(exc)
    except _BadCredentials as exc:
        out.permanent = True
        out.detail = f"AUTH not attempted: {exc}"
    except smtplib.SMTPAuthenticationError as exc:
        out.permanent = True
        out.detail = f"AUTH refused: {exc.smtp_code} {_text(exc.smtp_error)}"
    except smtplib.SMTPResponseException as exc:
        out.permanent = 500 <= exc.smtp_code < 600
        out.detail = f"server said {exc.smtp_code} {_text(exc.smtp_error)}"
    except TimeoutError:
        out.detail = f"no answer from {settings.host}:{settings.port} within {timeout:g}s"
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        # smtplib reports a read timeout as "Connection unexpectedly closed: timed out".
        if "timed out" in str(exc):
            out.detail = f"no answer from {settings.host}:{settings.port} within {timeout:g}s"
        else:
            out.detail = f"cannot talk to {settings.host}:{settings.port}: {exc}"
    except (ValueError, UnicodeError) as exc:
        # Whatever a hostile server reply or address provokes in smtplib: an outcome too.
        out.permanent = True
        out.detail = f"cannot deliver: {type(exc).__name__}: {exc}"[:300]
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    log.append(("delivered: " if out.ok else "failed: ") + out.detail)
    return out
