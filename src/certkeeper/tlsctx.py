"""The probe's two SSL contexts, each built once per run, the CA store's preload, and the
plain verifying context of the clients nobody waits on (SMTP, ARI, the webhook).

For the probe, the system's roots are read from the hashed directory, one issuer at a time,
wherever that gives OpenSSL's own verdict (`_lazy_roots`): its context then costs ~1 ms.
Where a whole bundle must be parsed instead (SSL_CERT_FILE names one, or the system has
no hashed directory: ~20-30 ms), `status` starts that before it imports the probe and
the rest of its modules; hence this module, apart from probe.py.
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


# Debian's bundle is ~220 KB; a larger one is read by OpenSSL as it always was.
_MAX_BUNDLE_BYTES = 4 * 1024 * 1024


def hashed_name(name: str) -> bool:
    """A CA file's name in a hashed directory (c_rehash, openssl rehash): the subject
    hash, a dot, a collision counter, as in 4042bcee.0."""
    stem, dot, counter = name.partition(".")
    hexdigits = "0123456789abcdef"
    return len(stem) == 8 and all(c in hexdigits for c in stem) and dot == "." and counter.isdigit()


def same_roots(bundle: str, folder: str) -> bool:
    """Whether the hashed folder holds the bundle's roots: as many hashed names as the
    bundle has certificates, and the bundle not changed after the folder.

    update-ca-certificates writes the bundle, then rehashes the folder (and removes its
    dangling links), so the two agree and the folder is the newer. A root appended to the
    bundle by hand (`cat corp.pem >> ca-certificates.crt`) makes the bundle the newer and
    the longer: then the bundle is parsed, as OpenSSL's defaults do, and it is trusted.
    """
    import os

    try:
        with os.scandir(folder) as entries:
            names = sum(1 for entry in entries if hashed_name(entry.name))
        folder_changed = os.stat(folder).st_mtime_ns
    except OSError:
        return False
    if names == 0:
        return False
    try:
        with open(bundle, "rb") as f:
            in_bundle = f.read(_MAX_BUNDLE_BYTES + 1)
        bundle_changed = os.stat(bundle).st_mtime_ns
    except FileNotFoundError:
        return True  # no bundle: the folder is all that OpenSSL's defaults have
    except OSError:
        return False
    if len(in_bundle) > _MAX_BUNDLE_BYTES or bundle_changed > folder_changed:
        return False
    return in_bundle.count(b"-----BEGIN CERTIFICATE-----") == names


def _lazy_roots() -> str | None:
    """The hashed folders that give OpenSSL's default verdict, or None: use the defaults.

    OpenSSL's defaults are a bundle ($SSL_CERT_FILE, else /usr/lib/ssl/cert.pem) and a
    hashed folder ($SSL_CERT_DIR, else /usr/lib/ssl/certs). It parses the bundle whole
    (~140 roots, 20-40 ms: the longest wait of a 10-name `status`), but reads a hashed
    folder lazily, one issuer's file per verification. Debian's update-ca-certificates
    writes the default bundle and the default folder from the same roots, so where they
    agree (`same_roots`) the default folder stands in for the default bundle, and the
    verdict is the same. Not when SSL_CERT_FILE names another bundle (the operator's
    choice, loaded as it is).
    """
    import os
    import ssl

    paths = ssl.get_default_verify_paths()
    bundle = paths.openssl_cafile
    named_file = os.environ.get(paths.openssl_cafile_env)
    if named_file and os.path.realpath(named_file) != os.path.realpath(bundle):
        return None
    default_dir = paths.openssl_capath
    if not same_roots(bundle, default_dir):
        return None
    # $SSL_CERT_DIR replaces the default folder, as OpenSSL reads it; the default folder
    # stays, in the bundle's place (the same roots, by same_roots).
    named_dir = os.environ.get(paths.openssl_capath_env) or default_dir
    folders: dict[str, str] = {}  # each folder once, however it is spelled
    for folder in [default_dir, *named_dir.split(os.pathsep)]:
        folders.setdefault(os.path.realpath(folder), folder)
    return os.pathsep.join(folders.values())


def verifying_context(cafile: str | None = None) -> ssl.SSLContext:
    """For SMTP, ARI and the webhook, where nobody waits on the trust store: OpenSSL's own
    defaults, or `cafile`. Raises OSError or ssl.SSLError for a `cafile` it cannot use."""
    import ssl

    return ssl.create_default_context(cafile=cafile)


def _build_trusting() -> ssl.SSLContext:
    """status's probe, where on-call waits: the system's roots read lazily where that gives
    the bundle's verdict (`_lazy_roots`; tests/integration/test_trust_store.py holds the
    two equal), else OpenSSL's defaults. Chain trust only: name coverage is judged
    separately from the SANs."""
    import ssl

    ctx: ssl.SSLContext | None = None
    capath = _lazy_roots()
    if capath is not None:
        try:
            ctx = ssl.create_default_context(capath=capath)
        except (OSError, ssl.SSLError):
            ctx = None  # OpenSSL's own defaults below, as if the directory were not there
    ctx = ctx or ssl.create_default_context()
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
    """Start building the verifying context now, in the background.

    Where it parses a CA bundle, OpenSSL does so without holding Python's lock, so on a
    second core the load (~30 ms) overlaps the config parsing and imports that come
    before any probe. `status` calls this first thing; the first trusting probe waits
    for it if needed.

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
    # its import would take turns with the caller's imports on Python's lock (5 ms
    # slices), and the store would be ready later than when the thread only runs OpenSSL.
    import ssl  # noqa: F401

    threading.Thread(target=_load_quietly, name="certkeeper-ca-store", daemon=False).start()
