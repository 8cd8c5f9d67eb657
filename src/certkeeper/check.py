"""`certkeeper check`: decide, renew, deploy, verify, record, notify.

The sequence for one certificate is certbot -> the disk changed -> symlinks ->
nginx -t -> reload -> a TLS probe shows the new serial on every name. Only the
whole chain is a SUCCESS; the first link that breaks names the ERROR.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from certkeeper import certbot, deploy, policy
from certkeeper.config import Config, Lineage, Service
from certkeeper.notify.events import Event, Expiring, Failed, Reloaded, Renewed, new_nonce
from certkeeper.state import CertRecord, Intent, State
from certkeeper.survey import Row, live_dir, read_disk, survey
from certkeeper.x509info import CertInfo

Clock = Callable[[], datetime]


@dataclass
class Journal:
    """The effects that let a run's story survive a kill -9 at any moment.

    Intent is saved to state before certbot or a reload runs; each notice is spooled the
    moment its event exists, and only then is the intent cleared. So the next run finds
    either a notice that tells the story (by the intent's nonce) or an intent to finish.
    """

    save: Callable[[], str | None]  # persist state; a problem line on failure
    spool: Callable[[Event], str | None]  # write the notice to the outbox; a problem line
    told: Callable[[str], bool]  # is a notice carrying this nonce spooled or delivered?


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
    journal: Journal | None = None,
) -> CheckReport:
    """One pass over `services`. Without a journal (dry runs) nothing is recorded or sent."""
    report = CheckReport()
    if journal is not None:
        for svc in services:
            for lineage in svc.lineages:
                rec = state.certs.get(lineage.cert_name)
                if rec is not None and rec.intent is not None:
                    _recover(cfg, lineage, rec, journal, report)
    now = clock()
    rows = survey(cfg, services, now)
    report.rows = rows
    for svc in services:
        for lineage in svc.lineages:
            mine = [r for r in rows if r.lineage is lineage]
            if svc.enabled:
                _managed(cfg, svc, lineage, mine, state, clock, report, journal, force=force)
            else:
                _monitor(cfg, lineage, mine, state, now, report, journal)
    return report


def _emit(report: CheckReport, journal: Journal | None, rec: CertRecord, event: Event) -> None:
    """Tell: spool the notice at once, then forget the intent it finishes."""
    report.events.append(event)
    if journal is None:
        return
    problem = journal.spool(event)
    if problem:
        report.problems.append(problem)
    rec.intent = None
    saved = journal.save()
    if saved:
        report.problems.append(saved)


def _outcome_lines(report: CheckReport, name: str, event: Event) -> None:
    if isinstance(event, Failed):
        report.problems.append(f"{name}: {event.step} failed: {_first_line(event.output)}")
    elif isinstance(event, Renewed):
        report.lines.append(_renewed_line(event))
    elif isinstance(event, Reloaded):
        report.lines.append(f"{name}: nginx was serving an old certificate; reloaded and verified")


def _recover(
    cfg: Config, lineage: Lineage, rec: CertRecord, journal: Journal, report: CheckReport
) -> None:
    """Finish the story of a run that died after it set out to act on this certificate."""
    intent = rec.intent
    assert intent is not None
    if journal.told(intent.nonce):
        rec.intent = None  # its notice was spooled; only the bookkeeping was lost
        return
    at = intent.started
    notes = (
        f"finished by a later run: the certkeeper run that started this at "
        f"{at:%Y-%m-%d %H:%M:%S} UTC was killed before it could tell",
    )
    disk, error = read_disk(cfg, lineage.cert_name)
    if intent.action == "redeploy" and disk is not None:
        event = _redeploy(cfg, lineage, disk, intent.before_expiry, (), at, intent.nonce, notes)
    elif disk is not None and disk.serial_hex != intent.before_serial:
        # certbot finished before the kill: deploying again is idempotent, then verify.
        event = _after_certbot(
            cfg,
            lineage,
            None,
            intent.before_expiry,
            at,
            intent.nonce,
            notes,
            issue=intent.action == "issue",
        )
    else:
        event = failure(
            cfg,
            lineage,
            at,
            intent.before_expiry or (disk.not_after if disk else None),
            "interrupted",
            "the run was killed before certbot produced a new certificate"
            + (f" ({error})" if error else "")
            + "; nothing was deployed. The next attempt follows the usual 20-hour rule; "
            "`certkeeper check --force` tries now.",
            notes,
            nonce=intent.nonce,
        )
    _record(rec, event, certbot_ran=False)
    _outcome_lines(report, lineage.cert_name, event)
    _emit(report, journal, rec, event)


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
    journal: Journal | None,
    *,
    force: bool,
) -> None:
    now = clock()
    disk = rows[0].disk if rows else None
    disk_error = rows[0].disk_error if rows else None
    served = _own_served(rows)
    rec = state.cert(lineage.cert_name)
    window = _ari_window(cfg, lineage, disk, rec, now)
    name = lineage.cert_name
    if disk is None and disk_error:
        # A lineage that exists but cannot be read is never "issue a new one".
        action = policy.Action.UNREADABLE
    else:
        action = policy.plan(served, disk, renewal_days=svc.renewal_days, now=now, ari=window)
    if action is policy.Action.NOTHING:
        if journal is not None:
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
        else policy.attempt_allowed(
            rec.last_attempt,
            rec.backoff_until,
            now,
            force,
            ari_urgent=window is not None and window.end <= now,
        )
    )
    what = {
        policy.Action.ISSUE: "issue",
        policy.Action.RENEW: "renew",
        policy.Action.REDEPLOY: "reload nginx for",
        policy.Action.UNREADABLE: "report the unreadable lineage",
    }[action]
    if journal is None:
        verdict = f"would {what} {name}" if allowed else f"would skip {name}: {why}"
        left = policy.days_left(disk.not_after, now) if disk else None
        detail = disk_error or (
            "no certificate on disk" if disk is None else f"{left} days left on disk"
        )
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
        _failing_warning(cfg, lineage, disk, rec, now, report, journal)
        return
    event = _act(cfg, svc, lineage, action, disk, disk_error, served, rows, rec, clock, journal)
    if isinstance(event, Renewed):
        drift = policy.profile_drift(lineage.profile, event.new_not_before, event.new_expiry)
        event = replace(event, notes=(*event.notes, drift)) if drift else event
    _record(rec, event, certbot_ran=not redeploy)
    _outcome_lines(report, name, event)
    _emit(report, journal, rec, event)
    if isinstance(event, Failed):
        _failing_warning(cfg, lineage, disk, rec, event.at, report, journal)


def _act(
    cfg: Config,
    svc: Service,
    lineage: Lineage,
    action: policy.Action,
    disk: CertInfo | None,
    disk_error: str | None,
    served: list[CertInfo | None],
    rows: list[Row],
    rec: CertRecord,
    clock: Clock,
    journal: Journal,
) -> Event:
    """Record the intent, then act: certbot and deploy, or the reload, or the report."""
    at = clock()
    nonce = new_nonce()
    notes = _probe_notes(rows)
    # What clients see: the earliest of the served and the disk certificate.
    before = policy.earliest(disk, *served)
    before_expiry = before.not_after if before else None
    if action is policy.Action.UNREADABLE:
        rec.last_attempt = at  # the 20-hour rule spaces the notices too
        return failure(
            cfg,
            lineage,
            at,
            before_expiry,
            "verification",
            f"{disk_error}\ncertkeeper does not run certbot on a lineage it cannot read "
            "(certbot would trip over it too): check the files with "
            f"`ls -l {live_dir(cfg, lineage.cert_name)}/` and `certbot certificates`.",
            notes,
            nonce=nonce,
        )
    if action is not policy.Action.REDEPLOY:
        problem = certbot.profile_support_problem(cfg, lineage)
        if problem is not None:
            return failure(cfg, lineage, at, before_expiry, "certbot", problem, notes, nonce=nonce)
    rec.intent = Intent(
        action=action.value,
        started=at,
        nonce=nonce,
        before_serial=disk.serial_hex if disk else None,
        before_expiry=before_expiry,
    )
    if action is not policy.Action.REDEPLOY:
        rec.last_attempt = at
    problem = journal.save()  # the intent is on disk before anything is touched
    if problem:
        notes = (*notes, problem)
    if action is policy.Action.REDEPLOY:
        assert disk is not None
        stale = tuple(sorted({c.serial_hex for c in served if c and c.serial != disk.serial}))
        return _redeploy(cfg, lineage, disk, before_expiry, stale, at, nonce, notes)
    issue = action is policy.Action.ISSUE
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
        return failure(
            cfg,
            lineage,
            at,
            before_expiry,
            "certbot",
            f"{result.describe()}\n{tail}",
            notes + extra,
            nonce=nonce,
        )
    return _after_certbot(
        cfg,
        lineage,
        disk,
        before_expiry,
        at,
        nonce,
        notes,
        issue=issue,
        certbot_tail=result.output_tail(),
    )


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


def _ari_window(
    cfg: Config, lineage: Lineage, disk: CertInfo | None, rec: CertRecord, now: datetime
) -> policy.AriWindow | None:
    """The CA's renewal window for the certificate on disk, refreshed when Retry-After allows."""
    if disk is None:
        return None
    from certkeeper import ari

    rec.ari = ari.refresh(cfg.ari, cfg.certbot.config_dir, lineage.cert_name, disk, rec.ari, now)
    return ari.window_for(rec.ari, disk)


def failure(
    cfg: Config,
    lineage: Lineage,
    at: datetime,
    current_expiry: datetime | None,
    step: str,
    output: str,
    notes: tuple[str, ...],
    *,
    nonce: str = "",
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
        nonce=nonce,
    )


def _after_certbot(
    cfg: Config,
    lineage: Lineage,
    disk: CertInfo | None,
    before_expiry: datetime | None,
    at: datetime,
    nonce: str,
    notes: tuple[str, ...],
    *,
    issue: bool,
    certbot_tail: str = "",
) -> Event:
    """certbot exited 0: prove the disk changed, deploy, and see what nginx serves."""

    def failed(step: str, output: str) -> Failed:
        return failure(cfg, lineage, at, before_expiry, step, output, notes, nonce=nonce)

    after, error = read_disk(cfg, lineage.cert_name)
    if after is None:
        why = error or f"{live_dir(cfg, lineage.cert_name)}/cert.pem does not exist"
        return failed("verification", f"certbot exited 0 but {why}\n{certbot_tail}")
    if disk is not None and (after.serial == disk.serial or after.not_after <= disk.not_after):
        return failed(
            "verification",
            "certbot exited 0 but the certificate on disk did not change "
            f"(serial {after.serial_hex}, expires {after.not_after:%Y-%m-%d %H:%M} UTC)\n"
            + certbot_tail,
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
        # A first issuance replaces no certificate of ours, whatever nginx served before.
        previous_expiry=None if issue else before_expiry,
        new_expiry=after.not_after,
        new_not_before=after.not_before,
        notes=notes,
        not_served=not_served,
        server_block=deploy.server_block_lines(cfg, lineage.cert_name) if not_served else (),
        nonce=nonce,
    )


def _redeploy(
    cfg: Config,
    lineage: Lineage,
    disk: CertInfo,
    current_expiry: datetime | None,
    stale: tuple[str, ...],
    at: datetime,
    nonce: str,
    notes: tuple[str, ...],
) -> Event:
    outcome = deploy.deploy(cfg, lineage.cert_name)
    problems = [] if not outcome.ok else deploy.verify_served(cfg, lineage.domains, disk.serial)
    if not outcome.ok or problems:
        return failure(
            cfg,
            lineage,
            at,
            current_expiry,
            outcome.step or "post-reload probe",
            outcome.output if not outcome.ok else "\n".join(problems),
            (*notes, "nginx was serving an older certificate than the one on disk"),
            nonce=nonce,
        )
    return Reloaded(
        cert_name=lineage.cert_name,
        domains=lineage.domains,
        at=at,
        stale_serials=stale,
        disk_expiry=disk.not_after,
        notes=notes,
        nonce=nonce,
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
    journal: Journal | None,
    *,
    monitor_only: bool,
) -> None:
    sent = rec.warned_thresholds if rec.warned_for == cert.not_after else []
    left = policy.days_left(cert.not_after, now)
    lifetime = cert.not_after - cert.not_before
    threshold, marked = policy.warning_threshold(left, cfg.notify.warn_days, sent, lifetime)
    if threshold is None:
        return
    rec.warned_for = cert.not_after
    rec.warned_thresholds = sorted(marked, reverse=True)
    report.lines.append(f"{lineage.cert_name}: expires in {left} days; warning sent")
    _emit(
        report,
        journal,
        rec,
        Expiring(
            cert_name=lineage.cert_name,
            domains=lineage.domains,
            at=now,
            expiry=cert.not_after,
            threshold=threshold,
            monitor_only=monitor_only,
            last_error=rec.last_error,
            failures=rec.consecutive_failures,
        ),
    )


def _failing_warning(
    cfg: Config,
    lineage: Lineage,
    disk: CertInfo | None,
    rec: CertRecord,
    now: datetime,
    report: CheckReport,
    journal: Journal | None,
) -> None:
    """An auto-renewed certificate whose renewals keep failing gets the same warnings.

    Only from the second failure in a row: the first ERROR notice already says everything.
    """
    if disk is not None and rec.consecutive_failures >= 2 and rec.last_result == "error":
        _warn(cfg, lineage, disk, rec, now, report, journal, monitor_only=False)


def _monitor(
    cfg: Config,
    lineage: Lineage,
    rows: list[Row],
    state: State,
    now: datetime,
    report: CheckReport,
    journal: Journal | None,
) -> None:
    cert = policy.earliest(rows[0].disk if rows else None, *(r.probe.cert for r in rows))
    if cert is None:
        return
    rec = state.cert(lineage.cert_name)
    if journal is None:
        sent = rec.warned_thresholds if rec.warned_for == cert.not_after else []
        left = policy.days_left(cert.not_after, now)
        lifetime = cert.not_after - cert.not_before
        threshold, _ = policy.warning_threshold(left, cfg.notify.warn_days, sent, lifetime)
        if threshold is not None:
            report.lines.append(f"would warn: {lineage.cert_name} expires in {left} days")
        return
    rec.last_check = now
    _warn(cfg, lineage, cert, rec, now, report, journal, monitor_only=True)
