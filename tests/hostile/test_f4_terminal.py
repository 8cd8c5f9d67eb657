"""Issue 11, family 4: the terminal runs what the certificate says.

A certificate served by any probed name is written by whoever controls that name. Its
issuer, and certbot's output, reach `status`, `check` and config errors; the user must
see escapes, never a cleared screen, a moved cursor or a fake row.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.hostile import host, no_traceback, notice_text, outbox
from support.run import certkeeper, service, write_config
from support.smtp import Trickler
from support.tls import _Acceptor

RAW_CONTROLS = ("\x1b", "\r", "\x00", "\x7f", "\x9b", "\u202e", "\u2066", "\u2028")
# At most 64 characters: the longest common name cryptography will write.
EVIL_ISSUER = (
    "Evil CA\x1b[2J\x1b[H\rOK\nshop  shop  fake.example.com\x00\x7f\x9b\u202emoc\u2066\u2028"
)


def _evil_cert(tmp: Path, issuer: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shop.example.com")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=60))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("shop.example.com")]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "evil.pem", tmp / "evil.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _EvilServer(_Acceptor):
    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()


@pytest.fixture
def evil(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    server = _EvilServer(*_evil_cert(tmp_path, EVIL_ISSUER)).start()
    cfg = write_config(
        tmp_path / "host",
        {"shop": service("shop", "shop.example.com")},
        probe={"port": server.port},
    )
    yield cfg, EVIL_ISSUER
    server.stop()


def _raw(text: str) -> list[str]:
    return [c for c in RAW_CONTROLS if c in text]


def test_status_table_escapes_a_crafted_issuer(evil: tuple[Path, str]) -> None:
    cfg, _ = evil
    for wide in ((), ("--wide",)):
        proc = certkeeper(cfg, "status", *wide)
        no_traceback(proc)
        assert _raw(proc.stdout + proc.stderr) == []
        # One row for the one domain (the renewal table below names the certificate, not it).
        rows = [line for line in proc.stdout.splitlines() if "shop.example.com" in line]
        assert len(rows) == 1, proc.stdout  # no fake row
        assert "Evil CA\\x1b[" in rows[0]
        assert wide or len(rows[0]) <= 120, rows[0]
    # --wide shows the whole cell, escaped.
    assert "Evil CA\\x1b[2J\\x1b[H\\rOK" in rows[0]
    assert "\\u202emoc\\u2066\\u2028" in rows[0]


def test_status_json_keeps_the_issuer_exact_and_escaped(evil: tuple[Path, str]) -> None:
    cfg, issuer = evil
    proc = certkeeper(cfg, "status", "--json")
    no_traceback(proc)
    assert _raw(proc.stdout) == []
    assert len(proc.stdout.strip().splitlines()) == 1
    doc = json.loads(proc.stdout)
    assert doc["certificates"][0]["served"]["issuer"] == issuer


def test_certbot_output_with_escapes_is_escaped_on_stderr_and_kept_in_the_notice(
    tmp_path: Path,
) -> None:
    cfg = host(tmp_path, "printf '\\033[2J\\033[HFAKE OK\\r\\033]0;title\\007' >&2\nexit 1\n")
    proc = certkeeper(cfg, "--verbose", "check", "--no-jitter")
    no_traceback(proc)
    assert proc.returncode == 1
    assert "ERROR: shop: certbot failed: " in proc.stderr
    assert _raw(proc.stdout + proc.stderr) == [] and "\x07" not in proc.stderr
    (notice,) = outbox(tmp_path)
    assert "FAKE OK" in notice_text(notice)  # the output is kept for the team, in the notice...
    assert b"\x1b" not in notice  # ...quoted-printable: =1B, never a raw ESC in the file


def test_control_characters_in_a_config_key_are_escaped_in_the_error(tmp_path: Path) -> None:
    cfg = host(tmp_path)
    cfg.write_text(cfg.read_text() + '"\\e[2J\\rprobe\\u202e": 1\n')
    proc = certkeeper(cfg, "config", "validate")
    assert proc.returncode == 2
    assert _raw(proc.stderr) == []
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "\\x1b[2J\\rprobe\\u202e: unknown key" in lines[0], lines
    no_traceback(proc)


def test_control_characters_in_the_only_argument_are_escaped(tmp_path: Path) -> None:
    cfg = host(tmp_path)
    proc = certkeeper(cfg, "check", "--dry-run", "--only", "\x1b[2Jshop\nERROR: fake")
    assert proc.returncode == 2
    assert _raw(proc.stderr) == []
    assert len(proc.stderr.splitlines()) == 1
    no_traceback(proc)


def test_smtp_server_reply_is_escaped_in_the_notify_test_transcript(tmp_path: Path) -> None:
    server = Trickler("hostile-reply").start()
    try:
        proc = certkeeper(host(tmp_path, smtp_port=server.port), "notify", "test", timeout=60)
    finally:
        server.stop()
    no_traceback(proc)
    assert proc.returncode == 1
    assert _raw(proc.stdout + proc.stderr) == [] and "\x07" not in proc.stderr
    assert "MAIL FROM:<certkeeper@testhost.example.com>: 550 5.7.1 \\x1b[2J\\x1b[Hno" in proc.stderr
    assert "\\u202e thanks" in proc.stderr
