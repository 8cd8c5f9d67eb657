"""Notices over real SMTP (aiosmtpd on loopback): every security mode, and never lost, never doubled."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from support.run import certkeeper, service, write_config
from support.smtp import Catcher, SMTPServer, free_port
from support.tls import Blackhole, SNIServer, leaf

BOARD = "board+abc@boards.example.com"


@pytest.fixture
def expiring_site(ca: trustme.CA) -> Iterator[SNIServer]:
    """A hand-managed certificate 9 days from expiry, served by a real TLS server."""
    server = SNIServer({}, default=leaf(ca, "manual.example.com", days_left=9.5)).start()
    yield server
    server.stop()


def monitor_config(tmp: Path, site: SNIServer, smtp_port: int, **smtp: object) -> Path:
    return write_config(
        tmp,
        {"manual": service("manual", "manual.example.com", enabled=False)},
        probe={"port": site.port},
        notify={
            "to": BOARD,
            "from": "ops@example.com",
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "timeout_seconds": 2, **smtp},
        },
    )


def outbox_files(cfg: Path) -> list[str]:
    folder = cfg.parent / "state" / "outbox"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_notify_test_plain(tmp_path: Path, expiring_site: SNIServer) -> None:
    server = SMTPServer(Catcher()).start()
    try:
        cfg = monitor_config(tmp_path, expiring_site, server.port)
        proc = certkeeper(cfg, "notify", "test")
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    assert "DATA: 250 2.0.0 Ok: queued" in proc.stdout
    [msg] = server.catcher.messages
    assert msg["Subject"] == "[TEST] testhost \u2013 certkeeper notification test"
    assert msg["To"] == BOARD


@pytest.fixture(scope="module")
def smtp_tls(ca: trustme.CA) -> tuple[object, str]:
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx, str(ca.cert_pem.bytes().decode())


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_notify_test_over_tls_trusts_only_a_known_ca(
    tmp_path: Path, expiring_site: SNIServer, smtp_tls: tuple[object, str], security: str
) -> None:
    ctx, ca_pem = smtp_tls
    bundle = tmp_path / "ca.pem"
    bundle.write_text(ca_pem)
    server = SMTPServer(Catcher(), security=security, server_ctx=ctx).start()  # type: ignore[arg-type]
    try:
        cfg = monitor_config(tmp_path, expiring_site, server.port, security=security)
        trusted = certkeeper(cfg, "notify", "test", env={"SSL_CERT_FILE": str(bundle)})
        untrusted = certkeeper(cfg, "notify", "test", env={"SSL_CERT_FILE": "/nonexistent"})
    finally:
        server.stop()
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert len(server.catcher.messages) == 1
    assert untrusted.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr


def test_auth_accepted_and_refused(
    tmp_path: Path, expiring_site: SNIServer, smtp_tls: tuple[object, str]
) -> None:
    ctx, ca_pem = smtp_tls
    bundle = tmp_path / "ca.pem"
    bundle.write_text(ca_pem)
    secret = tmp_path / "smtp-password"
    secret.write_text("right-horse\n")
    os.chmod(secret, 0o600)
    server = SMTPServer(
        Catcher(),
        security="starttls",
        server_ctx=ctx,  # type: ignore[arg-type]
        users={"certkeeper": "right-horse"},
    ).start()
    try:
        cfg = monitor_config(
            tmp_path,
            expiring_site,
            server.port,
            security="starttls",
            username="certkeeper",
            password_file=str(secret),
        )
        env = {"SSL_CERT_FILE": str(bundle)}
        good = certkeeper(cfg, "-v", "notify", "test", env=env)
        secret.write_text("wrong-horse\n")
        bad = certkeeper(cfg, "-v", "notify", "test", env=env)
    finally:
        server.stop()
    assert good.returncode == 0, good.stderr
    assert "AUTH: 235" in good.stdout
    assert bad.returncode == 1
    assert "AUTH refused: 535" in bad.stderr
    assert len(server.catcher.messages) == 1
    for out in (good.stdout, good.stderr, bad.stdout, bad.stderr):
        assert "horse" not in out


def test_server_down_then_back_delivers_exactly_once(
    tmp_path: Path, expiring_site: SNIServer
) -> None:
    port = free_port()
    cfg = monitor_config(tmp_path, expiring_site, port)
    down = certkeeper(cfg, "check", "--no-jitter")
    assert down.returncode == 1
    assert "not delivered, kept in the outbox" in down.stderr
    [spooled] = outbox_files(cfg)
    assert spooled.startswith("manual.warning14.")
    listing = certkeeper(cfg, "notify", "outbox")
    assert "[WARNING] testhost \u2013 Certificate expires in 9 days" in listing.stdout
    assert "Connection refused" in listing.stdout
    status = certkeeper(cfg, "status")
    assert "1 notice(s) waiting in the outbox" in status.stdout

    saved = tmp_path / "saved.json"
    shutil.copy(cfg.parent / "state" / "outbox" / spooled, saved)
    server = SMTPServer(Catcher(), port=port).start()
    try:
        again = certkeeper(cfg, "check", "--no-jitter")
        assert again.returncode == 0, again.stderr
        assert f"delivered waiting notice {spooled.removesuffix('.json')}" in again.stdout
        assert outbox_files(cfg) == []
        # A crash after sending but before removing the file leaves it behind:
        shutil.copy(saved, cfg.parent / "state" / "outbox" / spooled)
        flushed = certkeeper(cfg, "notify", "flush")
        assert flushed.returncode == 0
        third = certkeeper(cfg, "check", "--no-jitter")
        assert third.returncode == 0
    finally:
        server.stop()
    assert outbox_files(cfg) == []
    [msg] = server.catcher.messages
    assert msg["Subject"] == "[WARNING] testhost \u2013 Certificate expires in 9 days"
    assert msg["From"] == "ops@example.com"


def test_rejected_recipient_is_kept_and_reported(tmp_path: Path, expiring_site: SNIServer) -> None:
    server = SMTPServer(Catcher(reject=(BOARD,))).start()
    try:
        cfg = monitor_config(tmp_path, expiring_site, server.port)
        proc = certkeeper(cfg, "check", "--no-jitter")
        flush = certkeeper(cfg, "notify", "flush")
    finally:
        server.stop()
    assert proc.returncode == 1
    assert "REJECTED, kept in the outbox" in proc.stderr
    assert "550 5.1.1" in proc.stderr
    assert flush.returncode == 1
    assert len(outbox_files(cfg)) == 1
    listing = certkeeper(cfg, "notify", "outbox")
    assert "last attempt: RCPT TO:<board+abc@boards.example.com> refused: 550" in listing.stdout
    assert server.catcher.raw == []


def test_stalled_server_times_out_and_spools(
    tmp_path: Path, expiring_site: SNIServer, blackhole: Blackhole
) -> None:
    cfg = monitor_config(tmp_path, expiring_site, blackhole.port, timeout_seconds=1)
    started = time.monotonic()
    proc = certkeeper(cfg, "check", "--no-jitter")
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert f"no answer from 127.0.0.1:{blackhole.port} within 1s" in proc.stderr
    assert len(outbox_files(cfg)) == 1
    assert elapsed < 8


def test_warning_is_sent_once_per_threshold(tmp_path: Path, expiring_site: SNIServer) -> None:
    server = SMTPServer(Catcher()).start()
    try:
        cfg = monitor_config(tmp_path, expiring_site, server.port)
        first = certkeeper(cfg, "check", "--no-jitter")
        second = certkeeper(cfg, "check", "--no-jitter")
    finally:
        server.stop()
    assert first.returncode == 0 and second.returncode == 0
    assert first.stdout.strip() == "manual: expires in 9 days; warning sent"
    assert second.stdout == "" and second.stderr == ""
    assert len(server.catcher.messages) == 1
