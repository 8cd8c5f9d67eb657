"""certbot's deploy hook: what happens when certbot itself renewed a certificate.

When certkeeper's own `check` ran certbot, the check run deploys and verifies,
so the hook only steps aside. When certbot renewed on its own (its timer, or a
person running `certbot renew`), the hook does the deploy, verifies it and tells
the team: a renewal that nobody reloaded is the most common way to serve an
expired certificate.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from certkeeper import atomic, certbot, deploy, names, policy
from certkeeper.config import Config
from certkeeper.errors import HookRefused
from certkeeper.notify.events import Event, Renewed, new_nonce
from certkeeper.survey import probe_domains, read_disk
from certkeeper.x509info import CertInfo, read_file

HOOK_NAME = "certkeeper.sh"


@dataclass
class HookResult:
    cert_name: str | None
    message: str
    event: Event | None = None


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


def previous_cert(live: Path) -> CertInfo | None:
    """The certificate this renewal replaced: certN-1.pem beside the one live/cert.pem names."""
    try:
        current = (live / "cert.pem").resolve()
    except OSError:
        return None
    match = re.fullmatch(r"cert(\d+)\.pem", current.name)
    if not match or int(match.group(1)) <= 1:
        return None
    try:
        return read_file(current.with_name(f"cert{int(match.group(1)) - 1}.pem"))
    except (OSError, ValueError):
        return None


def run(cfg: Config, renewed_lineage: str | None, now: datetime) -> HookResult:
    cert_name = lineage_name(cfg, renewed_lineage)
    if os.environ.get(certbot.PARENT_ENV):
        return HookResult(
            cert_name,
            f"{cert_name}: certkeeper check (pid "
            f"{os.environ[certbot.PARENT_ENV]}) deploys and verifies this renewal",
        )
    svc = cfg.service_of(cert_name)
    lineage = next(
        (lin for s in cfg.services for lin in s.lineages if lin.cert_name == cert_name), None
    )
    if svc is None or lineage is None:
        return HookResult(
            cert_name, f"{cert_name}: not configured in {cfg.services_dir}; nothing to do"
        )
    disk, error = read_disk(cfg, cert_name)
    previous = previous_cert(Path(renewed_lineage or ""))
    outcome = deploy.deploy(cfg, cert_name)
    step, output = outcome.step, outcome.output
    if outcome.ok:
        if disk is None:
            step, output = "verification", error or "no certificate on disk"
        else:
            problems = deploy.verify_served(cfg, lineage.domains, disk.serial)
            if problems:
                step, output = "post-reload probe", "\n".join(problems)
    if step is not None:
        from certkeeper.check import failure

        # "Current expiry" is what clients see: the earliest of what nginx still serves
        # for the names, the certificate this renewal replaced, and the disk.
        served = [r.cert for r in probe_domains(cfg, list(lineage.domains)) if r.covered]
        current = policy.earliest(previous, *served) or disk
        event: Event = failure(
            cfg,
            lineage,
            now,
            current.not_after if current else None,
            step,
            output,
            ("certbot renewed this certificate on its own; the deploy hook failed",),
            nonce=new_nonce(),
        )
        return HookResult(cert_name, f"{cert_name}: {step} failed", event)
    assert disk is not None
    event = Renewed(
        cert_name=cert_name,
        domains=lineage.domains,
        at=now,
        previous_expiry=previous.not_after if previous else None,
        new_expiry=disk.not_after,
        new_not_before=disk.not_before,
        notes=("renewed by certbot on its own; deployed by the certkeeper deploy hook",),
        nonce=new_nonce(),
    )
    return HookResult(cert_name, f"{cert_name}: deployed and verified", event)


def script_text(certkeeper_argv: list[str]) -> str:
    import shlex

    command = " ".join(shlex.quote(arg) for arg in certkeeper_argv)
    return (
        "#!/bin/sh\n"
        "# Written by `certkeeper install-hook` (and shipped by the certkeeper package).\n"
        "# certbot runs this after each renewal it makes; certkeeper makes the nginx\n"
        "# symlinks, runs nginx -t, reloads, verifies and notifies.\n"
        "# Logs: journalctl -t certbot-deploy -n 50\n"
        f"exec {command} deploy-hook\n"
    )


def install(cfg: Config, certkeeper_argv: list[str]) -> tuple[Path, bool]:
    """Write the hook script; returns (path, changed). Idempotent."""
    folder = cfg.certbot.config_dir / "renewal-hooks" / "deploy"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / HOOK_NAME
    text = script_text(certkeeper_argv).encode()
    try:
        unchanged = path.read_bytes() == text and os.access(path, os.X_OK)
    except OSError:
        unchanged = False
    if unchanged:
        return path, False
    atomic.write_bytes(
        path, text, mode=stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
    )
    return path, True
