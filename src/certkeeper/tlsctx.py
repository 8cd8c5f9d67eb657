"""The probe's two SSL contexts, each built once per run, and the CA store's preload.

Apart from probe.py so that `status` starts loading the CA store before it imports the
probe and the rest of its modules: the store (~20-30 ms) is what a 10-name status
waits for longest, so it starts first.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl


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
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _build_trusting() -> ssl.SSLContext:
    import ssl

    # Chain trust only: name coverage is judged separately from the SANs.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    return ctx


reading_context = _Once(_build_reading)
_preloading = False
trusting_context = _Once(_build_trusting)


def _load_quietly() -> None:
    # A failure here is not reported: the first probe that needs the store builds it again.
    with contextlib.suppress(Exception):
        trusting_context()


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
    global _preloading
    if _preloading:
        return  # cli.main started it already
    _preloading = True
    # ssl here, on the calling thread, before the thread starts: imported by the thread,
    # its import took turns with the caller's imports on Python's lock (5 ms slices),
    # and the store was ready ~20 ms later than when the thread only runs OpenSSL.
    import ssl  # noqa: F401

    threading.Thread(target=_load_quietly, name="certkeeper-ca-store", daemon=False).start()
