"""Ask a TLS server which certificate it serves for a name (SNI), with hard deadlines.

The read never depends on the certificate being valid: an expired, untrusted
or wrong-name certificate is exactly what we need to see, so it is recorded as
a finding. Only the network can make a probe fail.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from queue import Empty, SimpleQueue
from typing import cast

from certkeeper.tlsctx import preload_trust_store as preload_trust_store
from certkeeper.tlsctx import reading_context as _reading_context
from certkeeper.tlsctx import trusting_context as _trusting_context
from certkeeper.value import Value
from certkeeper.x509info import CertInfo, parse_der


class Target(Value):
    """Where one probe connects (host:port) and the name it asks for by SNI."""

    domain: str
    host: str
    port: int


class ProbeResult(Value):
    """What nginx served for one name: the certificate (None with `error`), and, when
    asked, whether its chain is trusted by the system store."""

    target: Target
    cert: CertInfo | None
    trusted: bool | None
    verify_error: str | None
    error: str | None

    @property
    def covered(self) -> bool | None:
        return None if self.cert is None else self.cert.covers(self.target.domain)


class _ProbeFailed(Exception):
    pass


def _wire(name: str) -> str | bytes:
    """A host or SNI name as `socket` and `ssl` take it: an ASCII name as bytes.

    Given a str, both run it through Python's "idna" codec, whose first use imports
    encodings.idna, stringprep and unicodedata: ~10 ms of a 10-name `status`, for names
    that are ASCII already (A-labels). A non-ASCII name still goes through the codec.
    """
    return name.encode("ascii") if name.isascii() else name


def _handshake(target: Target, ctx: ssl.SSLContext, timeout: float) -> bytes:
    """Connect within `timeout`, then handshake within another `timeout`. Returns the leaf DER."""
    try:
        # typeshed says str; create_connection hands the host to getaddrinfo, which takes bytes.
        host = cast(str, _wire(target.host))
        raw = socket.create_connection((host, target.port), timeout=timeout)
    except TimeoutError:
        raise _ProbeFailed(f"connect to {target.host}:{target.port} timed out") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise _ProbeFailed(f"connect to {target.host}:{target.port} failed: {reason}") from None
    try:
        deadline = time.monotonic() + timeout
        raw.setblocking(False)
        try:
            tls = ctx.wrap_socket(
                raw, server_hostname=_wire(target.domain), do_handshake_on_connect=False
            )
        except (ValueError, UnicodeError) as exc:  # a name no server can be asked for
            raise _ProbeFailed(f"cannot send {target.domain!r} as SNI: {exc}") from None
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


class _Served(Value):
    """What one handshake brought back, before the certificate is parsed."""

    target: Target
    der: bytes | None
    trusted: bool | None
    verify_error: str | None
    error: str | None


def _fetch(target: Target, timeout: float, trust: bool) -> _Served:
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
    except _ProbeFailed as exc:
        return _Served(target, None, None, None, str(exc))
    return _Served(target, der, trusted, verify_error, None)


# Given a served certificate's DER, the facts already known about it (the disk
# certificate it is byte for byte), or None: then it is parsed.
Identify = Callable[[bytes], CertInfo | None]


class _Reader:
    """Served DER to CertInfo: the known ones without a parse, each distinct one parsed once
    (ten names served one wrong certificate are one parse, and `cryptography` is only
    imported when something is actually parsed)."""

    def __init__(self, identify: Identify | None) -> None:
        self._identify = identify
        self._parsed: dict[bytes, CertInfo | str] = {}

    def result(self, served: _Served) -> ProbeResult:
        target, der = served.target, served.der
        if der is None:
            return ProbeResult(target, None, None, None, served.error)
        known = self._identify(der) if self._identify is not None else None
        if known is None:
            found = self._parsed.get(der)
            if found is None:
                try:
                    found = parse_der(der)
                except ValueError as exc:
                    found = f"unparseable certificate: {exc}"
                self._parsed[der] = found
            if isinstance(found, str):
                return ProbeResult(target, None, None, None, found)
            known = found
        return ProbeResult(target, known, served.trusted, served.verify_error, None)


def probe(target: Target, timeout: float, trust: bool = True) -> ProbeResult:
    """One probe. Connect and handshake each get `timeout` of their own.

    With trust=False (check's decisions never use it) no CA store is loaded and
    `trusted` stays None: one cheap handshake per name.
    """
    return _Reader(None).result(_fetch(target, timeout, trust))


class Probes:
    """Probes running in the background; `results()` waits for them, in the input order.

    Starting them first and collecting them later lets the caller do its own work (read
    the certificates on disk) while the probes wait on the network.

    A probe mostly waits on round trips, so the workers are sized for waiting, not for
    the cores: up to `concurrency` (probe.concurrency) probes at once, each with its own
    deadlines; OpenSSL releases Python's lock during a handshake. But where a handshake
    is CPU and no wait (this host's nginx on loopback), a hundred threads only fight
    over Python's lock: 100 names took ~40% more CPU with 128 workers than with 16. So
    the first `FIRST_WAVE` workers start at once, and the rest only when `results()`
    sees no probe finish for `STALL` seconds while names are still queued, i.e. when the
    probes are waiting on the network. The workers are bare threads:
    `threading.Thread.start()` (and so ThreadPoolExecutor) waits for each new thread to
    be scheduled before starting the next; these start at once and share a queue.
    """

    FIRST_WAVE = 16
    STALL = 0.01

    def __init__(
        self, targets: Iterable[Target], timeout: float, concurrency: int, trust: bool = True
    ) -> None:
        items = list(targets)
        self._timeout = timeout
        self._trust = trust
        self._slots: list[_Served | BaseException | None] = [None] * len(items)
        self._queue: SimpleQueue[tuple[int, Target]] = SimpleQueue()
        for job in enumerate(items):
            self._queue.put(job)
        self._lock = threading.Lock()
        self._left = len(items)
        self._done = threading.Event()
        self._cancelled = False
        self._limit = min(concurrency, len(items))
        self._started = 0
        if not items:
            self._done.set()
            return
        self._start(min(self._limit, self.FIRST_WAVE))

    def _start(self, count: int) -> None:
        for _ in range(count):
            try:
                threading.Thread(target=self._work, daemon=True).start()
            except RuntimeError:
                # Out of threads (a tight ulimit -u): the ones running share the queue.
                if self._started == 0:
                    raise
                self._limit = self._started
                return
            self._started += 1

    def _work(self) -> None:
        while not self._cancelled:
            try:
                index, target = self._queue.get_nowait()
            except Empty:
                return
            outcome: _Served | BaseException
            try:
                outcome = _fetch(target, self._timeout, self._trust)
            except BaseException as exc:  # handed to the caller by results()
                outcome = exc
            self._slots[index] = outcome
            with self._lock:
                self._left -= 1
                if self._left == 0:
                    self._done.set()

    def _wait(self) -> None:
        """Wait for the last probe, adding the held-back workers once the probes stall."""
        seen = self._left
        while self._started < self._limit and not self._cancelled:
            if self._done.wait(self.STALL):
                return
            left = self._left
            if left == seen and not self._queue.empty():
                self._start(self._limit - self._started)
            seen = left
        self._done.wait()

    def results(self, identify: Identify | None = None) -> list[ProbeResult]:
        """Wait for every probe; the certificates are read here, on the caller's thread,
        where `identify` can name the ones already known without parsing them."""
        self._wait()
        reader = _Reader(identify)
        found: list[ProbeResult] = []
        for outcome in self._slots:
            if isinstance(outcome, BaseException):
                raise outcome
            assert outcome is not None  # every slot is filled before _done is set
            found.append(reader.result(outcome))
        return found

    def cancel(self) -> None:
        """Drop the probes not started yet; running ones end by their own deadline."""
        self._cancelled = True


def probe_many(
    targets: Iterable[Target], timeout: float, concurrency: int, trust: bool = True
) -> list[ProbeResult]:
    """Probe in parallel (at most `concurrency` at once); results keep the input order."""
    return Probes(targets, timeout, concurrency, trust).results()
