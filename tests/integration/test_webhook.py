"""The webhook channel against a real HTTP receiver on loopback, beside a real SMTP sink:
each notice reaches each channel exactly once, whatever the other does, and no secret of
the URL or headers shows anywhere."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from certkeeper import config
from certkeeper.actions.doctor.base import Options
from certkeeper.actions.doctor.notify import check_notify
from certkeeper.notify import spool
from certkeeper.notify.compose import compose, subject
from certkeeper.notify.events import Expiring
from support.run import certkeeper, service, write_config
from support.smtp import Catcher, SMTPServer, free_port
from support.tls import SNIServer, leaf
from support.webhook import Receiver

BOARD = "board+abc@boards.example.com"
# Each part of the URL and headers a person must never see again once it is in its file.
SECRETS = ("SECRETUSER", "SECRETPASS", "SECRETPATH", "SECRETQUERY", "SECRETHEADER")


@pytest.fixture
def expiring_site(ca: trustme.CA) -> Iterator[SNIServer]:
    """A hand-managed certificate 9 days from expiry: `check` warns about it."""
    server = SNIServer({}, default=leaf(ca, "manual.example.com", days_left=9.5)).start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer(Catcher()).start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Not started: a test starts it when the receiver is to be up."""
    hook = Receiver(free_port())
    yield hook
    hook.stop()


def private(path: Path, text: str, mode: int = 0o600) -> str:
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


def setup(tmp: Path, site: SNIServer, smtp_port: int, hook_port: int) -> Path:
    url = f"http://SECRETUSER:SECRETPASS@127.0.0.1:{hook_port}/hooks/SECRETPATH?t=SECRETQUERY\n"
    return write_config(
        tmp,
        {"manual": service("manual", "manual.example.com", enabled=False)},
        probe={"port": site.port},
        notify={
            "to": BOARD,
            "from": "ops@example.com",
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "timeout_seconds": 20},
            "webhook": {
                "url_file": private(tmp / "webhook-url", url),
                "headers_file": private(tmp / "webhook-headers", "X-Token: SECRETHEADER\n"),
                "timeout_seconds": 1,
            },
        },
    )


class Runs:
    """Every certkeeper run of a test, so that none of its output holds a secret."""

    def __init__(self, cfg: Path) -> None:
        self.cfg = cfg
        self.seen: list[str] = []

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = certkeeper(self.cfg, "--verbose", *args)
        self.seen += [proc.stdout, proc.stderr]
        assert "Traceback" not in proc.stderr
        return proc

    def assert_no_secret(self) -> None:
        for out in self.seen:
            for secret in SECRETS:
                assert secret not in out, out


def another_warning(cfg: Path, days: int) -> str:
    """Spool one more notice, as check would, and return its subject."""
    now = datetime.now(UTC)
    event = Expiring(
        cert_name="manual",
        domains=("manual.example.com",),
        at=now,
        expiry=now + timedelta(days=days, hours=1),
        threshold=days,
        monitor_only=True,
    )
    loaded = config.load(cfg)
    assert spool(loaded, event) is None
    return subject(event, "testhost")


def subjects(server: SMTPServer) -> list[str]:
    return [str(m["Subject"]) for m in server.catcher.messages]


def outbox_files(cfg: Path) -> list[str]:
    folder = cfg.parent / "state" / "outbox"
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def test_down_up_500_and_slow_each_notice_reaches_each_channel_once(
    tmp_path: Path, expiring_site: SNIServer, smtp: SMTPServer, receiver: Receiver
) -> None:
    cfg = setup(tmp_path, expiring_site, smtp.port, receiver.port)
    run = Runs(cfg)
    shown = f"http://127.0.0.1:{receiver.port}/***"
    # Down: the e-mail goes, the webhook's copy waits.
    down = run("check", "--no-jitter")
    assert down.returncode == 1
    assert f"not delivered, kept in the outbox: webhook: cannot reach {shown}" in down.stderr
    first = "[WARNING] testhost \u2013 Certificate expires in 9 days"
    assert subjects(smtp) == [first]
    assert len(outbox_files(cfg)) == 1
    assert f"last attempt: webhook: cannot reach {shown}" in run("notify", "outbox").stdout
    # Up: the webhook gets it, the board does not get it again.
    receiver.start()
    up = run("notify", "flush")
    assert up.returncode == 0, up.stderr
    assert up.stdout.startswith("delivered waiting notice manual.warning14.")
    [(path, headers, doc)] = receiver.received
    assert path == "/hooks/SECRETPATH?t=SECRETQUERY"
    assert headers["X-Token"] == "SECRETHEADER"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Authorization"].startswith("Basic ")
    assert doc["subject"] == first and doc["text"].startswith(first + "\n\n")
    assert "Certificate for manual.example.com expires in 9 days." in doc["text"]
    assert (doc["kind"], doc["host"], doc["cert_name"]) == ("warning14", "testhost", "manual")
    assert doc["domains"] == ["manual.example.com"]
    assert run("notify", "flush").stdout == "the outbox is empty\n"
    assert outbox_files(cfg) == []
    broken_then_slow_then_back(run, smtp, receiver, first)
    run.assert_no_secret()


