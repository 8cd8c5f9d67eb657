"""The commands' work, between the CLI (parsing, rendering) and the modules (one job each).

Each function takes a loaded Config and returns values; the CLI prints them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from certkeeper import policy

# check and deploy-hook live in actions/ now; re-exported for code that still says app.X.
from certkeeper.actions.check import (
    CheckResult,
    _flush_outbox,
    _journal,
    _save,
    _undelivered,
    _write_metrics,
    check,
    jitter_seconds,
    trusted_dirs,
    unsent_warning,
)
from certkeeper.actions.deploy_hook import deploy_hook
from certkeeper.config import Config, Lineage, Service, select

if TYPE_CHECKING:
    from certkeeper.survey import Row
    from certkeeper.x509info import CertInfo


__all__ = [
    "CheckResult",
    "_flush_outbox",
    "_journal",
    "_save",
    "_undelivered",
    "_write_metrics",
    "check",
    "deploy_hook",
    "jitter_seconds",
    "trusted_dirs",
    "unsent_warning",
]


def now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------ status


@dataclass
class StatusResult:
    rows: list[Row]
    outbox_waiting: int
    exit_code: int
    warnings: list[str] = field(default_factory=list)
    quarantined: int = 0  # unreadable outbox files set aside for a person


def status(cfg: Config, only: str | None) -> StatusResult:
    from certkeeper import state as state_mod
    from certkeeper.notify.outbox import count, quarantined
    from certkeeper.survey import survey

    services = select(cfg, only)
    # Read-only: status shows the ARI windows the last `check` cached, and never asks the CA.
    memory = state_mod.load(cfg.state_dir, now(), repair=False)
    ari_records = {name: rec.ari for name, rec in memory.certs.items()}
    rows = survey(cfg, services, now(), trust=True, ari_records=ari_records)
    code = policy.status_exit_code(r.assessment for r in rows)
    warnings = window_warnings((r.service, r.lineage, r.disk or r.probe.cert) for r in rows)
    return StatusResult(rows, count(cfg.state_dir), code, warnings, len(quarantined(cfg.state_dir)))


def window_warnings(items: Iterable[tuple[Service, Lineage, CertInfo | None]]) -> list[str]:
    """One warning per certificate whose service's certbot_renewal_days cannot be honoured.

    Only for a service that sets the key itself: the default gives way to the
    lifetime rule silently, a team's explicit choice does not.
    """
    seen: set[str] = set()
    found: list[str] = []
    for svc, lineage, cert in items:
        if cert is None or lineage.cert_name in seen:
            continue
        seen.add(lineage.cert_name)
        if not svc.enabled or not svc.renewal_days_set:
            continue
        text = policy.ignored_window_warning(svc.name, lineage.cert_name, svc.renewal_days, cert)
        if text:
            found.append(text)
    return found


def config_warnings(cfg: Config) -> list[str]:
    """`config validate`'s look at the lineages on disk (none for a lineage not issued yet)."""
    from certkeeper.survey import read_disk

    return window_warnings(
        (svc, lin, read_disk(cfg, lin.cert_name)[0]) for svc in cfg.services for lin in svc.lineages
    )


# ---------------------------------------------------------------------- notify


def notify_flush(cfg: Config) -> CheckResult:
    from certkeeper import state as state_mod
    from certkeeper.lock import host_lock

    trusted_dirs(cfg)
    result = CheckResult()
    with host_lock(cfg.lock_file, cfg.lock_timeout_seconds):
        state = state_mod.load(cfg.state_dir, now())
        _flush_outbox(cfg, state, result)
        state.save(now())
    if not result.lines and not result.problems:
        result.lines.append("the outbox is empty")
    result.exit_code = 1 if result.problems else 0
    return result


def notify_quarantine(cfg: Config) -> list[tuple[str, str]]:
    """(file, why) for each outbox file set aside because it could not be read."""
    from certkeeper.notify.outbox import quarantined

    return [(str(path), why) for path, why in quarantined(cfg.state_dir)]


def notify_outbox(cfg: Config) -> list[tuple[str, str, str | None]]:
    """(event id, subject, last delivery error) for each waiting notice."""
    from certkeeper import state as state_mod
    from certkeeper.notify import outbox

    trusted_dirs(cfg)
    state = state_mod.load(cfg.state_dir, now(), repair=False)
    return [
        (p.event_id, p.subject, state.outbox_errors.get(p.event_id))
        for p in outbox.pending(cfg.state_dir)
    ]


def notify_test(cfg: Config) -> tuple[bool, list[str]]:
    """Send a test notice straight away (not through the outbox) and show the SMTP exchange."""
    from email.message import EmailMessage
    from email.policy import SMTP
    from email.utils import format_datetime, make_msgid

    from certkeeper.notify import sender
    from certkeeper.notify.smtp import send

    if cfg.notify.to is None:
        return False, [f"{cfg.path}: notify.to is not set: expected the Trello board's address"]
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = f"[TEST] {cfg.hostname} \u2013 certkeeper notification test"
    msg["From"] = sender(cfg)
    msg["To"] = cfg.notify.to
    msg["Date"] = format_datetime(now())
    msg["Message-ID"] = make_msgid(domain=f"{cfg.hostname}.certkeeper")
    msg.set_content(
        f"This is a test notice from certkeeper on {cfg.hostname}.\n"
        "If it arrived as a card on the board, notices work.\n",
        charset="utf-8",
        cte="quoted-printable",
    )
    outcome = send(cfg.notify.smtp, msg.as_bytes(), sender(cfg), [cfg.notify.to])
    return outcome.ok, outcome.transcript
