"""`certkeeper notify test|flush|outbox`: the way from the outbox to the team, every channel.

Each function takes a loaded Config and returns a value; cli.py and render.py say it.
"""

from __future__ import annotations

from datetime import datetime

from certkeeper.config import Config

# `notify test` is the notify package's send_test: doctor --send-test uses it too.
from certkeeper.notify import Flushed as Flushed
from certkeeper.notify import Trial as Trial
from certkeeper.notify import deliver as deliver
from certkeeper.notify import send_test as send_test
from certkeeper.value import Record


class Waiting(Record):
    event_id: str
    subject: str
    last_error: str | None


class OutboxView(Record):
    waiting: list[Waiting]
    # (file, why) for each outbox file set aside because it could not be read.
    quarantined: list[tuple[str, str]]

    @property
    def exit_code(self) -> int:
        # A quarantined file is a notice nobody will get until a person looks.
        return 1 if self.quarantined else 0


def flush(cfg: Config, now: datetime) -> Flushed:
    """Deliver what waits in the outbox, under the host lock (check does the same)."""
    from certkeeper import state as state_mod
    from certkeeper.lock import host_lock
    from certkeeper.trust import require_private_state

    require_private_state(cfg)
    with host_lock(cfg.lock_file, cfg.lock_timeout_seconds, "notify-flush"):
        state = state_mod.load(cfg.state_dir, now)
        result = deliver(cfg, state, now)
        state.save(now)
    return result


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