def broken_then_slow_then_back(run: Runs, smtp: SMTPServer, receiver: Receiver, first: str) -> None:
    """The next notice meets a receiver that fails, then one too slow, then a good one."""
    cfg, shown = run.cfg, f"http://127.0.0.1:{receiver.port}/***"
    # A 500: the receiver is broken; the e-mail of the next notice still goes, once.
    second = another_warning(cfg, 7)
    receiver.mode = "error"
    broken = run("notify", "flush")
    assert broken.returncode == 1
    assert f"webhook: HTTP 500 Internal Server Error from {shown}: upstream broke" in broken.stderr
    assert subjects(smtp) == [first, second]
    # Slow past the deadline: given up within it, the notice kept, no e-mail again.
    receiver.mode = "slow"
    started = time.monotonic()
    slow = run("notify", "flush")
    assert time.monotonic() - started < receiver.delay
    assert slow.returncode == 1
    assert f"webhook: no answer from {shown} within 1s" in slow.stderr
    assert subjects(smtp) == [first, second]
    # Back: delivered once, and never again.
    receiver.mode = "ok"
    assert run("notify", "flush").returncode == 0
    assert run("check", "--no-jitter").returncode == 0
    assert [doc["subject"] for _, _, doc in receiver.received] == [first, second]
    assert subjects(smtp) == [first, second]
    assert outbox_files(cfg) == []


def test_a_receiver_that_drips_its_headers_is_cut_off_at_the_deadline(
    tmp_path: Path, expiring_site: SNIServer, smtp: SMTPServer, receiver: Receiver
) -> None:
    cfg = setup(tmp_path, expiring_site, smtp.port, receiver.port)
    run = Runs(cfg)
    title = another_warning(cfg, 7)
    receiver.mode = "drip"
    receiver.start()
    started = time.monotonic()
    dripped = run("notify", "flush")
    elapsed = time.monotonic() - started
    assert dripped.returncode == 1
    assert f"webhook: no answer from http://127.0.0.1:{receiver.port}/*** within 1s" in (
        dripped.stderr
    )
    # The deadline is 1 s; the margin is for a machine busy with other tests.
    assert receiver.attempts == 1 and elapsed < 6, elapsed
    assert subjects(smtp) == [title]
    receiver.mode = "ok"
    assert run("notify", "flush").returncode == 0
    assert [doc["subject"] for _, _, doc in receiver.received] == [title]
    assert subjects(smtp) == [title]
    run.assert_no_secret()


def test_a_refusing_receiver_is_rejected_and_the_notice_kept(
    tmp_path: Path, expiring_site: SNIServer, smtp: SMTPServer, receiver: Receiver
) -> None:
    cfg = setup(tmp_path, expiring_site, smtp.port, receiver.port)
    run = Runs(cfg)
    receiver.mode = "reject"
    receiver.start()
    proc = run("check", "--no-jitter")
    assert proc.returncode == 1
    assert "REJECTED, kept in the outbox: webhook: HTTP 403 Forbidden" in proc.stderr
    assert len(outbox_files(cfg)) == 1 and len(smtp.catcher.messages) == 1
    run.assert_no_secret()


