"""Real TLS servers on loopback for probe and status tests: SNI-routed, blackhole, garbage."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme


def now() -> datetime:
    return datetime.now(UTC)


class _Acceptor:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> _Acceptor:
        self._thread.start()
        return self

    def _loop(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:  # pragma: no cover - overridden
        conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        for conn in self._held:
            with contextlib.suppress(OSError):
                conn.close()


class SNIServer(_Acceptor):
    """Serves a different certificate per SNI name; `default` for unknown names."""

    def __init__(self, certs: dict[str, trustme.LeafCert], default: trustme.LeafCert) -> None:
        super().__init__()
        self.contexts = {name: self._context(cert) for name, cert in certs.items()}
        self.default_context = self._context(default)
        self.default_context.sni_callback = self._pick

    @staticmethod
    def _context(cert: trustme.LeafCert) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(ctx)
        return ctx

    def _pick(self, sslobj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        if name in self.contexts:
            sslobj.context = self.contexts[name]

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with self.default_context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()


class Blackhole(_Acceptor):
    """Accepts TCP and never says a word."""

    def handle(self, conn: socket.socket) -> None:
        self._held.append(conn)


class Garbage(_Acceptor):
    """Answers a TLS hello with plain text, as a misconfigured port would."""

    def handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4)
        conn.close()


def leaf(
    ca: trustme.CA, *names: str, days_left: float = 60, lifetime: float = 90
) -> trustme.LeafCert:
    not_after = now() + timedelta(days=days_left)
    return ca.issue_cert(
        *names, not_before=not_after - timedelta(days=lifetime), not_after=not_after
    )


def write_lineage(config_dir: Path, cert_name: str, cert: trustme.LeafCert, ca: trustme.CA) -> Path:
    """A certbot-like live/<cert_name>/ with the four files certkeeper and nginx read."""
    live = config_dir / "live" / cert_name
    live.mkdir(parents=True, exist_ok=True)
    chain = ca.cert_pem.bytes()
    leaf_pem = cert.cert_chain_pems[0].bytes()
    (live / "cert.pem").write_bytes(leaf_pem)
    (live / "chain.pem").write_bytes(chain)
    (live / "fullchain.pem").write_bytes(leaf_pem + chain)
    (live / "privkey.pem").write_bytes(cert.private_key_pem.bytes())
    return live


def hashed_ca_dir(folder: Path, cas: list[trustme.CA]) -> Path:
    """CA certificates under their OpenSSL subject-hash names (what `openssl rehash`
    writes), for $SSL_CERT_DIR."""
    folder.mkdir()
    for ca in cas:
        pem = folder / "ca.pem"
        ca.cert_pem.write_to_path(str(pem))
        subject_hash = subprocess.run(
            ["openssl", "x509", "-noout", "-subject_hash", "-in", str(pem)],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        counter = 0
        while (folder / f"{subject_hash}.{counter}").exists():
            counter += 1
        pem.rename(folder / f"{subject_hash}.{counter}")
    return folder
