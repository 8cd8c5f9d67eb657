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
from datetime import datetime
from typing import TYPE_CHECKING

from certkeeper import deploy, policy
from certkeeper.actions.check_steps import (
    CheckReport,
    Journal,
    Seen,
    Story,
    act,
    ari_window,
    conclude,
    emit,
    recover,
)
from certkeeper.actions.common import unsent_warning
from certkeeper.config import Config, Lineage, Service, select
from certkeeper.log import get_logger
from certkeeper.notify import Flushed, deliver
from certkeeper.notify.events import Event, Expiring, Failed, RehearsalFailed, Renewed, new_nonce
from certkeeper.outcomes import Outcome, Skipped, Trouble, Warned, WouldAct
from certkeeper.rehearsal import Send, rehearse_all
from certkeeper.state import CertRecord, State
from certkeeper.survey import Row, survey
from certkeeper.times import now
from certkeeper.trust import require_private_state
from certkeeper.value import Record, Value, field
from certkeeper.x509info import CertInfo

if TYPE_CHECKING:
    from certkeeper.samples import Sample

Clock = Callable[[], datetime]

__all__ = ["CheckFlags", "CheckReport", "CheckResult", "Journal", "Story", "check", "tell"]


# ------------------------------------------------------------------ the story


def tell(story: Story, services: tuple[Service, ...]) -> CheckReport:
    """One pass over `services`. Without a journal (a dry run, shadow mode) nothing is
    recorded or sent."""
    report = story.report
    if story.journal is not None:
        for svc in services:
            for lineage in svc.lineages:
                rec = story.state.certs.get(lineage.cert_name)
                if rec is not None and rec.intent is not None:
                    with _guard(lineage, report):
                        recover(story, lineage, rec)
    rows = survey(story.cfg, services, story.clock())
    report.rows = rows
    for svc in services:
        for lineage in svc.lineages:
            mine = [r for r in rows if r.lineage is lineage]
            with _guard(lineage, report):
                if svc.enabled:
                    rec = story.state.cert(lineage.cert_name)
                    managed(story, svc, lineage, Seen.of(mine), rec)
                else:
                    monitor(story, lineage, mine)
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


def managed(story: Story, svc: Service, lineage: Lineage, seen: Seen, rec: CertRecord) -> None:
    """Plan, pass the gate, act, record: one auto-renewed certificate."""
    at, journal, report = story.clock(), story.journal, story.report
    window = ari_window(story.cfg, lineage, seen.disk, rec, at)
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
    allowed, why = _gate(lineage, action, rec, at, force=story.force, urgent=urgent)
    if journal is None:
        left = policy.days_left(seen.disk.not_after, at) if seen.disk else None
        name = lineage.cert_name
        report.outcomes.append(WouldAct(name, svc.name, action.value, why, left, seen.disk_error))
        return
    rec.last_check = at
    if not allowed:
        report.outcomes.append(_skipped(lineage.cert_name, action, why, rec))
        _failing_warning(story, lineage, seen.disk, rec, at)
        return
    _attempt(story, svc, lineage, action, seen, rec)


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
    story: Story,
    svc: Service,
    lineage: Lineage,
    action: policy.Action,
    seen: Seen,
    rec: CertRecord,
) -> None:
    """Act, then record and tell what came of it."""
    journal = story.journal
    assert journal is not None
    before = policy.earliest(seen.disk, *seen.served)  # what clients see expire
    attempt = deploy.Attempt(
        lineage, story.clock(), new_nonce(), seen.notes, before.not_after if before else None
    )
    event, backoff = act(story, svc, action, attempt, seen, rec)
    if isinstance(event, Renewed):
        drift = policy.profile_drift(lineage.profile, event.new_not_before, event.new_expiry)
        event = _with_note(event, drift)
    redeploy = action is policy.Action.REDEPLOY
    conclude(story.report, journal, rec, event, certbot_ran=not redeploy, backoff=backoff)
    if isinstance(event, Failed):
        _failing_warning(story, lineage, seen.disk, rec, event.at)


