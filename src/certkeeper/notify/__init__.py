"""Notices to the team: compose (pure), spool to the outbox, deliver through each channel.

One path for every command: `spool` writes an event's notice to the outbox, `deliver`
makes one attempt at the whole outbox (delivery.py), and `Flushed` says what it came to.
`send_test` sends a test notice straight through every channel, past the outbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from certkeeper.config import Config
from certkeeper.value import Record, field

if TYPE_CHECKING:
    from certkeeper.notify.events import Event
    from certkeeper.state import State

NO_CHANNEL = (
    "notify.to is not set: expected the Trello board's address (or notify.webhook.url_file)"
)


def sender(cfg: Config) -> str:
    return cfg.notify.sender or f"certkeeper@{cfg.hostname}"


def spool(cfg: Config, event: Event) -> str | None:
    """Write one event's notice to the outbox for every configured channel; a problem
    line when that cannot be done.

    A notice that cannot be spooled (disk full, the outbox not a directory) is said on
    stderr and in syslog and fails the run: it is never lost in silence.
    """

    from certkeeper.log import get_logger
    from certkeeper.notify import channels, outbox
    from certkeeper.notify.compose import event_id, notice

    log = get_logger()
    eid = event_id(event)
    names = channels.enabled(cfg.notify)
    if not names:
        log.warning("notice.not_sent", reason="no channel is configured", notice=eid)
        return None
    try:
        card = notice(event, cfg.hostname).replace(channels=dict.fromkeys(names))
        outbox.spool(cfg.state_dir, card)
    except (OSError, ValueError) as exc:
        problem = f"notice {eid} could not be written to the outbox, so it was NOT sent: {exc}"
        log.error("notice.lost", notice=eid, error=str(exc))
        return problem
    log.info("notice.spooled", notice=eid, subject=card.subject, channels=",".join(names))
    return None


def told(cfg: Config, state: State, nonce: str) -> bool:
    """Has a notice carrying this intent's nonce been spooled or delivered already?"""
    from certkeeper.notify import outbox

    suffix = f".{nonce}"
    if any(eid.endswith(suffix) for eid in state.delivered):
        return True
    folder = outbox.outbox_dir(cfg.state_dir)
    names = tuple(suffix + end for end in (outbox.SUFFIX, outbox.LEGACY, outbox.LEGACY_SENT))
    try:
        return any(p.name.endswith(names) for p in folder.iterdir())
    except OSError:
        return False


class Flushed(Record):
    """What one delivery attempt of the whole outbox came to."""

    delivered: list[str] = field(default_factory=list)
    # (event id, the channel's reason, permanent: REJECTED rather than not delivered yet)
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

    if outbox.count(cfg.state_dir) == 0 and not outbox.legacy_sent(cfg.state_dir):
        return Flushed()
    from certkeeper.notify.delivery import flush

    try:
        return flush(cfg, state, now)
    except Exception as exc:  # isolation is the point: see the docstring
        get_logger().exception("outbox.flush_failed", error=repr(exc)[:300])
        return Flushed(broken=f"{type(exc).__name__}: {exc}")


class Trial(NamedTuple):
    """`notify test`: delivered or not, and each channel's exchange to show either way.

    A tuple, so `ok, transcript = ...` keeps working for doctor's --send-test.
    """

    ok: bool
    transcript: list[str]


def send_test(cfg: Config, now: datetime) -> Trial:
    """Send a test notice through every channel straight away, not through the outbox: the
    point is to see the exchanges now, and a test must never wait behind (or be retried
    with) real notices."""
    import functools

    from certkeeper.notify import channels
    from certkeeper.notify.compose import TestNotice, notice
    from certkeeper.notify.events import new_nonce

    names = channels.enabled(cfg.notify)
    if not names:
        return Trial(False, [f"{cfg.path}: {NO_CHANNEL}"])
    card = notice(TestNotice(hostname=cfg.hostname, at=now, nonce=new_nonce()), cfg.hostname)
    ok, transcript = True, []
    for name in names:
        way = channels.channel(name)
        outcome = channels.guarded(name, functools.partial(way.deliver, cfg, card))
        transcript += outcome.transcript or [outcome.detail]
        ok = ok and outcome.ok
    return Trial(ok, transcript)
