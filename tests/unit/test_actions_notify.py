"""actions/notify.py: notify test, flush and outbox as values, over real SMTP (aiosmtpd on
loopback) and a real outbox on disk."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from certkeeper import config, render
from certkeeper import state as state_mod
from certkeeper.actions import notify
from certkeeper.config import Config
from certkeeper.config.model import WebhookSettings
from certkeeper.notify import spool as spool_notice
from certkeeper.notify.channels import webhook
from certkeeper.notify.events import Expiring
from certkeeper.notify.outbox import outbox_dir, quarantined
from support.run import service, write_config
from support.smtp import Catcher, SMTPServer, free_port

BOARD = "board+abc@boards.example.com"
NOW = datetime(2026, 11, 30, 6, 0, 0, tzinfo=UTC)


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer(Catcher(reject=("rejected@boards.example.com",))).start()
    yield server
    server.stop()


def load(tmp: Path, port: int, to: str | None = BOARD) -> Config:
    notify_doc: dict[str, object] = {
        "from": "ops@example.com",
        "smtp": {"host": "127.0.0.1", "port": port, "timeout_seconds": 2},
    }
    if to is not None:
        notify_doc["to"] = to
    return config.load(
        write_config(tmp, {"shop": service("shop", "shop.example.com")}, notify=notify_doc)
    )


def warning(days: int) -> Expiring:
    return Expiring(
        cert_name="shop",
        domains=("shop.example.com",),
        at=NOW,
        expiry=NOW + timedelta(days=days),
        threshold=days,
        monitor_only=False,
        failures=2,
    )


def spool(cfg: Config, *events: Expiring) -> None:
    for event in events:
        assert spool_notice(cfg, event) is None


# ------------------------------------------------------------------- notify test


def test_the_test_notice_is_composed_like_every_other_notice(
    tmp_path: Path, smtp: SMTPServer
) -> None:
    result = notify.send_test(load(tmp_path, smtp.port), NOW)
    assert result.ok, result.transcript
    assert any(line.startswith("DATA: 250") for line in result.transcript)
    [msg] = smtp.catcher.messages
    assert msg["Subject"] == "[TEST] testhost \u2013 certkeeper notification test"
    assert (msg["From"], msg["To"]) == ("ops@example.com", BOARD)
    assert msg["Date"] == format_datetime(NOW)
    # compose's Message-ID: the test notice's id, at the host's certkeeper domain.
    assert msg["Message-ID"].startswith("<test.20261130T060000Z.")
    assert msg["Message-ID"].endswith("@testhost.certkeeper>")
    assert msg.get_content().splitlines() == [
        "This is a test notice from certkeeper on testhost.",
        "If it arrived as a card on the board, notices work.",
    ]
    # Sent straight away: nothing went through the outbox.
    assert not outbox_dir(tmp_path / "state").exists()


def test_a_refused_test_notice_shows_the_servers_reply(tmp_path: Path, smtp: SMTPServer) -> None:
    result = notify.send_test(load(tmp_path, smtp.port, "rejected@boards.example.com"), NOW)
    assert not result.ok
    assert any("550" in line for line in result.transcript)
    assert smtp.catcher.messages == []


def test_no_board_address_is_said_and_nothing_is_sent(tmp_path: Path, smtp: SMTPServer) -> None:
    ok, transcript = notify.send_test(load(tmp_path, smtp.port, to=None), NOW)
    assert not ok
    assert "notify.to is not set" in transcript[0]
    assert smtp.catcher.messages == []


# ------------------------------------------------------------------------ flush


def test_flush_delivers_every_waiting_notice_once(tmp_path: Path, smtp: SMTPServer) -> None:
    cfg = load(tmp_path, smtp.port)
    spool(cfg, warning(7), warning(3))
    result = notify.flush(cfg, NOW)
    assert sorted(result.delivered) == [
        "shop.warning3.20261203T060000Z",
        "shop.warning7.20261207T060000Z",
    ]
    assert (result.undelivered, result.broken, result.exit_code) == ([], None, 0)
    assert sorted(str(m["Subject"]) for m in smtp.catcher.messages) == [
        "[WARNING] testhost \u2013 Certificate expires in 3 days",
        "[WARNING] testhost \u2013 Certificate expires in 7 days",
    ]
    assert set(state_mod.load(cfg.state_dir, NOW).delivered) == set(result.delivered)
    # Nothing left: the next flush delivers nothing and says the outbox is empty.
    again = notify.flush(cfg, NOW)
    assert again == notify.Flushed()
    assert render.flushed(again) == (["the outbox is empty"], [])
    assert len(smtp.catcher.messages) == 2


def test_a_dead_server_keeps_the_notice_and_the_reason(tmp_path: Path) -> None:
    cfg = load(tmp_path, free_port())  # nothing listens there
    spool(cfg, warning(7))
    result = notify.flush(cfg, NOW)
    assert result.delivered == []
    [(eid, reason, permanent)] = result.undelivered
    assert (eid, permanent) == ("shop.warning7.20261207T060000Z", False)
    assert result.exit_code == 1
    lines, problems = render.flushed(result)
    assert lines == []
    assert problems == [f"notice {eid} not delivered, kept in the outbox: {reason}"]
    # outbox shows it, with the reason of the last attempt.
    view = notify.outbox(cfg, NOW)
    assert [(w.event_id, w.last_error) for w in view.waiting] == [(eid, reason)]
    assert view.exit_code == 0


def test_without_a_board_address_nothing_is_attempted(tmp_path: Path, smtp: SMTPServer) -> None:
    with_board = load(tmp_path, smtp.port)
    spool(with_board, warning(7))
    result = notify.flush(load(tmp_path, smtp.port, to=None), NOW)
    assert result == notify.Flushed()
    assert smtp.catcher.messages == []
    assert len(notify.outbox(with_board, NOW).waiting) == 1


# ----------------------------------------------------------------------- outbox


def test_outbox_sets_an_unreadable_file_aside_and_fails(tmp_path: Path, smtp: SMTPServer) -> None:
    cfg = load(tmp_path, smtp.port)
    spool(cfg, warning(7))
    (outbox_dir(cfg.state_dir) / "planted.eml").write_bytes(b"no headers at all\n")
    view = notify.outbox(cfg, NOW)
    assert [(w.event_id, w.subject, w.last_error) for w in view.waiting] == [
        (
            "shop.warning7.20261207T060000Z",
            "[WARNING] testhost \u2013 Certificate expires in 7 days",
            None,
        )
    ]
    [(path, why)] = view.quarantined
    assert path.endswith("quarantine/planted.eml") and "not a notice" in why
    assert view.exit_code == 1
    assert [str(p) for p, _ in quarantined(cfg.state_dir)] == [path]
    assert render.outbox(view)[-1] == (f"QUARANTINED {path}: {why} (kept for a person; not sent)")


def test_an_empty_outbox_says_so(tmp_path: Path, smtp: SMTPServer) -> None:
    view = notify.outbox(load(tmp_path, smtp.port), NOW)
    assert view == notify.OutboxView([], [])
    assert render.outbox(view) == ["the outbox is empty"]


# ------------------------------------------------------------- the stored notice


def test_the_outbox_keeps_a_neutral_notice_with_its_channels(
    tmp_path: Path, smtp: SMTPServer
) -> None:
    cfg = load(tmp_path, smtp.port)
    spool(cfg, warning(7))
    [path] = outbox_dir(cfg.state_dir).glob("*.json")
    assert path.stat().st_mode & 0o777 == 0o600
    doc = json.loads(path.read_bytes())
    assert doc["event_id"] == path.name.removesuffix(".json")
    assert (doc["kind"], doc["host"], doc["cert_name"]) == ("warning7", "testhost", "shop")
    assert doc["subject"] == "[WARNING] testhost \u2013 Certificate expires in 7 days"
    assert doc["domains"] == ["shop.example.com"]
    assert doc["channels"] == {"smtp": None}  # no webhook configured: e-mail only
    assert doc["body"].startswith("Certificate for shop.example.com expires in 7 days.")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.update(channels={}),
        lambda d: d.update(event_id="other"),
        lambda d: d.update(subject="a\x1b[2Jb"),
        lambda d: d.pop("created"),
    ],
)
def test_a_notice_file_that_is_not_ours_is_quarantined_not_sent(
    tmp_path: Path, smtp: SMTPServer, tamper: Callable[[dict[str, object]], object]
) -> None:
    cfg = load(tmp_path, smtp.port)
    spool(cfg, warning(7))
    [path] = outbox_dir(cfg.state_dir).glob("*.json")
    doc = json.loads(path.read_bytes())
    tamper(doc)
    path.write_text(json.dumps(doc))
    result = notify.flush(cfg, NOW)
    [(_, reason, permanent)] = result.undelivered
    assert reason.startswith("quarantined: not a notice") and permanent
    assert smtp.catcher.messages == []
    assert [p.name for p, _ in quarantined(cfg.state_dir)] == [path.name]


def test_the_webhook_target_masks_every_secret_part(tmp_path: Path) -> None:
    url = tmp_path / "url"
    url.write_text("https://us%65r:p%40ss-word@hooks.example.com:8443/services/T0/B1/XYZ?k=tok3n\n")
    headers = tmp_path / "headers"
    headers.write_text("# a comment\n\nAuthorization: Bearer abc.def\n")
    target = webhook.load(WebhookSettings(url, headers, 5.0))
    assert target.shown == "https://hooks.example.com:8443/***"
    assert (target.host, target.port, target.tls) == ("hooks.example.com", 8443, True)
    assert target.path == "/services/T0/B1/XYZ?k=tok3n"
    assert target.headers["Authorization"] == "Bearer abc.def"  # the file's, not userinfo's
    said = target.mask(
        f"{url.read_text()} /services/T0/B1/XYZ k=tok3n user p@ss-word Bearer abc.def"
    )
    for secret in ("XYZ", "tok3n", "p@ss-word", "p%40ss-word", "abc.def"):
        assert secret not in said


@pytest.mark.parametrize(
    ("url", "headers", "expected"),
    [
        ("ftp://hooks.example.com/x", "", "expected an http:// or https:// URL"),
        ("https://hooks.example.com:99999/x", "", "expected an http:// or https:// URL"),
        ("https://a.example/x https://b.example/y", "", "expected one URL on one line"),
        ("https://hooks.example.com/x", "Host: evil.example", "Host is set by certkeeper"),
        ("https://hooks.example.com/x", "Bad Name: v", "expected `Name: value`"),
        ("https://hooks.example.com/caf\u00e9", "", "expected an ASCII URL"),
        ("https://hooks.example.com/x", "X-Token: caf\u00e9", "expected an ASCII value"),
    ],
)
def test_a_bad_webhook_file_is_said_without_its_secret(
    tmp_path: Path, url: str, headers: str, expected: str
) -> None:
    (tmp_path / "url").write_text(url)
    (tmp_path / "headers").write_text(headers)
    with pytest.raises(webhook.BadWebhook) as caught:
        webhook.load(WebhookSettings(tmp_path / "url", tmp_path / "headers", 5.0))
    assert expected in str(caught.value)
    assert "/x" not in str(caught.value) and "evil" not in str(caught.value)