def _with_note(event: Renewed, note: str | None) -> Renewed:
    return event.replace(notes=(*event.notes, note)) if note else event


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
    story: Story,
    lineage: Lineage,
    cert: CertInfo,
    rec: CertRecord,
    at: datetime,
    *,
    monitor_only: bool,
) -> None:
    """Send the expiry WARNING the certificate is owed now, if any (a dry run only says so)."""
    report, journal, warn_days = story.report, story.journal, story.cfg.notify.warn_days
    due = policy.warning_due(cert, rec.warned_for, rec.warned_thresholds, warn_days, at)
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
    story: Story, lineage: Lineage, disk: CertInfo | None, rec: CertRecord, at: datetime
) -> None:
    if disk is not None and policy.warn_after_failures(rec.consecutive_failures, rec.last_result):
        warn(story, lineage, disk, rec, at, monitor_only=False)


def monitor(story: Story, lineage: Lineage, rows: list[Row]) -> None:
    """A certificate someone else renews: only the expiry warnings."""
    cert = policy.earliest(rows[0].disk if rows else None, *(r.probe.cert for r in rows))
    if cert is None:
        return
    at = story.clock()
    rec = story.state.cert(lineage.cert_name)
    if story.journal is not None:
        rec.last_check = at
    warn(story, lineage, cert, rec, at, monitor_only=True)


# ---------------------------------------------------------------- the command


class CheckResult(Record):
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


class CheckFlags(Value):
    """How `check` was asked to run. `tell` hears, before it happens, every wait the user
    did not ask for (the jitter, another run's lock). `metrics_words` is how the edge words
    the samples check writes to metrics_file (render/metrics.py: actions word nothing)."""

    dry_run: bool = False
    force: bool = False
    no_jitter: bool = False
    interactive: bool = False
    tell: Callable[[str], None] = _quiet
    metrics_words: Callable[[list[Sample]], str] | None = None


def check(cfg: Config, only: str | None, flags: CheckFlags) -> CheckResult:
    from certkeeper import state as state_mod

    services = select(cfg, only)
    require_private_state(cfg)
    result = CheckResult(mode=cfg.mode)
    _warn(cfg, result)
    if flags.dry_run:
        _refuse_while_held(cfg)
        state = state_mod.load(cfg.state_dir, now(), repair=False)
        _unpause(state, services, flags, only, result)
        result.outcomes = tell(Story(cfg, state, now, force=flags.force), services).outcomes
        return result
    delay = jitter_seconds(cfg, flags.no_jitter, flags.dry_run, flags.interactive)
    if delay:
        get_logger(command="check").info("jitter", seconds=round(delay, 1))
        flags.tell(f"waiting {math.ceil(delay)} s (jitter; --no-jitter to skip)")
        time.sleep(delay)
    _locked_run(cfg, services, only, flags, result)
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
    flags: CheckFlags,
    result: CheckResult,
) -> None:
    """Under the host lock: the story, then the outbox, then the record of the run.

    In shadow mode, every decision of an active run and none of its effects: no journal,
    so nothing is attempted, recorded, spooled or sent, and the outbox waits; the state is
    saved for its caches (the ARI windows) and the run's heartbeat, which metrics reports.
    """
    from certkeeper import state as state_mod
    from certkeeper.lock import host_lock
    from certkeeper.notify.events import event_id
    from certkeeper.notify.outbox import count

    with host_lock(cfg.lock_file, cfg.lock_timeout_seconds, "check", _lock_wait(flags.tell)):
        state = state_mod.load(cfg.state_dir, now())
        story = Story(cfg, state, now, force=flags.force)
        if not cfg.shadow:
            _unpause(state, services, flags, only, result)
            story.journal = _journal(cfg, state)
        report = tell(story, services)
        # Rehearsals run in shadow too (they are the cutover's readiness check), where
        # their cards are logged, not sent; never for a lineage certbot just ran for.
        cards: list[Event] = []
        acted = {e.cert_name for e in report.events if isinstance(e, Renewed | Failed)}
        send = None if cfg.shadow else _card_sender(cfg, cards)
        rehearsed = _rehearse(cfg, services, state, send, skip=acted)
        result.outcomes = [*(Trouble(w) for w in state.warnings), *report.outcomes, *rehearsed]
        if cfg.shadow:
            shadow_log(report.outcomes, count(cfg.state_dir))
            result.lines.append(
                "shadow: nothing was renewed, linked, reloaded or sent; to let certkeeper"
                f" renew, set `mode: active` in {cfg.path}"
            )
        else:
            # After the renewals: notification trouble (a dead relay, a bad password, a
            # broken message) must never stand between a due certificate and certbot.
            fresh = {event_id(e) for e in (*report.events, *cards)}
            _flush_outbox(cfg, state, result, fresh=fresh)
        state.check_run = state_mod.CheckRun(now(), success=not result.failed)
        problem = _save(state)
        if problem:
            result.problems.append(problem)
        _write_metrics(cfg, state, report, only, result, flags.metrics_words)


