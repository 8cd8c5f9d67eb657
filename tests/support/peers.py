"""Real peers on loopback for the e2e suite and the demo: pebble + challtestsrv, nginx, certbot.

Each peer is a real process on free ports, stopped on teardown. Used by
tests/e2e/conftest.py and by demo/run_demo.py, so the demo shows exactly what
the tests prove.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from support.smtp import free_port

DAY = 86400


def wait_port(
    port: int,
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float = 15,
    host: str = "127.0.0.1",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on {host}:{port} within {timeout}s")


def world_readable_dir(prefix: str) -> Path:
    """nginx workers run as nobody/www-data: a 0700 pytest tmp dir would give 403s."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


class Pebble:
    """Let's Encrypt's test ACME server, resolving every name to 127.0.0.1."""

    def __init__(self, folder: Path, http_port: int, validity_seconds: int = 90 * DAY) -> None:
        self.folder = folder
        self.http_port = http_port
        self.port = free_port()
        self.dns_port = free_port()
        # challtestsrv's management API: mock DNS answers, CAA records among them.
        self.dns_management_port = free_port()
        self.ca = trustme.CA()
        self.ca_bundle = folder / "pebble-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_bundle))
        server = self.ca.issue_cert("127.0.0.1", "localhost")
        server.cert_chain_pems[0].write_to_path(str(folder / "pebble-cert.pem"))
        server.private_key_pem.write_to_path(str(folder / "pebble-key.pem"))
        conf = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{self.port}",
                "managementListenAddress": f"127.0.0.1:{free_port()}",
                "certificate": str(folder / "pebble-cert.pem"),
                "privateKey": str(folder / "pebble-key.pem"),
                "httpPort": http_port,
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
                "certificateValidityPeriod": validity_seconds,
            }
        }
        self.config = folder / "pebble.json"
        self.config.write_text(json.dumps(conf))
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def start(self) -> Pebble:
        log = open(self.folder / "pebble.log", "ab")  # noqa: SIM115 - lives as long as the process
        dns = subprocess.Popen(
            [
                "pebble-challtestsrv",
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-dns01",
                f"127.0.0.1:{self.dns_port}",
                "-management",
                f"127.0.0.1:{self.dns_management_port}",
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        self.procs.append(dns)
        env = dict(
            os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_AUTHZREUSE="0", PEBBLE_WFE_NONCEREJECT="0"
        )
        acme = subprocess.Popen(
            ["pebble", "-config", str(self.config), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        self.procs.append(acme)
        wait_port(self.port, acme)
        return self

    @property
    def nameserver(self) -> str:
        """challtestsrv's DNS, as `dns.nameserver` names it."""
        return f"127.0.0.1:{self.dns_port}"

    def set_caa(self, host: str, issuers: list[str]) -> None:
        """Serve CAA `issue` records for `host` (an empty value forbids every CA)."""
        policies = [{"tag": "issue", "value": issuer} for issuer in issuers]
        self._manage("/add-caa", {"host": host, "policies": policies})

    def clear_caa(self, host: str) -> None:
        self._manage("/clear-caa", {"host": host})

    def _manage(self, path: str, doc: dict[str, object]) -> None:
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{self.dns_management_port}{path}",
            data=json.dumps(doc).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


class Nginx:
    """nginx-light, unprivileged-style: its own prefix, pid and logs, daemon on."""

    def __init__(
        self,
        prefix: Path,
        webroot: Path,
        certs_dir: Path,
        http_port: int,
        *,
        address: str = "127.0.0.1",
        tls_port: int | None = None,
    ) -> None:
        """`address` and `tls_port` let a second instance stand in for the other host of a
        pair: same port, another loopback address (127.0.0.2), other certificates."""
        self.prefix = prefix
        self.webroot = webroot
        self.certs_dir = certs_dir
        self.http_port = http_port
        self.address = address
        self.tls_port = tls_port or free_port()
        self.conf = prefix / "nginx.conf"
        self.sites = prefix / "sites"
        self.sites.mkdir(parents=True, exist_ok=True)
        (prefix / "tmp").mkdir(exist_ok=True)
        self.challenge_root = webroot
        self.write_conf()

    @property
    def base_argv(self) -> list[str]:
        return ["nginx", "-c", str(self.conf), "-p", f"{self.prefix}/"]

    @property
    def test_command(self) -> list[str]:
        return [*self.base_argv, "-t"]

    @property
    def reload_command(self) -> list[str]:
        return [*self.base_argv, "-s", "reload"]

    def write_conf(self) -> None:
        p = self.prefix
        user = "user root root;\n" if os.geteuid() == 0 else ""
        temp = "".join(
            f"  {kind}_temp_path {p}/tmp/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        self.conf.write_text(
            f"{user}daemon on;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n"
            "worker_processes 1;\nevents { worker_connections 256; }\n"
            "http {\n  access_log off;\n"
            + temp
            + f"  server {{\n    listen {self.address}:{self.http_port};\n"
            "    location /.well-known/acme-challenge/ {\n"
            f"      root {self.challenge_root};\n      default_type text/plain;\n    }}\n  }}\n"
            f"  include {self.sites}/*.conf;\n}}\n"
        )

    def add_site(
        self,
        link_name: str,
        domains: tuple[str, ...],
        placeholder: trustme.CA,
        files: tuple[Path, Path] | None = None,
    ) -> None:
        """A TLS server block reading the guide's symlink names; a self-signed placeholder
        stands in until the first issuance, as the team's Ansible does. `files` points the
        block at other certificate and key files instead (a hand-made certificate)."""
        self.certs_dir.mkdir(parents=True, exist_ok=True)
        crt, key = files or (
            self.certs_dir / f"{link_name}.fullchain.crt",
            self.certs_dir / f"{link_name}.key",
        )
        if not crt.exists():
            cert = placeholder.issue_cert(*domains)
            crt.write_bytes(b"".join(b.bytes() for b in cert.cert_chain_pems))
            key.write_bytes(cert.private_key_pem.bytes())
        (self.sites / f"{link_name}.conf").write_text(
            f"server {{\n  listen {self.address}:{self.tls_port} ssl;\n"
            f"  server_name {' '.join(domains)};\n"
            f"  ssl_certificate {crt};\n  ssl_certificate_key {key};\n"
            "  location / { return 204; }\n}\n"
        )

    def start(self) -> Nginx:
        subprocess.run([*self.base_argv], check=True, timeout=30, capture_output=True)
        wait_port(self.http_port, host=self.address)
        return self

    def reload(self) -> None:
        subprocess.run(self.reload_command, check=True, timeout=30, capture_output=True)
        # nginx applies a reload asynchronously; give the new workers a moment.
        time.sleep(0.5)

    def stop(self) -> None:
        # Signal the master directly: `nginx -s stop` parses the config first and so
        # cannot stop an nginx whose config a test has broken.
        pid_file = self.prefix / "nginx.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def certbot_path() -> str:
    found = shutil.which("certbot") or str(Path(sys.executable).parent / "certbot")
    return found


def age_lineage(config_dir: Path, cert_name: str, days_left: float, lifetime: float = 90) -> int:
    """Make the lineage's current certificate look `lifetime - days_left` days old.

    Time cannot be moved for certbot and nginx, so the certificate is re-minted with
    the same key and names but an earlier validity, as if the calendar had moved.
    Returns the new serial.
    """
    live = config_dir / "live" / cert_name
    cert_file = (live / "cert.pem").resolve()
    fullchain_file = (live / "fullchain.pem").resolve()
    chain_pem = (live / "chain.pem").read_bytes()
    old = x509.load_pem_x509_certificate(cert_file.read_bytes())
    key = serialization.load_pem_private_key((live / "privkey.pem").read_bytes(), None)
    signer = trustme.CA()
    signer_key = serialization.load_pem_private_key(signer.private_key_pem.bytes(), None)
    now = datetime.now(UTC)
    not_after = now + timedelta(days=days_left)
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        # The CA's name as before, so `status` shows the issuer a real renewal would replace.
        .issuer_name(old.issuer)
        .public_key(key.public_key())  # type: ignore[union-attr,arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=lifetime))
        .not_valid_after(not_after)
    )
    for ext in old.extensions:
        if ext.oid in (
            x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
            x509.oid.ExtensionOID.BASIC_CONSTRAINTS,
            x509.oid.ExtensionOID.KEY_USAGE,
            x509.oid.ExtensionOID.EXTENDED_KEY_USAGE,
        ):
            builder = builder.add_extension(ext.value, ext.critical)
    aged = builder.sign(signer_key, hashes.SHA256())  # type: ignore[arg-type]
    pem = aged.public_bytes(serialization.Encoding.PEM)
    cert_file.write_bytes(pem)
    fullchain_file.write_bytes(pem + chain_pem)
    return int(aged.serial_number)
