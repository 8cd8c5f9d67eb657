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


def spool_event(cfg: Config, event: Event) -> str | None:
    """Write one event's notice to the outbox; a problem line when that cannot be done.

    A notice that cannot be spooled (disk full, the outbox not a directory) is said on
    stderr and in syslog and fails the run: it is never lost in silence.
    """
    from certkeeper.log import get_logger
    from certkeeper.notify import outbox
    from certkeeper.notify.compose import compose, event_id

    log = get_logger()
    eid = event_id(event)
    if cfg.notify.to is None:
        log.warning("notice.not_sent", reason="notify.to is not set", notice=eid)
        return None
    try:
        msg = compose(event, hostname=cfg.hostname, sender=sender(cfg), to=cfg.notify.to)
        outbox.spool(cfg.state_dir, eid, msg.as_bytes())
    except (OSError, ValueError) as exc:
        problem = f"notice {eid} could not be written to the outbox, so it was NOT sent: {exc}"
        log.error("notice.lost", notice=eid, error=str(exc))
        return problem
    log.info("notice.spooled", notice=eid, subject=str(msg["Subject"]))
    return None


def told(cfg: Config, state: State, nonce: str) -> bool:
    """Has a notice carrying this intent's nonce been spooled or delivered already?"""
    from certkeeper.notify import outbox

    suffix = f".{nonce}"
    if any(eid.endswith(suffix) for eid in state.delivered):
        return True
    folder = outbox.outbox_dir(cfg.state_dir)
    try:
        return any(
            p.name.endswith((suffix + outbox.SUFFIX, suffix + outbox.SENT))
            for p in folder.iterdir()
        )
    except OSError:
        return False


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
    report = outbox.flush(cfg.state_dir, cfg.notify.smtp, state, now, sender(cfg), cfg.notify.to)
    for eid in report.sent:
        log.info("notice.delivered", notice=eid)
    for eid, reason, permanent in report.failed:
        log.warning("notice.waiting", notice=eid, reason=reason, permanent=permanent)
    return report
