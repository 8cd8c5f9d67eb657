"""One SMTP exchange, bounded at every step, with the server's own replies kept."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.utils import getaddresses

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


def read_password(settings: SmtpSettings) -> str | None:
    if settings.password_file is None:
        return None
    return settings.password_file.read_text(encoding="utf-8").rstrip("\r\n")


def envelope(data: bytes) -> tuple[str, list[str]]:
    headers = BytesHeaderParser().parsebytes(data)
    sender = getaddresses([str(headers.get("From", ""))])[0][1]
    rcpts = [addr for _, addr in getaddresses([str(headers.get("To", ""))]) if addr]
    return sender, rcpts


def send(settings: SmtpSettings, data: bytes) -> SendOutcome:
    """Deliver one serialised message (CRLF lines). Never raises for network or SMTP trouble."""
    sender, rcpts = envelope(data)
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
            code, login_reply = client.login(settings.username, password)
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
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    log.append(("delivered: " if out.ok else "failed: ") + out.detail)
    return out
