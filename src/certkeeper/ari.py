"""ACME Renewal Information (RFC 9773): the CA's own word on when to renew.

The certificate ID and the window arithmetic are pure. The fetch is the one
effect: the standard library's HTTP client, HTTPS only, one total deadline per
exchange (connect, TLS, status line, headers and body: a watchdog shuts the socket
when it passes), a capped body, and every failure (network, TLS, status, hostile JSON) turned
into AriError so that it can only ever be logged, never block the team's rule.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certkeeper.policy import AriWindow
from certkeeper.state import AriRecord
from certkeeper.tlsctx import verifying_context
from certkeeper.value import Value

if TYPE_CHECKING:
    import http.client
    import random

    from certkeeper.config import AriSettings
    from certkeeper.deadline import Deadline
    from certkeeper.x509info import CertInfo

# Directory and renewalInfo documents are a few hundred bytes; anything near this is hostile.
MAX_BODY_BYTES = 64 * 1024
# RFC 9773 section 4.3.3: clients set limits on the checking interval, e.g. at most
# once a minute and at least once a day, whatever Retry-After says.
RETRY_AFTER_MIN = timedelta(minutes=1)
RETRY_AFTER_MAX = timedelta(days=1)
# Let's Encrypt's usual Retry-After, for an answer without one.
RETRY_AFTER_DEFAULT = timedelta(hours=6)
# A window further than this from now is not advice about a certificate of ours (they
# live days to months), and near year 1 or 9999 it would overflow the arithmetic.
WINDOW_REACH = timedelta(days=10 * 366)


class AriError(Exception):
    """The CA's ARI could not be used this time; the team's rule decides."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def der_serial(serial: int) -> bytes:
    """The content octets of the DER INTEGER: big-endian, minimal, a leading zero
    when the top bit is set (serials are positive)."""
    return serial.to_bytes(serial.bit_length() // 8 + 1, "big")


def cert_id(cert: CertInfo) -> str | None:
    """base64url(AKI keyIdentifier) "." base64url(DER serial), unpadded; None without an AKI."""
    if not cert.aki:
        return None
    return f"{_b64url(cert.aki)}.{_b64url(der_serial(cert.serial))}"


def window_for(record: AriRecord | None, cert: CertInfo | None) -> AriWindow | None:
    """The cached window, only if it was given for this very certificate."""
    if record is None or cert is None or record.cert_id != cert_id(cert):
        return None
    return AriWindow(record.start, record.end, record.selected_at)


# ----------------------------------------------------------- renewal conf


def directory_of(config_dir: Path, cert_name: str) -> str | None:
    """The ACME directory this lineage was issued from: `server` in its renewal conf."""
    from certkeeper.certbot import read_renewalparams

    server = read_renewalparams(config_dir, cert_name).get("server")
    return server if server and server.startswith("https://") else None


# ----------------------------------------------------------------- fetch


class Suggestion(Value):
    start: datetime
    end: datetime
    retry_after: datetime
    explanation_url: str | None


# One verifying context per CA file for the whole run: building one may parse a whole CA
# bundle (~20 ms), and `check` asks the CA about every certificate of the host.
_contexts: dict[Path | None, Any] = {}


def _context(ca_file: Path | None) -> Any:
    import ssl

    ctx = _contexts.get(ca_file)
    if ctx is not None:
        return ctx
    try:
        ctx = verifying_context(str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise AriError(f"cannot use ari.ca_file {ca_file}: {exc}") from None
    _contexts[ca_file] = ctx
    return ctx


def _get(url: str, ctx: Any, deadline: Deadline) -> tuple[bytes, http.client.HTTPResponse]:
    """GET an https URL, the whole exchange within the deadline; the body is capped."""
    import http.client
    import ssl
    from urllib.parse import urlsplit

    from certkeeper.deadline import Connection

    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port  # .port raises ValueError on "host:abc"
    except ValueError:
        raise AriError(f"not a usable URL: {url[:200]!r}") from None
    if parts.scheme != "https" or not host:
        raise AriError(f"not an https URL: {url[:200]!r}")
    if deadline.fired:
        raise AriError("timed out")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    conn: Connection | None = None
    try:
        conn = Connection(host, port or 443, deadline, ctx)
        conn.request("GET", path, headers={"User-Agent": "certkeeper", "Accept": "*/*"})
        conn.left()
        resp = conn.getresponse()
        conn.left()
        body = _read_capped(resp, url)
        if deadline.fired:
            raise TimeoutError  # a body cut short by the watchdog reads as a whole one
        if resp.status != 200:
            raise AriError(f"{url}: HTTP {resp.status} {resp.reason}")
        return body, resp
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
        if deadline.fired or isinstance(exc, TimeoutError):
            raise AriError(f"{url[:200]}: timed out") from None
        # ValueError covers what a hostile URL does to the client (bad IDNA host, control
        # characters in the path); none of it may escape as a traceback.
        raise AriError(f"{url[:200]}: {str(exc)[:200] or type(exc).__name__}") from None
    finally:
        if conn is not None:
            conn.close()


def _read_capped(resp: http.client.HTTPResponse, url: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = resp.read1(16384)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise AriError(f"{url}: answer larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)


def _json(body: bytes, url: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise AriError(f"{url}: not JSON ({str(exc)[:100]})") from None
    if not isinstance(doc, dict):
        raise AriError(f"{url}: expected a JSON object")
    return doc


def _timestamp(value: Any, what: str, now: datetime) -> datetime:
    """An RFC 3339 time with an offset, within WINDOW_REACH of now, in UTC."""
    if not isinstance(value, str) or len(value) > 64 or not value.isascii():
        raise AriError(f"suggestedWindow.{what} is not an RFC 3339 time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            raise AriError(f"suggestedWindow.{what} = {value!r} has no time zone")
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise AriError(f"suggestedWindow.{what} = {value!r} is not an RFC 3339 time") from None
    if abs(moment - now) > WINDOW_REACH:
        raise AriError(f"suggestedWindow.{what} = {value!r} is not within ten years of now")
    return moment


def _wait(text: str, now: datetime) -> timedelta:
    """Retry-After as a wait: ASCII delta-seconds or an HTTP date; the default otherwise."""
    from email.utils import parsedate_to_datetime

    # str.isdigit() also takes superscripts and other scripts' digits that int() refuses.
    if text.isascii() and text.isdigit():
        return timedelta(seconds=min(int(text[:12]), 10**9))
    try:
        when = parsedate_to_datetime(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(UTC) - now
    except (TypeError, ValueError, IndexError, OverflowError):
        return RETRY_AFTER_DEFAULT


def retry_after(header: str | None, now: datetime) -> datetime:
    """When to ask again: the header (seconds or HTTP date), held within RFC 9773's limits."""
    wait = _wait(header.strip()[:200], now) if header else RETRY_AFTER_DEFAULT
    return now + min(max(wait, RETRY_AFTER_MIN), RETRY_AFTER_MAX)


def parse_renewal_info(body: bytes, url: str, header: str | None, now: datetime) -> Suggestion:
    doc = _json(body, url)
    window = doc.get("suggestedWindow")
    if not isinstance(window, dict):
        raise AriError(f"{url}: no suggestedWindow object")
    start = _timestamp(window.get("start"), "start", now)
    end = _timestamp(window.get("end"), "end", now)
    if not start < end:
        raise AriError(f"{url}: suggestedWindow ends before it starts ({start} .. {end})")
    explanation = doc.get("explanationURL")
    url_ok = isinstance(explanation, str) and explanation.startswith("https://")
    return Suggestion(
        start,
        end,
        retry_after(header, now),
        explanation[:500] if url_ok and isinstance(explanation, str) else None,
    )


def fetch(
    directory_url: str, ident: str, *, ca_file: Path | None, timeout: float, now: datetime
) -> Suggestion | None:
    """Ask the CA. None when its directory offers no renewalInfo; AriError on any failure.

    `timeout` bounds the whole exchange (both requests), not each socket operation.
    """
    from certkeeper.deadline import Deadline

    ctx = _context(ca_file)
    deadline = Deadline(timeout)
    try:
        body, _ = _get(directory_url, ctx, deadline)
        endpoint = _json(body, directory_url).get("renewalInfo")
        if endpoint is None:
            return None
        if not isinstance(endpoint, str):
            raise AriError(f"{directory_url}: renewalInfo is not a URL")
        url = endpoint.rstrip("/") + "/" + ident
        body, resp = _get(url, ctx, deadline)
    finally:
        deadline.close()
    return parse_renewal_info(body, url, resp.getheader("Retry-After"), now)


def choose(start: datetime, end: datetime, rng: random.Random | None = None) -> datetime:
    """A moment uniformly at random inside the window, so that hosts spread out."""
    if rng is None:
        import random  # here: only a fetched window needs it, and status never fetches

        rng = random.Random()
    fraction = rng.random()
    return start + (end - start) * fraction


def remember(
    suggestion: Suggestion, ident: str, previous: AriRecord | None, now: datetime
) -> AriRecord:
    """The record to cache: the moment already picked is kept while the window stands."""
    same = previous is not None and (previous.start, previous.end) == (
        suggestion.start.replace(microsecond=0),
        suggestion.end.replace(microsecond=0),
    )
    if same and previous is not None:
        selected = previous.selected_at
    else:
        selected = choose(suggestion.start, suggestion.end)
    return AriRecord(
        cert_id=ident,
        start=suggestion.start.replace(microsecond=0),
        end=suggestion.end.replace(microsecond=0),
        selected_at=max(selected.replace(microsecond=0), suggestion.start.replace(microsecond=0)),
        retry_after=suggestion.retry_after,
        fetched_at=now,
        explanation_url=suggestion.explanation_url,
    )


def refresh(
    settings: AriSettings,
    config_dir: Path,
    cert_name: str,
    cert: CertInfo,
    cached: AriRecord | None,
    now: datetime,
) -> AriRecord | None:
    """The CA's window for `cert`, asking only when Retry-After allows; None without one.

    A failed fetch is logged and keeps the previous answer for the same certificate:
    ARI can bring a renewal forward, its absence never holds one back.
    """
    from certkeeper.log import get_logger

    ident = cert_id(cert)
    if not settings.enabled or ident is None:
        return None
    previous = cached if cached is not None and cached.cert_id == ident else None
    if previous is not None and now < previous.retry_after:
        return previous
    log = get_logger()
    directory = directory_of(config_dir, cert_name)
    if directory is None:
        log.info("ari.unavailable", cert=cert_name, reason="no https server in the renewal conf")
        return previous
    try:
        suggestion = fetch(
            directory, ident, ca_file=settings.ca_file, timeout=settings.timeout_seconds, now=now
        )
    except AriError as exc:
        log.warning("ari.error", cert=cert_name, error=str(exc))
        return previous
    if suggestion is None:
        log.info("ari.unavailable", cert=cert_name, reason=f"{directory} offers no renewalInfo")
        return None
    record = remember(suggestion, ident, previous, now)
    log.info(
        "ari.window",
        cert=cert_name,
        start=str(record.start),
        end=str(record.end),
        selected_at=str(record.selected_at),
        retry_after=str(record.retry_after),
    )
    return record
