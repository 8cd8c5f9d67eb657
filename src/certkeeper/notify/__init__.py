"""Notices to the team: compose (pure), spool to the outbox, deliver over SMTP."""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from certkeeper.config import Config
from certkeeper.value import Record

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


class Trial(NamedTuple):
    """`notify test`: delivered or not, and the SMTP exchange to show either way.

    A tuple, so `ok, transcript = ...` keeps working for doctor's --send-test.
    """

    ok: bool
    transcript: list[str]


def send_test(cfg: Config, now: datetime) -> Trial:
    """Send a test notice straight away, not through the outbox: the point is to see the
    SMTP exchange now, and a test must never wait behind (or be retried with) real notices."""
    from certkeeper.notify.compose import TestNotice, compose
    from certkeeper.notify.events import new_nonce
    from certkeeper.notify.smtp import send

    to = cfg.notify.to
    if to is None:
        return Trial(
            False, [f"{cfg.path}: notify.to is not set: expected the Trello board's address"]
        )
    notice = TestNotice(hostname=cfg.hostname, at=now, nonce=new_nonce())
    try:
        msg = compose(notice, hostname=cfg.hostname, sender=sender(cfg), to=to)
    except ValueError as exc:
        # compose refuses a header it cannot write safely; say so instead of a traceback.
        return Trial(False, [f"the test notice cannot be written: {exc}"])
    outcome = send(cfg.notify.smtp, msg.as_bytes(), sender(cfg), [to])
    return Trial(outcome.ok, outcome.transcript)


class Flushed(Record):
    """What one delivery attempt of the whole outbox came to."""

    delivered: list[str] = field(default_factory=list)
    # (event id, the server's reason, permanent: REJECTED rather than not delivered yet)
    undelivered: list[tuple[str, str, bool]] = field(default_factory=list)
    # The attempt itself broke (not one notice's trouble): the reason, for a person.
    broken: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.undelivered or self.broken else 0


def deliver(cfg: Config, state: State, now: datetime) -> Flushed:
    """One attempt at the whole outbox. Call with the host lock held.

    Isolated: whatever goes wrong here comes back as `broken`, never as an exception
    that would cost the caller its state (check calls this after its renewals)."""
    from certkeeper.log import get_logger
    from certkeeper.notify import outbox

    to = cfg.notify.to
    if to is None or outbox.count(cfg.state_dir) == 0:
        return Flushed()
    try:
        report = outbox.flush(cfg.state_dir, cfg.notify.smtp, state, now, sender(cfg), to)
    except Exception as exc:  # isolation is the point: see the docstring
        get_logger().exception("outbox.flush_failed", error=repr(exc)[:300])
        return Flushed(broken=f"{type(exc).__name__}: {exc}")
    return Flushed(delivered=list(report.sent), undelivered=list(report.failed))
