"""actions/notify.py: notify test, flush and outbox as values, over real SMTP (aiosmtpd on
loopback) and a real outbox on disk."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from certkeeper import config, render
from certkeeper import state as state_mod
from certkeeper.actions import notify
from certkeeper.config import Config
from certkeeper.notify import spool as spool_event
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
        assert spool_event(cfg, event) is None


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
