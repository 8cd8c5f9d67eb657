"""`certkeeper check`: decide, renew, deploy, verify, record, notify.

The sequence for one certificate is certbot -> the disk changed -> symlinks ->
nginx -t -> reload -> a TLS probe shows the new serial on every name. Only the
whole chain is a SUCCESS; the first link that breaks names the ERROR.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from certkeeper import certbot, deploy, policy
from certkeeper.config import Config, Lineage, Service
from certkeeper.notify.events import Event, Expiring, Failed, Reloaded, Renewed
from certkeeper.state import CertRecord, State
from certkeeper.survey import Row, read_disk, survey
from certkeeper.x509info import CertInfo

Clock = Callable[[], datetime]


@dataclass
class CheckReport:
    lines: list[str] = field(default_factory=list)  # what happened, for stdout
    problems: list[str] = field(default_factory=list)  # what went wrong, for stderr
    events: list[Event] = field(default_factory=list)
    # What the run saw before acting; the metrics file reuses it when nothing changed.
    rows: list[Row] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.problems)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def run(
    cfg: Config,
    services: tuple[Service, ...],
    state: State,
    clock: Clock,
    *,
    dry_run: bool,
    force: bool,
) -> CheckReport:
    report = CheckReport()
    now = clock()
    rows = survey(cfg, services, now)
    report.rows = rows
    for svc in services:
        for lineage in svc.lineages:
            mine = [r for r in rows if r.lineage is lineage]
            if svc.enabled:
                _managed(
                    cfg, svc, lineage, mine, state, clock, report, dry_run=dry_run, force=force
                )
            else:
                _monitor(cfg, lineage, mine, state, now, report, dry_run=dry_run)
    return report


def _own_served(rows: list[Row]) -> list[CertInfo | None]:
    """What nginx serves for each name, counting only certificates that name it.

    A name nginx does not serve yet (no server block: its default server answers with
    another site's certificate) must neither look like a missed reload nor make this
    lineage due because that other certificate is old.
    """
    return [r.probe.cert if r.probe.covered else None for r in rows]


def _probe_notes(rows: list[Row]) -> tuple[str, ...]:
    return tuple(
        f"probe of {r.domain} failed, so the decision used the certificate on disk: {r.probe.error}"
        for r in rows
        if r.probe.error
    )


def _managed(
    cfg: Config,
    svc: Service,
    lineage: Lineage,
    rows: list[Row],
    state: State,
    clock: Clock,
    report: CheckReport,
    *,
    dry_run: bool,
    force: bool,
) -> None:
    now = clock()
    disk = rows[0].disk if rows else None
    served = _own_served(rows)
    action = policy.plan(served, disk, renewal_days=svc.renewal_days, now=now)
    rec = state.cert(lineage.cert_name)
    name = lineage.cert_name
    if action is policy.Action.NOTHING:
        if not dry_run:
            rec.last_check = now
            # Not due and served as on disk: whatever failed before was fixed (by a person,
            # or certbot's own timer); the failure streak is over, its last error stays.
            rec.consecutive_failures = 0
        return
    # The 20-hour guard protects Let's Encrypt's limits; a reload costs nothing, so the
    # MISMATCH repair is never held back by it.
    redeploy = action is policy.Action.REDEPLOY
    allowed, why = (
        (True, "")
        if redeploy
        else policy.attempt_allowed(rec.last_attempt, rec.backoff_until, now, force)
    )
    what = {
        policy.Action.ISSUE: "issue",
        policy.Action.RENEW: "renew",
        policy.Action.REDEPLOY: "reload nginx for",
    }[action]
    if dry_run:
        verdict = f"would {what} {name}" if allowed else f"would skip {name}: {why}"
        left = policy.days_left(disk.not_after, now) if disk else None
        detail = "no certificate on disk" if disk is None else f"{left} days left on disk"
        report.lines.append(f"{verdict} ({detail}; service {svc.name})")
        return
    rec.last_check = now
    if not allowed:
        if rec.last_result == "error":
            report.problems.append(
                f"{name}: still failing since {rec.last_attempt:%Y-%m-%d %H:%M} UTC "
                f"({rec.failed_step}: {rec.last_error}); {why}"
            )
        else:
            report.lines.append(f"{name}: {what} needed but skipped: {why}")
        _failing_warning(cfg, lineage, disk, rec, now, report)
        return
    notes = _probe_notes(rows)
    if action is policy.Action.REDEPLOY:
        stale = tuple(
            sorted({c.serial_hex for c in served if c and disk and c.serial != disk.serial})
        )
        assert disk is not None
        # What clients see: an ERROR card's "Current expiry" is the old served certificate's.
        current = policy.earliest(disk, *served)
        assert current is not None
        event = _redeploy(cfg, lineage, disk, current, stale, clock, notes)
    else:
        before = policy.earliest(disk, *served) if disk else None
        event = _renew(
            cfg, svc, lineage, disk, before, clock, notes, issue=action is policy.Action.ISSUE
        )
    _record(rec, event, certbot_ran=not redeploy)
    report.events.append(event)
    if isinstance(event, Failed):
        report.problems.append(f"{name}: {event.step} failed: {_first_line(event.output)}")
        _failing_warning(cfg, lineage, disk, rec, event.at, report)
    elif isinstance(event, Renewed):
        report.lines.append(_renewed_line(event))
    else:
        report.lines.append(f"{name}: nginx was serving an old certificate; reloaded and verified")


def _renewed_line(event: Renewed) -> str:
    verb = "issued" if event.previous_expiry is None else "renewed"
    expires = f"expires {event.new_expiry:%Y-%m-%d %H:%M} UTC"
    if not event.not_served:
        served_on = ", ".join(event.domains)
        return f"{event.cert_name}: {verb}; nginx now serves it on {served_on}; {expires}"
    return (
        f"{event.cert_name}: {verb}; {expires}; not served by nginx yet: "
        + "; ".join(event.not_served)
        + "; the server block must use "
        + " and ".join(event.server_block)
    )


def failure(
    cfg: Config,
    lineage: Lineage,
    at: datetime,
    current_expiry: datetime | None,
    step: str,
    output: str,
    notes: tuple[str, ...],
) -> Failed:
    """An ERROR event, with the lineage's webroot and certbot's log filled in for the card."""
    return Failed(
        cert_name=lineage.cert_name,
        domains=lineage.domains,
        at=at,
        current_expiry=current_expiry,
        step=step,
        output=output,
        webroot=str(lineage.webroot),
        certbot_log=certbot.logs_file(cfg),
        notes=notes,
    )


def _renew(
    cfg: Config,
    svc: Service,
    lineage: Lineage,
    disk: CertInfo | None,
    before: CertInfo | None,
    clock: Clock,
    notes: tuple[str, ...],
    *,
    issue: bool,
) -> Event:
    at = clock()

    def failed(step: str, output: str, extra: tuple[str, ...] = ()) -> Failed:
        expiry = before.not_after if before else None
        return failure(cfg, lineage, at, expiry, step, output, notes + extra)

    argv = certbot.issue_argv(cfg, svc, lineage) if issue else certbot.renew_argv(cfg, lineage)
    result = certbot.run(cfg, argv)
    if not result.ok:
        tail = result.output_tail()
        backoff = policy.rate_limit_backoff(tail, at)
        extra = (
            (f"Let's Encrypt rate limit hit: no new attempt before {backoff:%Y-%m-%d %H:%M} UTC",)
            if backoff
            else ()
        )
        return failed("certbot", f"{result.describe()}\n{tail}", extra)
    after, error = read_disk(cfg, lineage.cert_name)
    if after is None:
        return failed("verification", f"certbot exited 0 but {error}\n{result.output_tail()}")
    if disk is not None and (after.serial == disk.serial or after.not_after <= disk.not_after):
        return failed(
            "verification",
            "certbot exited 0 but the certificate on disk did not change "
            f"(serial {after.serial_hex}, expires {after.not_after:%Y-%m-%d %H:%M} UTC)\n"
            + result.output_tail(),
        )
    outcome = deploy.deploy(cfg, lineage.cert_name)
    if not outcome.ok:
        assert outcome.step is not None
        return failed(outcome.step, outcome.output)
    answers = deploy.watch_served(cfg, lineage.domains, after.serial, first_issuance=issue)
    not_served = tuple(a.detail for a in answers if a.seen is not deploy.Seen.NEW)
    # A renewal is a SUCCESS only when every name serves the new serial. A first issuance
    # often comes before its server block exists (Ansible adds it once the certificate
    # does): disk, links, nginx -t and the reload are what it can prove, and the card
    # says per name what nginx serves.
    if not_served and not issue:
        return failed("post-reload probe", "\n".join(not_served))
    return Renewed(
        cert_name=lineage.cert_name,
        domains=lineage.domains,
        at=at,
        previous_expiry=before.not_after if before else None,
        new_expiry=after.not_after,
        new_not_before=after.not_before,
        notes=notes,
        not_served=not_served,
        server_block=deploy.server_block_lines(cfg, lineage.cert_name) if not_served else (),
    )


def _redeploy(
    cfg: Config,
    lineage: Lineage,
    disk: CertInfo,
    current: CertInfo,
    stale: tuple[str, ...],
    clock: Clock,
    notes: tuple[str, ...],
) -> Event:
    at = clock()
    outcome = deploy.deploy(cfg, lineage.cert_name)
    problems = [] if not outcome.ok else deploy.verify_served(cfg, lineage.domains, disk.serial)
    if not outcome.ok or problems:
        return failure(
            cfg,
            lineage,
            at,
            current.not_after,
            outcome.step or "post-reload probe",
            outcome.output if not outcome.ok else "\n".join(problems),
            (*notes, "nginx was serving an older certificate than the one on disk"),
        )
    return Reloaded(
        cert_name=lineage.cert_name,
        domains=lineage.domains,
        at=at,
        stale_serials=stale,
        disk_expiry=disk.not_after,
        notes=notes,
    )


def _record(rec: CertRecord, event: Event, *, certbot_ran: bool) -> None:
    if certbot_ran:
        rec.last_attempt = event.at
    if isinstance(event, Failed):
        rec.last_result = "error"
        rec.failed_step = event.step
        rec.last_error = _first_line(event.output)
        rec.consecutive_failures += 1
        backoff = policy.rate_limit_backoff(event.output, event.at)
        if backoff is not None:
            rec.backoff_until = backoff
        return
    rec.last_result = "success"
    rec.failed_step = None
    rec.last_error = None
    rec.consecutive_failures = 0
    rec.backoff_until = None
    if isinstance(event, Renewed):
        rec.previous_expiry = event.previous_expiry
        rec.new_expiry = event.new_expiry
        rec.last_success = event.at
        # A new certificate starts a new series of expiry warnings.
        rec.warned_for = None
        rec.warned_thresholds = []


def _warn(
    cfg: Config,
    lineage: Lineage,
    cert: CertInfo,
    rec: CertRecord,
    now: datetime,
    report: CheckReport,
    *,
    monitor_only: bool,
) -> None:
    sent = rec.warned_thresholds if rec.warned_for == cert.not_after else []
    left = policy.days_left(cert.not_after, now)
    threshold, marked = policy.warning_threshold(left, cfg.notify.warn_days, sent)
    if threshold is None:
        return
    rec.warned_for = cert.not_after
    rec.warned_thresholds = sorted(marked, reverse=True)
    report.events.append(
        Expiring(
            cert_name=lineage.cert_name,
            domains=lineage.domains,
            at=now,
            expiry=cert.not_after,
            threshold=threshold,
            monitor_only=monitor_only,
            last_error=rec.last_error,
            failures=rec.consecutive_failures,
        )
    )
    report.lines.append(f"{lineage.cert_name}: expires in {left} days; warning sent")


def _failing_warning(
    cfg: Config,
    lineage: Lineage,
    disk: CertInfo | None,
    rec: CertRecord,
    now: datetime,
    report: CheckReport,
) -> None:
    """An auto-renewed certificate whose renewals keep failing gets the same warnings.

    Only from the second failure in a row: the first ERROR notice already says everything.
    """
    if disk is not None and rec.consecutive_failures >= 2 and rec.last_result == "error":
        _warn(cfg, lineage, disk, rec, now, report, monitor_only=False)


def _monitor(
    cfg: Config,
    lineage: Lineage,
    rows: list[Row],
    state: State,
    now: datetime,
    report: CheckReport,
    *,
    dry_run: bool,
) -> None:
    cert = policy.earliest(rows[0].disk if rows else None, *(r.probe.cert for r in rows))
    if cert is None:
        return
    rec = state.cert(lineage.cert_name)
    if dry_run:
        sent = rec.warned_thresholds if rec.warned_for == cert.not_after else []
        left = policy.days_left(cert.not_after, now)
        threshold, _ = policy.warning_threshold(left, cfg.notify.warn_days, sent)
        if threshold is not None:
            report.lines.append(f"would warn: {lineage.cert_name} expires in {left} days")
        return
    rec.last_check = now
    _warn(cfg, lineage, cert, rec, now, report, monitor_only=True)
