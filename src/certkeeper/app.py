"""The commands' work, between the CLI (parsing, rendering) and the modules (one job each).

Each function takes a loaded Config and returns values; the CLI prints them.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from certkeeper.actions import notify as notify_action
from certkeeper.actions import status as status_action
from certkeeper.actions.config import config_warnings as config_warnings  # moved; re-exported
from certkeeper.actions.status import StatusResult
from certkeeper.config import Config, select
from certkeeper.log import get_logger
from certkeeper.times import now

if TYPE_CHECKING:
    from certkeeper import check as checking
    from certkeeper.check import Journal as checking_Journal
    from certkeeper.state import State


# ------------------------------------------------------------------------ status
# `status` lives in actions/status.py now; these names stay importable until the lead
# removes them.


def status(cfg: Config, only: str | None) -> StatusResult:
    return status_action.run(cfg, only, now())


# ------------------------------------------------------------------------- check


@dataclass
class CheckResult:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Said on stderr and in syslog, without failing the run.
    warnings: list[str] = field(default_factory=list)
    exit_code: int = 0


def trusted_dirs(cfg: Config) -> None:
    """Refuse (exit 2) a state, outbox or lock directory that others could write."""
    from certkeeper.notify.outbox import outbox_dir
    from certkeeper.trust import require_private_dirs

    require_private_dirs(cfg.state_dir, outbox_dir(cfg.state_dir), cfg.lock_file)


def unsent_warning(cfg: Config) -> str | None:
    """A host without notify.to renews silently: nobody would hear of an ERROR."""
    if cfg.notify.to is not None:
        return None
    return (
        f"notify.to is not set in {cfg.path}: notices go nowhere, so no SUCCESS, ERROR or "
        "WARNING card reaches the team; set notify.to to the board's address"
    )


def jitter_seconds(cfg: Config, no_jitter: bool, dry_run: bool, interactive: bool) -> float:
    """Cron and timers get the spread-out start; a person at a terminal never waits for it."""
    if no_jitter or dry_run or interactive or cfg.jitter_seconds <= 0:
        return 0.0
    return random.uniform(0, cfg.jitter_seconds)


def check(
    cfg: Config, only: str | None, *, dry_run: bool, force: bool, no_jitter: bool, interactive: bool
) -> CheckResult:
    from certkeeper import check as checking
    from certkeeper import state as state_mod
    from certkeeper.lock import host_lock

    services = select(cfg, only)
    trusted_dirs(cfg)
    result = CheckResult()
    unsent = unsent_warning(cfg)
    if unsent:
        result.warnings.append(unsent)
        get_logger(command="check").warning("notify.unset", message=unsent)
    if dry_run:
        state = state_mod.load(cfg.state_dir, now(), repair=False)
        report = checking.run(cfg, services, state, now, dry_run=True, force=force)
        result.lines = report.lines or ["nothing to do: no certificate is due"]
        return result
    delay = jitter_seconds(cfg, no_jitter, dry_run, interactive)
    if delay:
        get_logger(command="check").info("jitter", seconds=round(delay, 1))
        time.sleep(delay)
    with host_lock(cfg.lock_file, cfg.lock_timeout_seconds):
        state = state_mod.load(cfg.state_dir, now())
        result.problems.extend(state.warnings)
        report = checking.run(
            cfg, services, state, now, dry_run=False, force=force, journal=_journal(cfg, state)
        )
        result.lines.extend(report.lines)
        result.problems.extend(report.problems)
        # After the renewals: notification trouble (a dead relay, a bad password, a
        # broken message) must never stand between a due certificate and certbot.
        from certkeeper.notify.events import event_id

        _flush_outbox(cfg, state, result, fresh={event_id(e) for e in report.events})
        state.check_run = state_mod.CheckRun(now(), success=not result.problems)
        problem = _save(state)
        if problem:
            result.problems.append(problem)
        _write_metrics(cfg, state, report, only, result)
    result.exit_code = 1 if result.problems else 0
    if result.lines or result.problems:
        # A quiet run stays cheap: structlog is only imported when there is news.
        get_logger(command="check").info(
            "check.done",
            exit_code=result.exit_code,
            lines=result.lines,
            problems=result.problems,
        )
    return result


def _save(state: State) -> str | None:
    try:
        state.save(now())
    except OSError as exc:
        get_logger().error("state.not_saved", error=str(exc))
        return f"cannot save {state.path}: {exc}"
    return None


def _journal(cfg: Config, state: State) -> checking_Journal:
    from certkeeper.check import Journal
    from certkeeper.notify import spool_event, told

    return Journal(
        save=lambda: _save(state),
        spool=lambda event: spool_event(cfg, event),
        told=lambda nonce: told(cfg, state, nonce),
    )


def _write_metrics(
    cfg: Config, state: State, report: checking.CheckReport, only: str | None, result: CheckResult
) -> None:
    if cfg.metrics_file is None:
        return
    from certkeeper.actions import metrics

    # A quiet run over every service already saw the world as it still is.
    rows = report.rows if only is None and not report.events else None
    problem = metrics.after_check(cfg, state, now(), rows)
    if problem:
        # Said, not failed: the renewal itself went as reported.
        result.warnings.append(problem)
        get_logger(command="check").warning("metrics.unwritten", message=problem)


def _undelivered(failed: list[tuple[str, str, bool]]) -> list[str]:
    return [
        f"notice {eid} {'REJECTED' if permanent else 'not delivered'}, kept in the outbox: {reason}"
        for eid, reason, permanent in failed
    ]


def _flush_outbox(
    cfg: Config, state: State, result: CheckResult, fresh: set[str] | None = None
) -> None:
    """Deliver what waits. Isolated: whatever goes wrong here is a problem line, never
    an exception that would cost the run its state."""
    from certkeeper.notify import outbox, sender

    if cfg.notify.to is None or outbox.count(cfg.state_dir) == 0:
        return
    try:
        report = outbox.flush(
            cfg.state_dir, cfg.notify.smtp, state, now(), sender(cfg), cfg.notify.to
        )
    except Exception as exc:  # isolation is the point: see the docstring
        get_logger().exception("outbox.flush_failed", error=repr(exc)[:300])
        result.problems.append(f"delivering the outbox failed: {type(exc).__name__}: {exc}")
        return
    # This run's own notices were already told as outcome lines.
    waiting = [eid for eid in report.sent if eid not in (fresh or set())]
    result.lines.extend(f"delivered waiting notice {eid}" for eid in waiting)
    result.problems.extend(_undelivered(report.failed))


# ----------------------------------------------------------------- deploy hook


def deploy_hook(cfg: Config, renewed_lineage: str | None) -> tuple[str, int]:
    from certkeeper import hook
    from certkeeper import state as state_mod
    from certkeeper.certbot import PARENT_ENV
    from certkeeper.lock import host_lock
    from certkeeper.notify.events import Failed

    log = get_logger(command="deploy-hook")
    trusted_dirs(cfg)
    if os.environ.get(PARENT_ENV):
        # The check run that started certbot holds the lock and does the deploy itself.
        outcome = hook.run(cfg, renewed_lineage, now())
        log.info("deploy_hook.skipped", message=outcome.message)
        return outcome.message, 0
    with host_lock(cfg.lock_file, cfg.lock_timeout_seconds):
        outcome = hook.run(cfg, renewed_lineage, now())
        log.info("deploy_hook", message=outcome.message)
        if outcome.event is None:
            return outcome.message, 0
        state = state_mod.load(cfg.state_dir, now())
        from certkeeper.notify import announce

        delivery = announce(cfg, state, [outcome.event], now())
        state.save(now())
        lines = [outcome.message, *_undelivered(delivery.failed)]
        if isinstance(outcome.event, Failed):
            log.error("deploy_hook.failed", message=outcome.event.output)
            return "\n".join(lines), 1
        return "\n".join(lines), 0


# ---------------------------------------------------------------------- notify
# The notify commands live in actions/notify.py; doctor's --send-test still calls this.


def notify_test(cfg: Config) -> notify_action.Trial:
    return notify_action.send_test(cfg, now())