def test_an_email_an_earlier_release_spooled_is_delivered_once(
    tmp_path: Path, expiring_site: SNIServer, smtp: SMTPServer, receiver: Receiver
) -> None:
    """An upgrade finds 0.1.0's outbox: `<event id>.eml`, the e-mail's bytes, 0600."""
    cfg = setup(tmp_path, expiring_site, smtp.port, receiver.port)
    receiver.start()
    run = Runs(cfg)
    at = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    event = Expiring("shop", ("shop.example.com",), at, at + timedelta(days=7), 7, False)
    data = compose(event, hostname="oldhost", sender="ops@example.com", to=BOARD).as_bytes()
    folder = cfg.parent / "state" / "outbox"
    folder.mkdir(parents=True, mode=0o700)
    planted = folder / "shop.warning7.20261207T030000Z.eml"
    planted.write_bytes(data)
    os.chmod(planted, 0o600)
    assert run("notify", "outbox").stdout.startswith(
        "shop.warning7.20261207T030000Z  [WARNING] oldhost"
    )
    first = run("notify", "flush")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "delivered waiting notice shop.warning7.20261207T030000Z\n"
    assert run("notify", "flush").stdout == "the outbox is empty\n"
    assert outbox_files(cfg) == []
    # Exactly the bytes it left, once, to the board; the webhook did not exist then.
    assert smtp.catcher.raw[0].replace(b"\r\n", b"\n") == data.replace(b"\r\n", b"\n")
    assert len(smtp.catcher.raw) == 1
    assert receiver.received == []


def test_a_notice_accepted_before_a_kill_is_not_sent_again(
    tmp_path: Path, expiring_site: SNIServer, smtp: SMTPServer, receiver: Receiver
) -> None:
    """A run killed just after the SMTP server's 250 left its marker, and no record."""
    cfg = setup(tmp_path, expiring_site, smtp.port, receiver.port)
    title = another_warning(cfg, 7)
    [name] = outbox_files(cfg)
    (cfg.parent / "state" / "outbox" / name.replace(".json", ".smtp.done")).touch()
    receiver.start()
    assert Runs(cfg)("notify", "flush").returncode == 0
    assert smtp.catcher.raw == []
    assert [doc["subject"] for _, _, doc in receiver.received] == [title]
    assert outbox_files(cfg) == []


def test_notify_test_and_doctor_cover_the_webhook(
    tmp_path: Path, expiring_site: SNIServer, smtp: SMTPServer, receiver: Receiver
) -> None:
    cfg = setup(tmp_path, expiring_site, smtp.port, receiver.port)
    run = Runs(cfg)
    shown = f"http://127.0.0.1:{receiver.port}/***"
    down = run("notify", "test")
    assert down.returncode == 1
    assert "DATA: 250" in down.stderr and f"webhook: failed: webhook: cannot reach {shown}" in (
        down.stderr
    )
    doctor_down = check_notify(config.load(cfg), Options())
    assert not doctor_down.ok
    assert f"webhook POST to {shown}: cannot reach {shown}" in doctor_down.finding
    receiver.start()
    up = run("notify", "test")
    assert up.returncode == 0, up.stderr
    assert f"webhook: POST {shown}" in up.stdout and "webhook: HTTP 200 OK" in up.stdout
    [(_, _, doc)] = receiver.received
    assert (doc["kind"], doc["subject"]) == (
        "test",
        "[TEST] testhost \u2013 certkeeper notification test",
    )
    doctor_up = check_notify(config.load(cfg), Options(send_test=True))
    assert doctor_up.ok, doctor_up.finding
    assert f"webhook POST to {shown} takes a connection" in doctor_up.finding
    assert "webhook: delivered: webhook: HTTP 200 OK" in doctor_up.finding
    assert len(receiver.received) == 2 and outbox_files(cfg) == []
    findings = [doctor_down.finding, doctor_down.fix, doctor_up.finding]
    run.seen += [*findings, run("config", "show").stdout, run("status").stdout]
    run.assert_no_secret()


def test_a_url_file_others_can_read_is_never_used_and_the_notice_waits(
    tmp_path: Path, expiring_site: SNIServer, smtp: SMTPServer, receiver: Receiver
) -> None:
    """A mail-side mistake never stops the job: validate warns and exits 0, the e-mail goes,
    and the webhook's copy waits unread until the file is private again."""
    cfg = setup(tmp_path, expiring_site, smtp.port, receiver.port)
    receiver.start()
    os.chmod(tmp_path / "webhook-url", 0o640)
    run = Runs(cfg)
    proc = run("config", "validate")
    assert proc.returncode == 0, proc.stderr
    assert (
        f"WARNING: {cfg}: notify.webhook.url_file = '{tmp_path / 'webhook-url'}': expected a"
        " file only its owner can read" in proc.stderr
    )
    held = run("check", "--no-jitter")
    assert held.returncode == 1
    assert receiver.received == []
    assert subjects(smtp) == ["[WARNING] testhost \u2013 Certificate expires in 9 days"]
    assert len(outbox_files(cfg)) == 1
    os.chmod(tmp_path / "webhook-url", 0o600)
    assert run("notify", "flush").returncode == 0
    assert len(receiver.received) == 1
    assert len(subjects(smtp)) == 1
    run.assert_no_secret()
