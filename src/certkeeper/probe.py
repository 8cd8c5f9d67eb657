"""Ask a TLS server which certificate it serves for a name (SNI), with hard deadlines.

The read never depends on the certificate being valid: an expired, untrusted
or wrong-name certificate is exactly what we need to see, so it is recorded as
a finding. Only the network can make a probe fail.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

from certkeeper.x509info import CertInfo, parse_der


@dataclass(frozen=True)
class Target:
    domain: str
    host: str
    port: int


@dataclass(frozen=True)
class ProbeResult:
    target: Target
    cert: CertInfo | None
    trusted: bool | None
    verify_error: str | None
    error: str | None
    seconds: float

    @property
    def covered(self) -> bool | None:
        return None if self.cert is None else self.cert.covers(self.target.domain)


@lru_cache(maxsize=1)
def _reading_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@lru_cache(maxsize=1)
def _trusting_context() -> ssl.SSLContext:
    # Chain trust only: name coverage is judged separately from the SANs.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    return ctx


class _ProbeFailed(Exception):
    pass


def _handshake(target: Target, ctx: ssl.SSLContext, timeout: float) -> bytes:
    """Connect within `timeout`, then handshake within another `timeout`. Returns the leaf DER."""
    try:
        raw = socket.create_connection((target.host, target.port), timeout=timeout)
    except TimeoutError:
        raise _ProbeFailed(f"connect to {target.host}:{target.port} timed out") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise _ProbeFailed(f"connect to {target.host}:{target.port} failed: {reason}") from None
    try:
        deadline = time.monotonic() + timeout
        raw.setblocking(False)
        tls = ctx.wrap_socket(raw, server_hostname=target.domain, do_handshake_on_connect=False)
        # A non-blocking loop, so a server that trickles bytes cannot stretch the deadline.
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                ready = select.select([tls], [], [], max(deadline - time.monotonic(), 0))[0]
            except ssl.SSLWantWriteError:
                ready = select.select([], [tls], [], max(deadline - time.monotonic(), 0))[1]
            if not ready:
                raise _ProbeFailed(
                    f"{target.host}:{target.port} accepted TCP but sent no TLS answer in time"
                )
        der = tls.getpeercert(binary_form=True)
        if not der:
            raise _ProbeFailed("the server sent no certificate")
        return der
    except ssl.SSLCertVerificationError:
        raise
    except ssl.SSLError as exc:
        raise _ProbeFailed(f"TLS handshake failed: {exc.reason or exc}") from None
    except OSError as exc:
        raise _ProbeFailed(f"TLS handshake failed: {exc.strerror or exc}") from None
    finally:
        raw.close()


def probe(target: Target, timeout: float, trust: bool = True) -> ProbeResult:
    """One probe. Connect and handshake each get `timeout` of their own.

    With trust=False (check's decisions never use it) no CA store is loaded and
    `trusted` stays None: one cheap handshake per name.
    """
    started = time.monotonic()
    trusted: bool | None = True if trust else None
    verify_error: str | None = None
    try:
        try:
            ctx = _trusting_context() if trust else _reading_context()
            der = _handshake(target, ctx, timeout)
        except ssl.SSLCertVerificationError as exc:
            trusted = False
            verify_error = exc.verify_message or str(exc)
            # Untrusted is a finding, not a failure: read the certificate anyway.
            der = _handshake(target, _reading_context(), timeout)
        cert = parse_der(der)
    except _ProbeFailed as exc:
        return ProbeResult(target, None, None, None, str(exc), time.monotonic() - started)
    except ValueError as exc:
        return ProbeResult(
            target, None, None, None, f"unparseable certificate: {exc}", time.monotonic() - started
        )
    return ProbeResult(target, cert, trusted, verify_error, None, time.monotonic() - started)


def probe_many(
    targets: Iterable[Target], timeout: float, concurrency: int, trust: bool = True
) -> list[ProbeResult]:
    """Probe in parallel (at most `concurrency` at once); results keep the input order."""
    items = list(targets)
    if not items:
        return []
    # Build the contexts once, before the threads race to do it: loading the system
    # CA store costs tens of milliseconds, and N cache misses at once cost N times that.
    _reading_context()
    if trust:
        _trusting_context()
    if len(items) == 1:
        return [probe(items[0], timeout, trust)]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items))) as pool:
        return list(pool.map(lambda t: probe(t, timeout, trust), items))
