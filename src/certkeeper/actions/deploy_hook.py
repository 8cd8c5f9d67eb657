"""`certkeeper deploy-hook`: what happens when certbot itself renewed a certificate.

When certkeeper's own `check` ran certbot, the check run deploys and verifies,
so the hook only steps aside. When certbot renewed on its own (its timer, or a
person running `certbot renew`), the hook does the deploy, verifies it and tells
the team: a renewal that nobody reloaded is the most common way to serve an
expired certificate.
"""

from __future__ import annotations

import functools
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from certkeeper import certbot, deploy, names, policy
from certkeeper.config import Config
from certkeeper.errors import HookRefused
from certkeeper.log import get_logger
from certkeeper.notify.events import Event, Failed, Renewed, new_nonce
from certkeeper.survey import probe_domains
from certkeeper.times import now
from certkeeper.value import Record, field
from certkeeper.x509info import CertInfo

if TYPE_CHECKING:
    from certkeeper.state import State


class HookResult(Record):
    message: str
    event: Event | None = None
    # (event id, the server's reason, permanent) for a notice the server did not take.
    undelivered: list[tuple[str, str, bool]] = field(default_factory=list)
    # The notice could not even be written to the outbox: nobody will hear of this.
    lost: bool = False
    # The serial a SUCCESS told: recorded so that `check` never tells this renewal again.
    serial: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if isinstance(self.event, Failed) or self.lost else 0


def lineage_name(cfg: Config, renewed_lineage: str | None) -> str:
    """The cert_name certbot renewed, from RENEWED_LINEAGE, which must be exactly
    <certbot.config_dir>/live/<name> and exist: the hook reloads nginx and sends notices,
    so an environment pointing anywhere else is refused, not trusted by its basename."""
    if not renewed_lineage:
        raise HookRefused("RENEWED_LINEAGE is not set: this command is meant to be run by certbot")
    path = Path(renewed_lineage)
    shown = repr(renewed_lineage[:200])
    try:
        name = names.path_component(path.name)
    except ValueError as exc:
        raise HookRefused(f"RENEWED_LINEAGE = {shown}: expected {exc}") from None
    expected = cfg.certbot.config_dir / "live" / name
    try:
        same = path.is_absolute() and path.resolve(strict=True) == expected.resolve(strict=True)
    except (OSError, RuntimeError):
        same = False
    if not same:
        raise HookRefused(
            f"RENEWED_LINEAGE = {shown}: expected the existing lineage directory {expected}; "
            "nothing was reloaded or sent"
        )
    return name


def deploy_renewal(cfg: Config, renewed_lineage: str | None, at: datetime) -> HookResult:
    """Deploy and verify the lineage certbot renewed; the event to tell, if any."""
    cert_name = lineage_name(cfg, renewed_lineage)
    if os.environ.get(certbot.PARENT_ENV):
        return HookResult(
            f"{cert_name}: certkeeper check (pid "
            f"{os.environ[certbot.PARENT_ENV]}) deploys and verifies this renewal"
        )
    lineage = next(
        (lin for s in cfg.services for lin in s.lineages if lin.cert_name == cert_name), None
    )
    if cfg.service_of(cert_name) is None or lineage is None:
        return HookResult(f"{cert_name}: not configured in {cfg.services_dir}; nothing to do")
    disk, error = certbot.read_disk(cfg, cert_name)
    previous = certbot.previous_cert(Path(renewed_lineage or ""))
    nonce = new_nonce()
    note = "certbot renewed this certificate on its own; the deploy hook failed"
    attempt = deploy.Attempt(lineage, at, nonce, (note,))

    def renewed(cert: CertInfo, _not_served: tuple[str, ...]) -> Event:
        return Renewed(
            cert_name=cert_name,
            domains=lineage.domains,
            at=at,
            previous_expiry=previous.not_after if previous else None,
            new_expiry=cert.not_after,
            new_not_before=cert.not_before,
            notes=("renewed by certbot on its own; deployed by the certkeeper deploy hook",),
            nonce=nonce,
        )

    probe = functools.partial(probe_domains, cfg)
    event = deploy.deploy_and_verify(
        cfg, attempt, disk, renewed, probe=probe, unreadable=error or "no certificate on disk"
    )
    if not isinstance(event, Failed):
        return HookResult(
            f"{cert_name}: deployed and verified", event, serial=disk.serial_hex if disk else None
        )
    # "Current expiry" is what clients see: the earliest of what nginx still serves
    # for the names, the certificate this renewal replaced, and the disk.
    served = [r.cert for r in probe(list(lineage.domains)) if r.covered]
    current = policy.earliest(previous, *served) or disk
    event = event.replace(current_expiry=current.not_after if current else None)
    return HookResult(f"{cert_name}: {event.step} failed", event)


def already_told(cfg: Config, state: State, renewed_lineage: str | None) -> str | None:
    """Why the hook steps aside: a `check` that ran while this hook waited for the lock
    already deployed, verified and told this very certificate (one renewal, one story)."""
    cert_name = lineage_name(cfg, renewed_lineage)
    rec = state.certs.get(cert_name)
    disk, _ = certbot.read_disk(cfg, cert_name)
    if rec is None or disk is None or rec.told_serial != disk.serial_hex:
        return None
    return (
        f"{cert_name}: certkeeper check already deployed, verified and told this renewal "
        f"(serial {disk.serial_hex}); nothing to do"
    )


def deploy_hook(cfg: Config, renewed_lineage: str | None) -> HookResult:
    """The command. Under the host lock unless `check` runs it."""
    from certkeeper import state as state_mod
    from certkeeper.lock import host_lock
    from certkeeper.notify import deliver, spool
    from certkeeper.trust import require_private_state

    log = get_logger(command="deploy-hook")
    if cfg.shadow:
        # Installing certkeeper beside the old hooks must not add a second reload and a
        # second card to each renewal they deploy. RENEWED_LINEAGE is not even read.
        message = f"shadow: the deploy hook did nothing (mode: shadow in {cfg.path})"
        log.info("deploy_hook.shadow", message=message)
        return HookResult(message)
    require_private_state(cfg)
    if os.environ.get(certbot.PARENT_ENV):
        # The check run that started certbot holds the lock and does the deploy itself.
        outcome = deploy_renewal(cfg, renewed_lineage, now())
        log.info("deploy_hook.skipped", message=outcome.message)
        # check tells this story itself, so the hook says what it saw and succeeds.
        return HookResult(outcome.message)
    with host_lock(cfg.lock_file, cfg.lock_timeout_seconds, "deploy-hook"):
        state = state_mod.load(cfg.state_dir, now())
        told = already_told(cfg, state, renewed_lineage)
        if told is not None:
            log.info("deploy_hook.already_told", message=told)
            return HookResult(told)
        outcome = deploy_renewal(cfg, renewed_lineage, now())
        log.info("deploy_hook", message=outcome.message)
        if outcome.event is None:
            return outcome
        if outcome.serial is not None:
            state.cert(lineage_name(cfg, renewed_lineage)).told_serial = outcome.serial
        # The same path as check: the notice to the outbox, then the whole outbox out.
        lost = spool(cfg, outcome.event)
        delivery = deliver(cfg, state, now())
        state.save(now())
        if isinstance(outcome.event, Failed):
            log.error("deploy_hook.failed", message=outcome.event.output)
        if lost or delivery.broken:
            outcome = outcome.replace(message=f"{outcome.message}; {lost or delivery.broken}")
        return outcome.replace(undelivered=delivery.undelivered, lost=bool(lost))
