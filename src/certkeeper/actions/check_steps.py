"""The effects of `check` for one certificate: certbot, deploy and verify, the record.

actions/check.py tells the story; policy decides; this module does what was decided
and returns the event it ended in. Every path ends in deploy.deploy_and_verify.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

from certkeeper import caa, certbot, deploy, policy
from certkeeper.config import Config, Lineage, Service
from certkeeper.notify.events import Event, Failed, Reloaded, Renewed
from certkeeper.outcomes import Acted, Outcome, Trouble, first_line
from certkeeper.state import CertRecord, Intent, Paused, State
from certkeeper.survey import Row, probe_domains
from certkeeper.value import Record, Value, field
from certkeeper.x509info import CertInfo


class Journal(Record):
    """The effects that let a run's story survive a kill -9 at any moment.

    Intent is saved to state before certbot or a reload runs; each notice is spooled the
    moment its event exists, and only then is the intent cleared. So the next run finds
    either a notice that tells the story (by the intent's nonce) or an intent to finish.
    """

    save: Callable[[], str | None]  # persist state; a problem line on failure
    spool: Callable[[Event], str | None]  # write the notice to the outbox; a problem line
    told: Callable[[str], bool]  # is a notice carrying this nonce spooled or delivered?


class CheckReport(Record):
    outcomes: list[Outcome] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # What the run saw before acting; the metrics file reuses it when nothing changed.
    rows: list[Row] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(o.failed for o in self.outcomes)


class Story(Record):
    """What one pass over the certificates carries from one certificate to the next: the
    config and the state it records in, the clock, what it has found so far (`report`),
    the journal that lets its effects survive a kill (None: a dry run or shadow mode,
    which record and send nothing), what it watches after a reload, and --force."""

    cfg: Config
    state: State
    clock: Callable[[], datetime]
    journal: Journal | None = None
    probe: deploy.Probe | None = None
    force: bool = False
    report: CheckReport = field(default_factory=CheckReport)

    @property
    def watch(self) -> deploy.Probe:
        """This host's nginx, unless a test hands in its own."""
        return self.probe or probe_for(self.cfg)


class Seen(Value):
    """What the survey found for one lineage, as the decisions need it."""

    disk: CertInfo | None
    disk_error: str | None
    # What nginx serves for each name, counting only certificates that name it: a name
    # nginx does not serve yet (its default server answers with another site's
    # certificate) must neither look like a missed reload nor make this lineage due.
    served: list[CertInfo | None]
    notes: tuple[str, ...]

    @classmethod
    def of(cls, rows: list[Row]) -> Seen:
        return cls(
            rows[0].disk if rows else None,
            rows[0].disk_error if rows else None,
            [r.probe.cert if r.probe.covered else None for r in rows],
            tuple(
                f"probe of {r.domain} failed, so the decision used the certificate on disk: "
                f"{r.probe.error}"
                for r in rows
                if r.probe.error
            ),
        )


def emit(report: CheckReport, journal: Journal | None, rec: CertRecord, event: Event) -> None:
    """Tell: spool the notice at once, then forget the intent it finishes."""
    report.events.append(event)
    if journal is None:
        return
    problem = journal.spool(event)
    if problem:
        report.outcomes.append(Trouble(problem))
    rec.intent = None
    saved = journal.save()
    if saved:
        report.outcomes.append(Trouble(saved))


def conclude(
    report: CheckReport,
    journal: Journal,
    rec: CertRecord,
    event: Event,
    *,
    certbot_ran: bool,
    backoff: datetime | None = None,
) -> None:
    """Record the event in state, say it, and spool its notice."""
    record(rec, event, certbot_ran=certbot_ran, backoff=backoff)
    report.outcomes.append(Acted(event))
    emit(report, journal, rec, event)


def record(
    rec: CertRecord, event: Event, *, certbot_ran: bool, backoff: datetime | None = None
) -> None:
    if certbot_ran:
        rec.last_attempt = event.at
    if isinstance(event, Failed):
        rec.last_result = "error"
        rec.failed_step = event.step
        rec.last_error = first_line(event.output)
        rec.consecutive_failures += 1
        if backoff is not None:
            rec.backoff_until = backoff
        if event.ca_paused:
            rec.paused = Paused(event.at, event.unpause_link)
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
        rec.paused = None  # the CA issued: whatever pause there was is over
        # A new certificate starts a new series of expiry warnings.
        rec.warned_for = None
        rec.warned_thresholds = []


def ari_window(
    cfg: Config, lineage: Lineage, disk: CertInfo | None, rec: CertRecord, now: datetime
) -> policy.AriWindow | None:
    """The CA's renewal window for the certificate on disk, refreshed when Retry-After allows."""
    if disk is None:
        return None
    from certkeeper import ari

    if cfg.ari.skipped:
        # The CA file is missing: no request, but a window already fetched still counts
        # (ARI only ever brings a renewal forward).
        return ari.window_for(rec.ari, disk)
    rec.ari = ari.refresh(cfg.ari, cfg.certbot.config_dir, lineage.cert_name, disk, rec.ari, now)
    return ari.window_for(rec.ari, disk)


def act(
    story: Story,
    svc: Service,
    action: policy.Action,
    attempt: deploy.Attempt,
    seen: Seen,
    rec: CertRecord,
) -> tuple[Event, datetime | None]:
    """Record the intent, then act: certbot and deploy, or the reload, or the report.

    Returns the event and, when certbot hit a rate limit, until when to hold off.
    """
    cfg, journal, probe = story.cfg, story.journal, story.watch
    assert journal is not None  # only a run that records acts
    attempt = attempt.replace(issuance=action is policy.Action.ISSUE)
    refused = _refused(cfg, action, attempt, seen)
    if refused is not None:
        return refused, None
    disk = seen.disk
    rec.intent = Intent(
        action=action.value,
        started=attempt.at,
        nonce=attempt.nonce,
        before_serial=disk.serial_hex if disk else None,
        before_expiry=attempt.current_expiry,
    )
    if action is not policy.Action.REDEPLOY:
        rec.last_attempt = attempt.at  # saved with the intent: a kill keeps the 20-hour rule
    problem = journal.save()  # the intent is on disk before anything is touched
    if problem:
        attempt = attempt.replace(notes=(*attempt.notes, problem))
    if action is policy.Action.REDEPLOY:
        assert disk is not None
        event = repair(cfg, attempt, disk, seen, rec, probe)
        return event, None
    event, backoff = renew(cfg, svc, attempt, disk, probe, issue=action is policy.Action.ISSUE)
    if isinstance(event, Renewed):
        mark_told(cfg, attempt.lineage.cert_name, rec)
    return event, backoff


def mark_told(cfg: Config, cert_name: str, rec: CertRecord) -> None:
    """Remember the serial whose renewal is being told (the one the probe just saw
    served), so certbot's deploy hook arriving after this run, or a later MISMATCH, does
    not tell the same renewal again."""
    disk, _ = certbot.read_disk(cfg, cert_name)
    if disk is not None:
        rec.told_serial = disk.serial_hex


def renewed_outside(
    cfg: Config, cert_name: str, disk: CertInfo, rec: CertRecord
) -> CertInfo | None:
    """The certificate that a renewal made outside certkeeper replaced, when the newer
    certificate on disk is such a renewal: certbot's timer or a person renewed (archive/
    holds certN-1.pem beside it) and nobody has told it yet. None for a plain missed reload."""
    if disk.serial_hex == rec.told_serial:
        return None
    return certbot.previous_cert(certbot.live_dir(cfg, cert_name))


def repair(
    cfg: Config,
    attempt: deploy.Attempt,
    disk: CertInfo,
    seen: Seen,
    rec: CertRecord,
    probe: deploy.Probe,
) -> Event:
    """MISMATCH: nginx serves an older certificate than the disk. A renewal nobody told
    yet is told as the renewal it was; anything else is a missed reload."""
    stale = tuple(sorted({c.serial_hex for c in seen.served if c and c.serial != disk.serial}))
    previous = renewed_outside(cfg, attempt.lineage.cert_name, disk, rec)
    if previous is None:
        return redeploy(cfg, attempt, disk, stale, probe)
    event = deploy_outside_renewal(cfg, attempt, disk, previous, stale, probe)
    if isinstance(event, Renewed):
        rec.told_serial = disk.serial_hex
    return event


def deploy_outside_renewal(
    cfg: Config,
    attempt: deploy.Attempt,
    disk: CertInfo,
    previous: CertInfo,
    stale: tuple[str, ...],
    probe: deploy.Probe,
) -> Event:
    """certbot renewed on its own and nobody deployed it yet: deploy, verify and tell it
    as the renewal it was. The deploy hook, arriving after, finds it told and steps aside."""
    serving = ", ".join(stale) or previous.serial_hex
    note = (
        "renewed by certbot outside certkeeper (its timer or a person); deployed and "
        f"verified by certkeeper check (nginx was serving serial {serving})"
    )
    told = attempt.replace(notes=(*attempt.notes, note))

    def renewed(cert: CertInfo, _not_served: tuple[str, ...]) -> Event:
        return Renewed(
            cert_name=attempt.lineage.cert_name,
            domains=attempt.lineage.domains,
            at=attempt.at,
            previous_expiry=previous.not_after,
            new_expiry=cert.not_after,
            new_not_before=cert.not_before,
            notes=told.notes,
            nonce=attempt.nonce,
        )

    return deploy.deploy_and_verify(cfg, told, disk, renewed, probe=probe)


def _refused(
    cfg: Config, action: policy.Action, attempt: deploy.Attempt, seen: Seen
) -> Event | None:
    """Why certbot must not run for this lineage now, as its ERROR; None when it may. Each is
    found before the intent is written: nothing was attempted, so nothing is to recover."""
    lineage = attempt.lineage
    if action is policy.Action.UNREADABLE:
        return deploy.failure(
            cfg,
            attempt,
            "verification",
            f"{seen.disk_error}\ncertkeeper does not run certbot on a lineage it cannot read "
            "(certbot would trip over it too): check the files with "
            f"`ls -l {certbot.live_dir(cfg, lineage.cert_name)}/` and `certbot certificates`.",
        )
    if action is policy.Action.REDEPLOY:
        return None
    problem = certbot.renewal_conf_problem(
        cfg.certbot.config_dir, lineage.cert_name
    ) or certbot.profile_support_problem(cfg, lineage)
    if problem is not None:
        return deploy.failure(cfg, attempt, "certbot", problem)
    if action is policy.Action.ISSUE:
        forbidden = caa.issuance_problem(
            lineage.domains, cfg.ca.caa_identity, cfg.dns.nameserver, cfg.dns.timeout_seconds
        )
        if forbidden is not None:
            return deploy.failure(cfg, attempt, "CAA", forbidden)
    return None


def renew(
    cfg: Config,
    svc: Service,
    attempt: deploy.Attempt,
    disk: CertInfo | None,
    probe: deploy.Probe,
    *,
    issue: bool,
) -> tuple[Event, datetime | None]:
    """Run certbot; on success deploy and verify what it wrote."""
    lineage = attempt.lineage
    argv = certbot.issue_argv(cfg, svc, lineage) if issue else certbot.renew_argv(cfg, lineage)
    result = certbot.run(cfg, argv)
    if result.ok:
        tail = result.output_tail()
        return after_certbot(cfg, attempt, disk, probe, issue=issue, certbot_tail=tail), None
    tail = result.output_tail()
    # The whole output, not the tail: a line cut for the card could cut the link short.
    pause = policy.ca_pause(f"{result.stdout}\n{result.stderr}")
    # A pause is a rateLimited problem too, but no back-off ends it: only a person does.
    backoff = policy.rate_limit_backoff(tail, attempt.at) if pause is None else None
    if backoff:
        note = f"Let's Encrypt rate limit hit: no new attempt before {backoff:%Y-%m-%d %H:%M} UTC"
        attempt = attempt.replace(notes=(*attempt.notes, note))
    if pause is not None and pause.refused:
        attempt = attempt.replace(
            notes=(*attempt.notes, f"the CA paused the name; {pause.refused}")
        )
    failed = deploy.failure(cfg, attempt, "certbot", f"{result.describe()}\n{tail}")
    if pause is not None:
        failed = failed.replace(ca_paused=True, unpause_link=pause.link)
    return failed, backoff


def after_certbot(
    cfg: Config,
    attempt: deploy.Attempt,
    disk: CertInfo | None,
    probe: deploy.Probe,
    *,
    issue: bool,
    certbot_tail: str = "",
) -> Event:
    """certbot exited 0: prove the disk changed, deploy, and see what nginx serves."""
    name = attempt.lineage.cert_name
    after, error = certbot.read_disk(cfg, name)
    if after is None:
        why = error or f"{certbot.live_dir(cfg, name)}/cert.pem does not exist"
        return deploy.failure(
            cfg, attempt, "verification", f"certbot exited 0 but {why}\n{certbot_tail}"
        )
    if disk is not None and (after.serial == disk.serial or after.not_after <= disk.not_after):
        return deploy.failure(
            cfg,
            attempt,
            "verification",
            "certbot exited 0 but the certificate on disk did not change "
            f"(serial {after.serial_hex}, expires {after.not_after:%Y-%m-%d %H:%M} UTC)\n"
            + certbot_tail,
        )

    def renewed(cert: CertInfo, not_served: tuple[str, ...]) -> Event:
        return Renewed(
            cert_name=name,
            domains=attempt.lineage.domains,
            at=attempt.at,
            # A first issuance replaces no certificate of ours, whatever nginx served before.
            previous_expiry=None if issue else attempt.current_expiry,
            new_expiry=cert.not_after,
            new_not_before=cert.not_before,
            notes=attempt.notes,
            not_served=not_served,
            server_block=deploy.server_block_lines(cfg, name) if not_served else (),
            nonce=attempt.nonce,
        )

    # A first issuance proves disk, links, nginx -t and the reload, and says what nginx serves.
    attempt = attempt.replace(issuance=issue)
    return deploy.deploy_and_verify(cfg, attempt, after, renewed, probe=probe)


def redeploy(
    cfg: Config,
    attempt: deploy.Attempt,
    disk: CertInfo,
    stale: tuple[str, ...],
    probe: deploy.Probe,
) -> Event:
    """The MISMATCH repair: nginx serves an older certificate than the disk; reload it."""

    def reloaded(cert: CertInfo, _not_served: tuple[str, ...]) -> Event:
        return Reloaded(
            cert_name=cert_name,
            domains=attempt.lineage.domains,
            at=attempt.at,
            stale_serials=stale,
            disk_expiry=cert.not_after,
            notes=attempt.notes,
            nonce=attempt.nonce,
        )

    cert_name = attempt.lineage.cert_name
    note = "nginx was serving an older certificate than the one on disk"
    failing = attempt.replace(notes=(*attempt.notes, note))
    return deploy.deploy_and_verify(cfg, failing, disk, reloaded, probe=probe)


def probe_for(cfg: Config) -> deploy.Probe:
    """This host's nginx, as survey probes it: what deploy_and_verify watches."""
    return functools.partial(probe_domains, cfg)


def recover(story: Story, lineage: Lineage, rec: CertRecord) -> None:
    """Finish the story of a run that died after it set out to act on this certificate."""
    cfg, journal, probe = story.cfg, story.journal, story.watch
    intent = rec.intent
    assert intent is not None and journal is not None
    if journal.told(intent.nonce):
        rec.intent = None  # its notice was spooled; only the bookkeeping was lost
        return
    at = intent.started
    notes = (
        f"finished by a later run: the certkeeper run that started this at "
        f"{at:%Y-%m-%d %H:%M:%S} UTC was killed before it could tell",
    )
    attempt = deploy.Attempt(lineage, at, intent.nonce, notes, intent.before_expiry)
    disk, error = certbot.read_disk(cfg, lineage.cert_name)
    event: Event
    if intent.action == "redeploy" and disk is not None:
        event = repair(cfg, attempt, disk, Seen(disk, None, [], ()), rec, probe)
    elif disk is not None and disk.serial_hex != intent.before_serial:
        # certbot finished before the kill: deploying again is idempotent, then verify.
        event = after_certbot(cfg, attempt, None, probe, issue=intent.action == "issue")
        if isinstance(event, Renewed):
            mark_told(cfg, lineage.cert_name, rec)
    else:
        expiry = intent.before_expiry or (disk.not_after if disk else None)
        event = deploy.failure(
            cfg,
            attempt.replace(current_expiry=expiry),
            "interrupted",
            "the run was killed before certbot produced a new certificate"
            + (f" ({error})" if error else "")
            + "; nothing was deployed. The next attempt follows the usual 20-hour rule; "
            "`certkeeper check --force` tries now.",
        )
    conclude(story.report, journal, rec, event, certbot_ran=False)
