"""Notices to the team: compose (pure), spool to the outbox, deliver over SMTP."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from certkeeper.config import Config

if TYPE_CHECKING:
    from certkeeper.notify.events import Event
    from certkeeper.notify.outbox import FlushReport
    from certkeeper.state import State


def sender(cfg: Config) -> str:
    return cfg.notify.sender or f"certkeeper@{cfg.hostname}"


def announce(cfg: Config, state: State, events: list[Event], now: datetime) -> FlushReport:
    """Spool every event's notice, then deliver the whole outbox."""
    from certkeeper.log import get_logger
    from certkeeper.notify import outbox
    from certkeeper.notify.compose import compose, event_id

    log = get_logger()
    if cfg.notify.to is None:
        for event in events:
            log.warning("notice.not_sent", reason="notify.to is not set", notice=event_id(event))
        return outbox.FlushReport()
    for event in events:
        msg = compose(event, hostname=cfg.hostname, sender=sender(cfg), to=cfg.notify.to)
        outbox.spool(cfg.state_dir, event_id(event), msg.as_bytes())
        log.info("notice.spooled", notice=event_id(event), subject=str(msg["Subject"]))
    report = outbox.flush(cfg.state_dir, cfg.notify.smtp, state, now)
    for eid in report.sent:
        log.info("notice.delivered", notice=eid)
    for eid, reason, permanent in report.failed:
        log.warning("notice.waiting", notice=eid, reason=reason, permanent=permanent)
    return report
