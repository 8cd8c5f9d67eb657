"""Rehearsals: each managed lineage's order, run as certbot's dry run against the staging CA.

A dry run saves no certificate, key or renewal conf and runs no hook, so live/, archive/,
renewal/<name>.conf, nginx and the production CA are untouched; only a staging account
appears under certbot's config_dir. `check` (on a schedule, policy.rehearsal_due) and
`certkeeper rehearse` (at once) both come here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from certkeeper import ari, certbot, policy
from certkeeper.config import Config, Lineage, Service
from certkeeper.log import get_logger
from certkeeper.notify.events import RehearsalFailed, new_nonce
from certkeeper.outcomes import Rehearsed, failure_cause
from certkeeper.state import CertRecord, Rehearsal, State
from certkeeper.value import Value
from certkeeper.x509info import CertInfo

if TYPE_CHECKING:
    from certkeeper import proc

# Spools a card and returns a problem line (or None); None instead: shadow mode, log it.
Send = Callable[[RehearsalFailed], str | None]


class Rehearsals(Value):
    """What came of the rehearsals of one run, and what went wrong around them."""

    outcomes: tuple[Rehearsed, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return any(not o.ok for o in self.outcomes) or bool(self.problems)


class Job(Value):
    """One lineage to rehearse, and when its real renewal falls due (the card's DATE)."""

    service: Service
    lineage: Lineage
    due_at: datetime | None


def candidates(cfg: Config, services: tuple[Service, ...]) -> Iterator[tuple[Service, Lineage]]:
    """Managed lineages only: a monitor-only certificate is renewed by someone else."""
    for svc in services:
        if svc.enabled:
            yield from ((svc, lineage) for lineage in svc.lineages)


def rehearse_all(
    cfg: Config,
    services: tuple[Service, ...],
    state: State,
    clock: Callable[[], datetime],
    *,
    scheduled: bool,
    send: Send | None,
) -> Rehearsals:
    """One rehearsal per lineage at most, for each that exists on disk (and, when
    `scheduled`, is due by the schedule). One lineage's trouble never stops the others."""
    outcomes: list[Rehearsed] = []
    problems: list[str] = []
    for svc, lineage in candidates(cfg, services):
        disk, error = certbot.read_disk(cfg, lineage.cert_name)
        if disk is None or error is not None:
            continue  # nothing to renew yet, or a disk problem check reports on its own
        rec = state.cert(lineage.cert_name)
        due_at = _next_renewal(svc, disk, rec, clock())
        last = rec.rehearsal.at if rec.rehearsal else None
        if scheduled and not policy.rehearsal_due(last, due_at, cfg.rehearsal.every_days, clock()):
            continue
        outcome, problem = rehearse_one(cfg, Job(svc, lineage, due_at), rec, clock(), send)
        outcomes.append(outcome)
        if problem:
            problems.append(problem)
    return Rehearsals(tuple(outcomes), tuple(problems))


def _next_renewal(svc: Service, disk: CertInfo, rec: CertRecord, now: datetime) -> datetime:
    return policy.next_renewal(disk, svc.renewal_days, ari.window_for(rec.ari, disk), now)


def rehearse_one(
    cfg: Config, job: Job, rec: CertRecord, at: datetime, send: Send | None
) -> tuple[Rehearsed, str | None]:
    """Run the dry run, record it, and send the WARNING card it is owed (once per cause)."""
    svc, lineage, server = job.service, job.lineage, cfg.rehearsal.server
    result = certbot.run(cfg, certbot.rehearse_argv(cfg, svc, lineage, server))
    output = result.output_tail()
    reason = None if result.ok else _reason(result, output)
    cause = policy.rehearsal_cause(reason or "")
    before = rec.rehearsal.warned_cause if rec.rehearsal else None
    card, warned = policy.rehearsal_card(result.ok, cause, before)
    get_logger(command="rehearse").info(
        "rehearsal.done", cert=lineage.cert_name, ok=result.ok, reason=reason, server=server
    )
    problem = None
    if card:
        event = RehearsalFailed(
            lineage.cert_name,
            lineage.domains,
            at,
            svc.name,
            job.due_at,
            reason or "",
            output,
            server,
            new_nonce(),
        )
        problem = _tell(event, send)
        if problem:
            warned = before  # not spooled: owed again next time
    rec.rehearsal = Rehearsal(at, result.ok, reason, warned)
    return Rehearsed(lineage.cert_name, result.ok, reason, card and problem is None), problem


def _reason(result: proc.Result, output: str) -> str:
    """The CA's own reason when certbot printed one, else how it ended and its last words."""
    if result.timed_out:
        return f"certbot did not finish within {result.timeout:g}s and was killed"
    cause = failure_cause(output)
    if cause:
        return cause
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return f"certbot {result.ending()}" + (f": {lines[-1][:200]}" if lines else "")


def _tell(event: RehearsalFailed, send: Send | None) -> str | None:
    if send is not None:
        return send(event)
    get_logger(command="check", mode="shadow").info(
        "shadow.notice_not_sent", cert=event.cert_name, notice="WARNING", reason=event.reason
    )
    return None


__all__ = ["Job", "Rehearsals", "candidates", "rehearse_all", "rehearse_one"]
