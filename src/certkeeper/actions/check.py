"""`certkeeper check`: decide, renew, deploy, verify, record, notify.

The sequence for one certificate is certbot -> the disk changed -> symlinks ->
nginx -t -> reload -> a TLS probe shows the new serial on every name. Only the
whole chain is a SUCCESS; the first link that breaks names the ERROR.

Each certificate's story is short: policy decides (the plan, the attempt gate, the
warnings), check_steps does it, and the outcome is recorded and told. The outcomes
are values; render.check_lines words them.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from certkeeper import deploy, policy
from certkeeper.actions.check_steps import (
    CheckReport,
    Journal,
    Seen,
    act,
    ari_window,
    conclude,
    emit,
    probe_for,
    recover,
)
from certkeeper.actions.common import unsent_warning
from certkeeper.config import Config, Lineage, Service, select
from certkeeper.log import get_logger
from certkeeper.notify import Flushed, deliver
from certkeeper.notify.events import Expiring, Failed, Renewed, new_nonce
from certkeeper.outcomes import Outcome, Skipped, Trouble, Warned, WouldAct
from certkeeper.state import CertRecord, State
from certkeeper.survey import Row, survey
from certkeeper.times import now
from certkeeper.trust import require_private_state
from certkeeper.x509info import CertInfo

Clock = Callable[[], datetime]

__all__ = ["CheckReport", "CheckResult", "Journal", "check", "run"]


# ------------------------------------------------------------------ the story


def run(
    cfg: Config,
    services: tuple[Service, ...],
    state: State,
    clock: Clock,
    *,
    force: bool,
    journal: Journal | None = None,
    probe: deploy.Probe | None = None,
) -> CheckReport:
    """One pass over `services`. Without a journal (a dry run) nothing is recorded or sent.

    `probe` is what deploy_and_verify watches after a reload: this host's nginx unless a
    test hands in its own.
    """
    report = CheckReport()
    probe = probe or probe_for(cfg)
    if journal is not None:
        for svc in services:
            for lineage in svc.lineages:
                rec = state.certs.get(lineage.cert_name)
                if rec is not None and rec.intent is not None:
                    with _guard(lineage, report):
                        recover(cfg, lineage, rec, journal, report, probe)
    rows = survey(cfg, services, clock())
    report.rows = rows
    for svc in services:
        for lineage in svc.lineages:
            mine = [r for r in rows if r.lineage is lineage]
            with _guard(lineage, report):
                if svc.enabled:
                    rec = state.cert(lineage.cert_name)
                    seen = Seen.of(mine)
                    managed(
                        cfg, svc, lineage, seen, rec, clock, report, journal, probe, force=force
                    )
                else:
                    monitor(cfg, lineage, mine, state, clock(), report, journal)
    return report


@contextmanager
def _guard(lineage: Lineage, report: CheckReport) -> Iterator[None]:
    """Whatever goes wrong deciding or acting on one certificate is that certificate's
    ERROR: the traceback goes to syslog, one line to the user, and the others go on."""
    try:
        yield
    except Exception as exc:
        get_logger(command="check").exception(
            "check.cert_crashed", cert=lineage.cert_name, error=repr(exc)[:500]
        )
        report.outcomes.append(
            Trouble(
                f"{lineage.cert_name}: ERROR: internal error while checking it "
                f"({type(exc).__name__}); the other certificates went on "
                "(the traceback is in syslog: journalctl -t certkeeper -n 50)"
            )
        )


def managed(
    cfg: Config,
    svc: Service,
    lineage: Lineage,
    seen: Seen,
    rec: CertRecord,
    clock: Clock,
    report: CheckReport,
    journal: Journal | None,
    probe: deploy.Probe,
    *,
    force: bool,
) -> None:
    """Plan, pass the gate, act, record: one auto-renewed certificate."""
    at = clock()
    window = ari_window(cfg, lineage, seen.disk, rec, at)
    action = policy.plan(
        seen.served,
        seen.disk,
        renewal_days=svc.renewal_days,
        now=at,
        ari=window,
        disk_error=seen.disk_error,
    )
    if action is policy.Action.NOTHING:
        if journal is not None:
            rec.last_check = at
            # Not due and served as on disk: whatever failed before was fixed (by a person,
            # or certbot's own timer); the failure streak is over, its last error stays.
            rec.consecutive_failures = 0
            rec.paused = None  # a certificate that is not due was issued after the pause
        return
    urgent = window is not None and window.end <= at
    allowed, why = _gate(lineage, action, rec, at, force=force, urgent=urgent)
    if journal is None:
        left = policy.days_left(seen.disk.not_after, at) if seen.disk else None
        name = lineage.cert_name
        report.outcomes.append(WouldAct(name, svc.name, action.value, why, left, seen.disk_error))
        return
    rec.last_check = at
    if not allowed:
        report.outcomes.append(_skipped(lineage.cert_name, action, why, rec))
        _failing_warning(cfg, lineage, seen.disk, rec, at, report, journal)
        return
    _attempt(cfg, svc, lineage, action, seen, rec, clock(), report, journal, probe)


def _gate(
    lineage: Lineage,
    action: policy.Action,
    rec: CertRecord,
    at: datetime,
    *,
    force: bool,
    urgent: bool,
) -> tuple[bool, str]:
    """May certbot run: the CA's pause first (only `check --force --only NAME` lifts it, see
    _unpause), then the 20-hour guard and the rate-limit back-off."""
    if not policy.limits_apply(action):
        return True, ""
    if rec.paused is not None:
        lead, hint = policy.pause_lead(rec.paused.link), policy.resume_hint(lineage.cert_name)
        return False, f"{lead} ({hint})"
    return policy.attempt_allowed(rec.last_attempt, rec.backoff_until, at, force, urgent)


def _attempt(
    cfg: Config,
    svc: Service,
    lineage: Lineage,
    action: policy.Action,
    seen: Seen,
    rec: CertRecord,
    at: datetime,
    report: CheckReport,
    journal: Journal,
    probe: deploy.Probe,
) -> None:
    """Act, then record and tell what came of it."""
    before = policy.earliest(seen.disk, *seen.served)  # what clients see expire
    attempt = deploy.Attempt(
        lineage, at, new_nonce(), seen.notes, before.not_after if before else None
    )
    event, backoff = act(cfg, svc, action, attempt, seen, rec, journal, probe)
    if isinstance(event, Renewed):
        drift = policy.profile_drift(lineage.profile, event.new_not_before, event.new_expiry)
        event = _with_note(event, drift)
    redeploy = action is policy.Action.REDEPLOY
    conclude(report, journal, rec, event, certbot_ran=not redeploy, backoff=backoff)
    if isinstance(event, Failed):
        _failing_warning(cfg, lineage, seen.disk, rec, event.at, report, journal)


def _with_note(event: Renewed, note: str | None) -> Renewed:
    return replace(event, notes=(*event.notes, note)) if note else event


def _skipped(name: str, action: policy.Action, why: str, rec: CertRecord) -> Skipped:
    return Skipped(
        name,
        action.value,
        why,
        still_failing=rec.last_result == "error",
        last_attempt=rec.last_attempt,
        failed_step=rec.failed_step,
        last_error=rec.last_error,
    )


def warn(
    cfg: Config,
    lineage: Lineage,
    cert: CertInfo,
    rec: CertRecord,
    at: datetime,
    report: CheckReport,
    journal: Journal | None,
    *,
    monitor_only: bool,
) -> None:
    """Send the expiry WARNING the certificate is owed now, if any (a dry run only says so)."""
    due = policy.warning_due(cert, rec.warned_for, rec.warned_thresholds, cfg.notify.warn_days, at)
    if due is None:
        return
    report.outcomes.append(Warned(lineage.cert_name, due.days_left, sent=journal is not None))
    if journal is None:
        return
    rec.warned_for = cert.not_after
    rec.warned_thresholds = list(due.sent)
    expiring = Expiring(
        cert_name=lineage.cert_name,
        domains=lineage.domains,
        at=at,
        expiry=cert.not_after,
        threshold=due.threshold,
        monitor_only=monitor_only,
        last_error=rec.last_error,
        failures=rec.consecutive_failures,
    )
    emit(report, journal, rec, expiring)


def _failing_warning(
    cfg: Config,
    lineage: Lineage,
    disk: CertInfo | None,
    rec: CertRecord,
    at: datetime,
    report: CheckReport,
    journal: Journal,
) -> None:
    if disk is not None and policy.warn_after_failures(rec.consecutive_failures, rec.last_result):
        warn(cfg, lineage, disk, rec, at, report, journal, monitor_only=False)


def monitor(
    cfg: Config,
    lineage: Lineage,
    rows: list[Row],
    state: State,
    at: datetime,
    report: CheckReport,
    journal: Journal | None,
) -> None:
    """A certificate someone else renews: only the expiry warnings."""
    cert = policy.earliest(rows[0].disk if rows else None, *(r.probe.cert for r in rows))
    if cert is None:
        return
    rec = state.cert(lineage.cert_name)
    if journal is not None:
        rec.last_check = at
    warn(cfg, lineage, cert, rec, at, report, journal, monitor_only=True)


# ---------------------------------------------------------------- the command


@dataclass
class CheckResult:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Said on stderr and in syslog, without failing the run.
    warnings: list[str] = field(default_factory=list)
    exit_code: int = 0
    # What happened to each certificate, worded by render.check_lines before `lines`
    # and `problems` (which say what happened around them: the outbox, the state file).
    outcomes: list[Outcome] = field(default_factory=list)
    # The outbox delivered after the renewals (not this run's own notices).
    flushed: Flushed = field(default_factory=Flushed)
    # "shadow": the outcomes are what an active run would have done (render prefixes them).
    mode: str = "active"
    # Config mistakes said in `warnings` that cost only the report: the run still renews,
    # but a person must act, so it ends in 1.
    mistakes: int = 0

    @property
    def failed(self) -> bool:
        if self.problems or self.flushed.exit_code or self.mistakes:
            return True
        return any(o.failed for o in self.outcomes)


def jitter_seconds(cfg: Config, no_jitter: bool, dry_run: bool, interactive: bool) -> float:
    """Cron and timers get the spread-out start; a person at a terminal never waits for it."""
    if no_jitter or dry_run or interactive or cfg.jitter_seconds <= 0:
        return 0.0
    return random.uniform(0, cfg.jitter_seconds)


def _quiet(_: str) -> None:
    pass


def check(
    cfg: Config,
    only: str | None,
    *,
    dry_run: bool,
    force: bool,
    no_jitter: bool,
    interactive: bool,
    tell: Callable[[str], None] = _quiet,
) -> CheckResult:
    """`tell` hears, before it happens, every wait the user did not ask for."""
    from certkeeper import state as state_mod

    services = select(cfg, only)
    require_private_state(cfg)
    result = CheckResult(mode=cfg.mode)
    _warn(cfg, result)
    if dry_run:
        _refuse_while_held(cfg)
        state = state_mod.load(cfg.state_dir, now(), repair=False)
        _unpause(state, services, force, only, result)
        result.outcomes = run(cfg, services, state, now, force=force).outcomes
        return result
    delay = jitter_seconds(cfg, no_jitter, dry_run, interactive)
    if delay:
        get_logger(command="check").info("jitter", seconds=round(delay, 1))
        tell(f"waiting {math.ceil(delay)} s (jitter; --no-jitter to skip)")
        time.sleep(delay)
    if cfg.shadow:
        _shadow_run(cfg, services, only, force, result, tell)
    else:
        _locked_run(cfg, services, only, force, result, tell)
    result.exit_code = 1 if result.failed else 0
    return result


def _refuse_while_held(cfg: Config) -> None:
    """A dry run beside a run that is acting now would read its half-told story (the
    attempt it just recorded reads as the 20-hour guard): say who acts instead."""
    from certkeeper.errors import LockBusy
    from certkeeper.lock import held_by

    holder = held_by(cfg.lock_file)
    if holder is not None:
        raise LockBusy(
            f"another certkeeper run holds the lock {cfg.lock_file}: {holder.describe()}, "
            "acting now; run --dry-run again when it is done"
        )


def _warn(cfg: Config, result: CheckResult) -> None:
    """What is wrong around the renewals, on stderr and in syslog; it never stops them."""
    log = get_logger(command="check")
    unsent = unsent_warning(cfg)
    if unsent:
        result.warnings.append(unsent)
        log.warning("notify.unset", message=unsent)
    for mistake in cfg.mistakes:
        result.warnings.append(mistake.text)
        log.warning("config.mistake", key=mistake.key, message=mistake.text)
    result.mistakes = len(cfg.mistakes)


def _shadow_run(
    cfg: Config,
    services: tuple[Service, ...],
    only: str | None,
    force: bool,
    result: CheckResult,
    tell: Callable[[str], None],
) -> None:
    """Shadow mode: every decision of an active run, none of its effects.

    No journal, so nothing is attempted, recorded, spooled or sent; the state is saved
    for its caches (the ARI windows) and the run's heartbeat, which metrics reports.
    """
    from certkeeper import state as state_mod
    from certkeeper.lock import host_lock
    from certkeeper.notify.outbox import count

    with host_lock(cfg.lock_file, cfg.lock_timeout_seconds, "check", _lock_wait(tell)):
        state = state_mod.load(cfg.state_dir, now())
        report = run(cfg, services, state, now, force=force)
        result.outcomes = [*(Trouble(w) for w in state.warnings), *report.outcomes]
        shadow_log(report.outcomes, count(cfg.state_dir))
        result.lines.append(
            "shadow: nothing was renewed, linked, reloaded or sent; to let certkeeper renew,"
            f" set `mode: active` in {cfg.path}"
        )
        state.check_run = state_mod.CheckRun(now(), success=not result.failed)
        problem = _save(state)
        if problem:
            result.problems.append(problem)
        _write_metrics(cfg, state, report, only, result)


def shadow_log(outcomes: list[Outcome], waiting: int) -> None:
    """Syslog gets what an active run would have done and sent."""
    log = get_logger(command="check", mode="shadow")
    for outcome in outcomes:
        if isinstance(outcome, WouldAct):
            log.info(
                "shadow.would_act",
                cert=outcome.cert_name,
                action=outcome.action,
                skipped=outcome.why_not or None,
                days_left=outcome.days_left,
            )
        elif isinstance(outcome, Warned):
            log.info(
                "shadow.notice_not_sent",
                cert=outcome.cert_name,
                notice="WARNING",
                days_left=outcome.days_left,
            )
    if waiting:
        log.info("shadow.outbox_not_flushed", waiting=waiting)


def _lock_wait(tell: Callable[[str], None]) -> Callable[[str], None]:
    """Whom a run waits for, said once: in syslog and to the person who started it."""

    def waiting(text: str) -> None:
        get_logger(command="check").info("lock.wait", message=text)
        tell(text)

    return waiting


def _locked_run(
    cfg: Config,
    services: tuple[Service, ...],
    only: str | None,
    force: bool,
    result: CheckResult,
    tell: Callable[[str], None],
) -> None:
    """Under the host lock: the story, then the outbox, then the record of the run."""
    from certkeeper import state as state_mod
    from certkeeper.lock import host_lock
    from certkeeper.notify.events import event_id

    with host_lock(cfg.lock_file, cfg.lock_timeout_seconds, "check", _lock_wait(tell)):
        state = state_mod.load(cfg.state_dir, now())
        _unpause(state, services, force, only, result)
        report = run(cfg, services, state, now, force=force, journal=_journal(cfg, state))
        result.outcomes = [*(Trouble(w) for w in state.warnings), *report.outcomes]
        # After the renewals: notification trouble (a dead relay, a bad password, a
        # broken message) must never stand between a due certificate and certbot.
        _flush_outbox(cfg, state, result, fresh={event_id(e) for e in report.events})
        failed = result.failed
        state.check_run = state_mod.CheckRun(now(), success=not failed)
        problem = _save(state)
        if problem:
            result.problems.append(problem)
        _write_metrics(cfg, state, report, only, result)


def _unpause(
    state: State, services: tuple[Service, ...], force: bool, only: str | None, result: CheckResult
) -> None:
    """`check --force --only NAME` is how a person says "I followed the CA's unpause link":
    only then does certbot ask again for a paused name. --force alone, over every service,
    would send every paused name back to the CA and deepen each pause."""
    if not (force and only):
        return
    for svc in services:
        for lineage in svc.lineages:
            rec = state.certs.get(lineage.cert_name)
            if rec is not None and rec.paused is not None:
                rec.paused = None
                result.lines.append(
                    f"{lineage.cert_name}: --force --only lifts the CA's pause; certbot asks again"
                )
                get_logger(command="check").info("pause.cleared", cert_name=lineage.cert_name)


def _save(state: State) -> str | None:
    try:
        state.save(now())
    except OSError as exc:
        get_logger().error("state.not_saved", error=str(exc))
        return f"cannot save {state.path}: {exc}"
    return None


def _journal(cfg: Config, state: State) -> Journal:
    from certkeeper.notify import spool, told

    return Journal(
        save=lambda: _save(state),
        spool=lambda event: spool(cfg, event),
        told=lambda nonce: told(cfg, state, nonce),
    )


def _write_metrics(
    cfg: Config, state: State, report: CheckReport, only: str | None, result: CheckResult
) -> None:
    if cfg.metrics_file is None:
        return
    from certkeeper.samples import after_check

    # A quiet run over every service already saw the world as it still is.
    rows = report.rows if only is None and not report.events else None
    problem = after_check(cfg, state, now(), rows)
    if problem:
        # Said, not failed: the renewal itself went as reported.
        result.warnings.append(problem)
        get_logger(command="check").warning("metrics.unwritten", message=problem)


def _flush_outbox(cfg: Config, state: State, result: CheckResult, fresh: set[str]) -> None:
    """Deliver what waits. Isolated: whatever goes wrong here comes back in `flushed`,
    never as an exception that would cost the run its state."""
    flushed = deliver(cfg, state, now())
    # This run's own notices were already told as outcome lines.
    result.flushed = flushed.replace(delivered=[e for e in flushed.delivered if e not in fresh])
