"""`certkeeper status`: what this host should serve, what it serves, what is on disk.

Read-only: it probes, reads the lineages and the state, and changes nothing; the ARI
windows it shows are the ones the last `check` cached (it never asks the CA).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from certkeeper import policy
from certkeeper.config import Config, Lineage, Service, select

if TYPE_CHECKING:
    from certkeeper.survey import Row
    from certkeeper.x509info import CertInfo


@dataclass
class StatusResult:
    rows: list[Row]
    outbox_waiting: int
    exit_code: int
    # What "served" means in this run (this host's nginx, or DNS), for the reader.
    view: str
    generated_at: datetime
    warnings: list[str] = field(default_factory=list)
    quarantined: int = 0  # unreadable outbox files set aside for a person


def run(cfg: Config, only: str | None, now: datetime) -> StatusResult:
    from certkeeper import state as state_mod
    from certkeeper.notify.outbox import count, quarantined
    from certkeeper.survey import probe_view, survey

    services = select(cfg, only)
    memory = state_mod.load(cfg.state_dir, now, repair=False)
    ari_records = {name: rec.ari for name, rec in memory.certs.items()}
    rows = survey(cfg, services, now, trust=True, ari_records=ari_records)
    return StatusResult(
        rows=rows,
        outbox_waiting=count(cfg.state_dir),
        exit_code=policy.status_exit_code(r.assessment for r in rows),
        warnings=window_warnings((r.service, r.lineage, r.disk or r.probe.cert) for r in rows),
        quarantined=len(quarantined(cfg.state_dir)),
        view=probe_view(cfg),
        generated_at=now,
    )


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
