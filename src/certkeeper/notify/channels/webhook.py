"""The webhook channel: one JSON POST per notice, bounded as a whole.

The body carries `text` (subject, a blank line, body: the shape Slack, Mattermost and
ntfy take), and `kind`, `subject`, `host`, `cert_name`, `domains` and `id` for receivers
that want the parts. The URL and the extra headers are secrets (a Slack URL is its own
token): they are read from files only their owner may read, and everything this module
says shows the URL as `scheme://host:port/***` and never a header's value.

`notify.webhook.timeout_seconds` bounds the whole POST: connect, TLS, the request, the
status line, the headers and the reply (deadline.py).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import ssl
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from certkeeper import __version__
from certkeeper.config import Config, NotifySettings
from certkeeper.config.model import WebhookSettings
from certkeeper.deadline import Connection, Deadline
from certkeeper.inputs import InputFileError, read_regular
from certkeeper.names import has_control_chars
from certkeeper.notify.channels import Outcome
from certkeeper.notify.notice import Notice
from certkeeper.tlsctx import verifying_context
from certkeeper.value import Value, field

MAX_FILE_BYTES = 64 * 1024
MAX_REPLY_BYTES = 4096
# RFC 9110's token: what a header name may be.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
# Set by this module for every POST: a headers file may not override them.
OWN_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection"}
)
# Worth trying again later: the receiver is overloaded, restarting or rate-limiting.
RETRY_STATUS = frozenset({408, 425, 429})


class BadWebhook(Exception):
    """The URL or headers file cannot be used; the message holds no secret."""


class Target(Value):
    tls: bool
    host: str
    port: int
    path: str  # with the query: what goes on the request line
    shown: str  # scheme://host:port/***: what a person is told
    headers: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()

    def mask(self, text: str) -> str:
        """`text` with every secret of the URL and headers replaced by ***."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def enabled(settings: NotifySettings) -> bool:
    return settings.webhook.url_file is not None


