"""Ask a TLS server which certificate it serves for a name (SNI), with hard deadlines.

The read never depends on the certificate being valid: an expired, untrusted
or wrong-name certificate is exactly what we need to see, so it is recorded as
a finding. Only the network can make a probe fail.
"""

from __future__ import annotations

import _thread
import contextlib
import queue
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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


class _Once:
    """A value built on first use by whichever thread asks first; the others wait for it.

    Not an lru_cache: N probe threads missing it at once would each load the system CA
    store (tens of milliseconds apiece). A lock makes the latecomers wait for the one build.
    """

    def __init__(self, build: Callable[[], ssl.SSLContext]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._value: ssl.SSLContext | None = None

    def __call__(self) -> ssl.SSLContext:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value


def _build_reading() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _build_trusting() -> ssl.SSLContext:
    # Chain trust only: name coverage is judged separately from the SANs.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    return ctx


_reading_context = _Once(_build_reading)
_trusting_context = _Once(_build_trusting)


def _load_quietly() -> None:
    # A failure here is not reported: the first probe that needs the store builds it again.
    with contextlib.suppress(Exception):
        _trusting_context()


def preload_trust_store() -> None:
    """Start loading the system CA store now, in the background.

    OpenSSL reads the store without holding Python's lock, so on a second core the
    load (~30 ms) overlaps the config parsing and imports that come before any probe.
    `status` calls this first thing; the first trusting probe waits for it if needed.

    Not a daemon thread: a command that ends at once (a config error) would otherwise
    let the interpreter, and OpenSSL's own exit handlers, tear down while this thread
    is still inside OpenSSL, and the process died with SIGSEGV after printing its error.
    Exit now waits for the load, a few tens of milliseconds at most.
    """
    threading.Thread(target=_load_quietly, name="certkeeper-ca-store", daemon=False).start()


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


class Probes:
    """Probes running in the background; `results()` waits for them, in the input order.

    Starting them first and collecting them later lets the caller do its own work (read
    the certificates on disk, import the parser) while the probes wait on the network.

    A probe mostly waits on round trips, so the workers are sized for waiting, not for
    the cores: `concurrency` (probe.concurrency) probes at once, each with its own
    deadlines; OpenSSL releases Python's lock during a handshake. The workers are bare
    threads: `threading.Thread.start()` (and so ThreadPoolExecutor) waits for each new
    thread to be scheduled before starting the next, which cost ~30 ms for 100 workers
    on a busy 2-core host; these start at once and take the targets from a queue.
    """

    def __init__(
        self, targets: Iterable[Target], timeout: float, concurrency: int, trust: bool = True
    ) -> None:
        items = list(targets)
        self._timeout = timeout
        self._trust = trust
        self._slots: list[ProbeResult | BaseException | None] = [None] * len(items)
        self._queue: queue.SimpleQueue[tuple[int, Target]] = queue.SimpleQueue()
        for job in enumerate(items):
            self._queue.put(job)
        self._lock = threading.Lock()
        self._left = len(items)
        self._done = threading.Event()
        self._cancelled = False
        if not items:
            self._done.set()
            return
        for started in range(min(concurrency, len(items))):
            try:
                _thread.start_new_thread(self._work, ())
            except RuntimeError:
                # Out of threads (a tight ulimit -u): the ones running share the queue.
                if started == 0:
                    raise
                break

    def _work(self) -> None:
        while not self._cancelled:
            try:
                index, target = self._queue.get_nowait()
            except queue.Empty:
                return
            outcome: ProbeResult | BaseException
            try:
                outcome = probe(target, self._timeout, self._trust)
            except BaseException as exc:  # handed to the caller by results()
                outcome = exc
            self._slots[index] = outcome
            with self._lock:
                self._left -= 1
                if self._left == 0:
                    self._done.set()

    def results(self) -> list[ProbeResult]:
        self._done.wait()
        found: list[ProbeResult] = []
        for outcome in self._slots:
            if isinstance(outcome, BaseException):
                raise outcome
            assert outcome is not None  # every slot is filled before _done is set
            found.append(outcome)
        return found

    def cancel(self) -> None:
        """Drop the probes not started yet; running ones end by their own deadline."""
        self._cancelled = True


def probe_many(
    targets: Iterable[Target], timeout: float, concurrency: int, trust: bool = True
) -> list[ProbeResult]:
    """Probe in parallel (at most `concurrency` at once); results keep the input order."""
    return Probes(targets, timeout, concurrency, trust).results()
