"""`certkeeper rehearse [SERVICE]`: rehearse the renewals now, against the staging server.

What on-call runs after a fix: it ignores the schedule and `rehearsal.enabled`, rehearses
each managed lineage on disk once, records the result (a pass clears the warned cause),
spools the WARNING card a new cause is owed and delivers the outbox. In shadow mode the
card is logged, not spooled, as every other notice there.
"""

from __future__ import annotations

from collections.abc import Callable

from certkeeper.config import Config, select
from certkeeper.errors import ConfigError
from certkeeper.log import get_logger
from certkeeper.notify import Flushed, deliver, spool
from certkeeper.outcomes import Rehearsed
from certkeeper.rehearsal import rehearse_all
from certkeeper.times import now
from certkeeper.trust import require_private_state
from certkeeper.value import Record, field


class RehearseResult(Record):
    outcomes: list[Rehearsed] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    flushed: Flushed = field(default_factory=Flushed)
    shadow: bool = False

    @property
    def exit_code(self) -> int:
        """0: every rehearsal passed; 1: any failed, or a card could not be spooled."""
        return 1 if self.problems or any(not o.ok for o in self.outcomes) else 0


def _quiet(_: str) -> None:
    pass


def rehearse(cfg: Config, only: str | None, tell: Callable[[str], None] = _quiet) -> RehearseResult:
    """Under the host lock, like check: the state it records is the one check reads.
    `tell` hears whom it waits for, before it waits."""
    from certkeeper import state as state_mod
    from certkeeper.lock import host_lock

    services = select(cfg, only)
    if not any(svc.enabled for svc in services):
        raise ConfigError([f"{only or 'this host'}: no certbot_enabled service to rehearse"])
    require_private_state(cfg)
    result = RehearseResult(shadow=cfg.shadow)
    send = None if cfg.shadow else (lambda event: spool(cfg, event))

    def waiting(text: str) -> None:
        get_logger(command="rehearse").info("lock.wait", message=text)
        tell(text)

    with host_lock(cfg.lock_file, cfg.lock_timeout_seconds, "rehearse", waiting):
        state = state_mod.load(cfg.state_dir, now())
        done = rehearse_all(cfg, services, state, now, scheduled=False, send=send)
        result.outcomes, result.problems = list(done.outcomes), list(done.problems)
        if not cfg.shadow:
            result.flushed = deliver(cfg, state, now())
        try:
            state.save(now())
        except OSError as exc:
            result.problems.append(f"cannot save {state.path}: {exc}")
    if not result.outcomes:
        result.problems.append("no certificate to rehearse: none of them exists on disk yet")
    return result