def _read(path: Path | None, what: str) -> str:
    if path is None:
        return ""
    try:
        return read_regular(path, MAX_FILE_BYTES).decode("utf-8")
    except (OSError, InputFileError) as exc:
        raise BadWebhook(
            f"cannot read the {what} {path}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    except UnicodeDecodeError:
        raise BadWebhook(f"the {what} {path} is not UTF-8 text") from None


def _headers(settings: WebhookSettings) -> dict[str, str]:
    """`Name: value` lines; blank lines and # comments skipped."""
    headers: dict[str, str] = {}
    for number, line in enumerate(_read(settings.headers_file, "headers file").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        where = f"{settings.headers_file} line {number}"
        if not colon or not HEADER_NAME.fullmatch(name) or has_control_chars(value):
            raise BadWebhook(f"{where}: expected `Name: value` without control characters")
        if not value.isascii():
            raise BadWebhook(f"{where}: expected an ASCII value")
        if name.lower() in OWN_HEADERS:
            raise BadWebhook(f"{where}: {name} is set by certkeeper itself")
        headers[name] = value
    return headers


def load(settings: WebhookSettings) -> Target:
    """The URL and headers from their files, checked; BadWebhook says what is wrong."""
    url = _read(settings.url_file, "url_file").strip()
    where = f"the url_file {settings.url_file}"
    if not url or has_control_chars(url) or any(c.isspace() for c in url):
        raise BadWebhook(f"{where}: expected one URL on one line")
    if not url.isascii():
        raise BadWebhook(f"{where}: expected an ASCII URL (percent-encode the rest)")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BadWebhook(f"{where}: expected an http:// or https:// URL") from None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or has_control_chars(host):
        raise BadWebhook(f"{where}: expected an http:// or https:// URL with a host name")
    headers = _headers(settings)
    secrets = [url, parts.path, parts.query, parts.fragment, *headers.values()]
    if parts.username is not None or parts.password is not None:
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        if not any(name.lower() == "authorization" for name in headers):
            headers["Authorization"] = f"Basic {token}"
        secrets += [parts.username or "", parts.password or "", user, password, token]
    secrets += [unquote(s) for s in secrets]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    shown = f"{parts.scheme}://{host if ':' not in host else f'[{host}]'}:{port}/***"
    # A short "secret" ("/" or "a") would mask every slash of a message; those carry none.
    kept = tuple(s for s in set(secrets) if len(s) >= 4)
    return Target(parts.scheme == "https", host, port, path, shown, headers, kept)


def target(cfg: Config) -> str:
    try:
        return f"webhook POST to {load(cfg.notify.webhook).shown}"
    except BadWebhook:
        return f"webhook (url_file {cfg.notify.webhook.url_file})"


def payload(notice: Notice) -> bytes:
    doc = {
        "text": f"{notice.subject}\n\n{notice.body}",
        "kind": notice.kind,
        "subject": notice.subject,
        "host": notice.host,
        "cert_name": notice.cert_name,
        "domains": list(notice.domains),
        "id": notice.event_id,
    }
    return json.dumps(doc, ensure_ascii=False).encode()


def deliver(cfg: Config, notice: Notice, on_accepted: Callable[[], None] | None = None) -> Outcome:
    """One POST of the notice. Never raises; a 2xx before the deadline is delivered."""
    if cfg.notify.webhook.held:
        # The config says the URL or headers file cannot be trusted: it is never read, and
        # the notice waits (not permanent) until the file is fixed.
        said = f"webhook: not sent: {cfg.notify.webhook.held}"
        return Outcome(False, False, said, [said])
    try:
        where = load(cfg.notify.webhook)
    except BadWebhook as exc:
        return Outcome(False, False, f"webhook: {exc}", [f"webhook: {exc}"])
    return post(where, payload(notice), cfg.notify.webhook.timeout_seconds, on_accepted)


def post(
    where: Target, body: bytes, seconds: float, on_accepted: Callable[[], None] | None = None
) -> Outcome:
    out = Outcome(ok=False, transcript=[f"webhook: POST {where.shown}"])
    deadline = Deadline(seconds)
    conn = Connection(where.host, where.port, deadline, verifying_context() if where.tls else None)
    try:
        status, reason, reply = _exchange(conn, where, body)
        if deadline.fired:
            # A reply cut short by the watchdog's shutdown reads as a whole one.
            raise TimeoutError
        out.transcript.append(where.mask(f"webhook: HTTP {status} {reason}"))
        out.ok = 200 <= status < 300
        if out.ok and on_accepted is not None:
            on_accepted()
        out.permanent = not out.ok and status not in RETRY_STATUS and status < 500
        said = f": {reply}" if reply and not out.ok else ""
        out.detail = where.mask(f"webhook: HTTP {status} {reason} from {where.shown}{said}")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        out.detail = _failure(exc, where, deadline)
    finally:
        conn.close()
        deadline.close()
    out.transcript.append(("webhook: delivered: " if out.ok else "webhook: failed: ") + out.detail)
    return out


def _exchange(conn: Connection, where: Target, body: bytes) -> tuple[int, str, str]:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"certkeeper/{__version__}",
        **where.headers,
    }
    conn.request("POST", where.path, body=body, headers=headers)
    conn.left()
    response = conn.getresponse()
    status, reason = response.status, str(response.reason)[:100]
    reply = ""
    if not 200 <= status < 300:
        conn.left()
        reply = response.read(MAX_REPLY_BYTES).decode(errors="replace").strip()[:200]
    return status, reason, reply


def _failure(exc: Exception, where: Target, deadline: Deadline) -> str:
    if deadline.fired or isinstance(exc, TimeoutError):
        return (
            f"webhook: no answer from {where.shown} within {deadline.seconds:g}s"
            " (notify.webhook.timeout_seconds bounds the whole POST)"
        )
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return where.mask(f"webhook: TLS with {where.shown} failed: {exc}")[:300]
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return where.mask(f"webhook: cannot reach {where.shown}: {text}")[:300]


def reach(cfg: Config) -> str | None:
    """Doctor: None when the receiver takes a connection (and TLS), else what happened.
    Nothing is POSTed: only `doctor --send-test` and `notify test` send."""
    try:
        where = load(cfg.notify.webhook)
    except BadWebhook as exc:
        return str(exc)
    deadline = Deadline(min(cfg.notify.webhook.timeout_seconds, 10.0))
    conn = Connection(where.host, where.port, deadline, verifying_context() if where.tls else None)
    try:
        conn.connect()
        return None
    except (OSError, ValueError) as exc:
        return _failure(exc, where, deadline).removeprefix("webhook: ")
    finally:
        conn.close()
        deadline.close()
