"""`certkeeper notify test|flush|outbox`: the way from the outbox to the team's board.

Each function takes a loaded Config and returns a value; cli.py and render.py say it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from certkeeper.config import Config
from certkeeper.log import get_logger

if TYPE_CHECKING:
    from certkeeper.state import State


class Trial(NamedTuple):
    """`notify test`: delivered or not, and the SMTP exchange to show either way.

    A tuple, so `ok, transcript = ...` keeps working for doctor's --send-test.
    """

    ok: bool
    transcript: list[str]


@dataclass
class Flushed:
    """What one delivery attempt of the whole outbox came to."""

    delivered: list[str] = field(default_factory=list)
    # (event id, the server's reason, permanent: REJECTED rather than not delivered yet)
    undelivered: list[tuple[str, str, bool]] = field(default_factory=list)
    # The attempt itself broke (not one notice's trouble): the reason, for a person.
    broken: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.undelivered or self.broken else 0


@dataclass
class Waiting:
    event_id: str
    subject: str
    last_error: str | None


@dataclass
class OutboxView:
    waiting: list[Waiting]
    # (file, why) for each outbox file set aside because it could not be read.
    quarantined: list[tuple[str, str]]

    @property
    def exit_code(self) -> int:
        # A quarantined file is a notice nobody will get until a person looks.
        return 1 if self.quarantined else 0


def send_test(cfg: Config, now: datetime) -> Trial:
    """Send a test notice straight away, not through the outbox: the point is to see the
    SMTP exchange now, and a test must never wait behind (or be retried with) real notices."""
    from certkeeper.notify import sender
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


def flush(cfg: Config, now: datetime) -> Flushed:
    """Deliver what waits in the outbox, under the host lock (check does the same)."""
    from certkeeper import state as state_mod
    from certkeeper.lock import host_lock
    from certkeeper.trust import require_private_state

    require_private_state(cfg)
    with host_lock(cfg.lock_file, cfg.lock_timeout_seconds):
        state = state_mod.load(cfg.state_dir, now)
        result = deliver(cfg, state, now)
        state.save(now)
    return result


def deliver(cfg: Config, state: State, now: datetime) -> Flushed:
    """One attempt at the whole outbox. Call with the host lock held.

    Isolated: whatever goes wrong here comes back as `broken`, never as an exception
    that would cost the caller its state (check calls this after its renewals)."""
    from certkeeper.notify import outbox, sender

    to = cfg.notify.to
    if to is None or outbox.count(cfg.state_dir) == 0:
        return Flushed()
    try:
        report = outbox.flush(cfg.state_dir, cfg.notify.smtp, state, now, sender(cfg), to)
    except Exception as exc:  # isolation is the point: see the docstring
        get_logger().exception("outbox.flush_failed", error=repr(exc)[:300])
        return Flushed(broken=f"{type(exc).__name__}: {exc}")
    return Flushed(delivered=list(report.sent), undelivered=list(report.failed))


def outbox(cfg: Config, now: datetime) -> OutboxView:
    """Every waiting notice with its last delivery error, and what was set aside."""
    from certkeeper import state as state_mod
    from certkeeper.notify import outbox as box
    from certkeeper.trust import require_private_state

    require_private_state(cfg)
    state = state_mod.load(cfg.state_dir, now, repair=False)
    waiting = [
        Waiting(p.event_id, p.subject, state.outbox_errors.get(p.event_id))
        for p in box.pending(cfg.state_dir)
    ]
    # Read after pending(): it quarantines what it cannot read on the way.
    set_aside = [(str(path), why) for path, why in box.quarantined(cfg.state_dir)]
    return OutboxView(waiting, set_aside)