def _rehearse(
    cfg: Config,
    services: tuple[Service, ...],
    state: State,
    send: Send | None,
    skip: set[str] | None = None,
) -> list[Outcome]:
    """After the renewals, which a hanging staging server must never delay: each lineage's
    rehearsal that the schedule says is due (a problem spooling its card is a Trouble).
    Not the lineages in `skip`: certbot just ran for them, and their own card told it."""
    if not cfg.rehearsal.enabled:
        return []
    if skip:
        services = tuple(
            svc.replace(lineages=tuple(ln for ln in svc.lineages if ln.cert_name not in skip))
            for svc in services
        )
    done = rehearse_all(cfg, services, state, now, scheduled=True, send=send)
    return [*done.outcomes, *(Trouble(p) for p in done.problems)]


def _card_sender(cfg: Config, cards: list[Event]) -> Send:
    from certkeeper.notify import spool

    def send(event: RehearsalFailed) -> str | None:
        cards.append(event)
        return spool(cfg, event)

    return send


def _unpause(
    state: State,
    services: tuple[Service, ...],
    flags: CheckFlags,
    only: str | None,
    result: CheckResult,
) -> None:
    """`check --force --only NAME` is how a person says "I followed the CA's unpause link":
    only then does certbot ask again for a paused name. --force alone, over every service,
    would send every paused name back to the CA and deepen each pause."""
    if not (flags.force and only):
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
    cfg: Config,
    state: State,
    report: CheckReport,
    only: str | None,
    result: CheckResult,
    words: Callable[[list[Sample]], str] | None,
) -> None:
    if cfg.metrics_file is None or words is None:
        return
    from certkeeper.samples import gather, write

    # A quiet run over every service already saw the world as it still is.
    rows = report.rows if only is None and not report.events else None
    try:
        write(cfg.metrics_file, words(gather(cfg, now(), state, rows)))
    except OSError as exc:
        # Said, not failed: the renewal itself went as reported.
        problem = f"cannot write metrics_file {cfg.metrics_file}: {exc.strerror or exc}"
        result.warnings.append(problem)
        get_logger(command="check").warning("metrics.unwritten", message=problem)


def _flush_outbox(cfg: Config, state: State, result: CheckResult, fresh: set[str]) -> None:
    """Deliver what waits. Isolated: whatever goes wrong here comes back in `flushed`,
    never as an exception that would cost the run its state."""
    flushed = deliver(cfg, state, now())
    # This run's own notices were already told as outcome lines.
    result.flushed = flushed.replace(delivered=[e for e in flushed.delivered if e not in fresh])
